"""A small JSON client for Warden's REST API that signs every request (stdlib only).

    >>> from warden_client import WardenClient
    >>> warden = WardenClient("http://127.0.0.1:8000", key_id="WK...", secret="...")
    >>> warden.get("/api/v1/me")["username"]
    'alice'
    >>> key = warden.post("/api/v1/access-keys", {"description": "nightly export"})
    >>> warden.post(f"/api/v1/access-keys/{key['key_id']}/disable")["status"]
    'disabled'
    >>> warden.get("/api/v1/projects/", params={"search": "wonder"})["results"]
    [...]

``WardenClient.from_env()`` reads WARDEN_URL, WARDEN_ACCESS_KEY_ID and
WARDEN_ACCESS_KEY_SECRET (what ``manage.py create_access_key`` prints). An answer of 400 or
more raises WardenError with the status and Warden's ``{"error": {...}}`` body.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from urllib.parse import urlencode, urljoin

from warden_client.signing import sign_request


class WardenError(Exception):
    def __init__(self, status: int, body):
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else str(body)[:500]
        super().__init__(f"HTTP {status}: {message}")


class WardenClient:
    def __init__(self, base_url: str, key_id: str, secret: str, *, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/") + "/"
        self.key_id = key_id
        self.secret = secret
        self.timeout = timeout

    @classmethod
    def from_env(cls, **kwargs) -> WardenClient:
        return cls(
            os.environ.get("WARDEN_URL", "http://127.0.0.1:8000"),
            os.environ["WARDEN_ACCESS_KEY_ID"],
            os.environ["WARDEN_ACCESS_KEY_SECRET"],
            **kwargs,
        )

    def url_for(self, path: str, params: dict | None = None) -> str:
        url = urljoin(self.base_url, path.lstrip("/"))
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        return url

    def request(self, method: str, path: str, *, params: dict | None = None, json_body=None):
        """Send one signed request; return the parsed JSON answer (None when it is empty)."""
        method = method.upper()
        url = self.url_for(path, params)
        body = b"" if json_body is None else json.dumps(json_body).encode()
        headers = sign_request(method, url, body, key_id=self.key_id, secret=self.secret)
        headers["Accept"] = "application/json"
        if json_body is not None:
            headers["Content-Type"] = "application/json"
        status, payload = self.send(method, url, headers, body)
        parsed = json.loads(payload) if payload.strip() else None
        if status >= 400:
            raise WardenError(status, parsed)
        return parsed

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """The transport: one HTTP exchange, returning (status, body bytes)."""
        http_request = urllib.request.Request(url, data=body or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get(self, path: str, params: dict | None = None):
        return self.request("GET", path, params=params)

    def post(self, path: str, json_body=None, params: dict | None = None):
        return self.request("POST", path, params=params, json_body=json_body)

    def put(self, path: str, json_body=None, params: dict | None = None):
        return self.request("PUT", path, params=params, json_body=json_body)

    def patch(self, path: str, json_body=None, params: dict | None = None):
        return self.request("PATCH", path, params=params, json_body=json_body)

    def delete(self, path: str, params: dict | None = None):
        return self.request("DELETE", path, params=params)
