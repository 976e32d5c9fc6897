"""AccessKey request signing, shared by clients and by the Warden server (stdlib only).

A signed request carries four headers::

    X-Warden-Date:           2026-11-23T20:00:00Z          (UTC, RFC 3339)
    X-Warden-Nonce:          a random string, used once
    X-Warden-Content-SHA256: hex SHA-256 of the exact body bytes (of b"" when there is none)
    Authorization:           WARDEN <AccessKeyId>:<base64 HMAC-SHA256(secret, string_to_sign)>

``string_to_sign`` is these six lines joined by "\\n" (no trailing newline)::

    GET                                   method, upper case
    /api/v1/projects/                     path, percent-decoded then RFC 3986-encoded
    page=2&search=wonder%20land           canonical query string (see below)
    2026-11-23T20:00:00Z                  the X-Warden-Date value
    8f4c...                               the X-Warden-Nonce value
    e3b0c442...                           the X-Warden-Content-SHA256 value

The canonical query string decodes the query (``+`` and ``%20`` both mean a space),
percent-encodes every key and value per RFC 3986 (only ``A-Z a-z 0-9 - . _ ~`` stay as they
are), sorts the pairs by key then value, and joins them as ``k=v`` with ``&``. Signing::

    >>> from warden_client import sign_request
    >>> headers = sign_request("POST", "https://warden.example/api/v1/access-keys",
    ...                        body=b'{"description": "ci"}', key_id="WK...", secret="...")
    >>> sorted(headers)
    ['Authorization', 'X-Warden-Content-SHA256', 'X-Warden-Date', 'X-Warden-Nonce']

Send the body bytes exactly as signed, with those four headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote, unquote, urlsplit

SCHEME = "WARDEN"
DATE_HEADER = "X-Warden-Date"
NONCE_HEADER = "X-Warden-Nonce"
CONTENT_SHA256_HEADER = "X-Warden-Content-SHA256"
AUTHORIZATION_HEADER = "Authorization"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _encode(value: str) -> str:
    return quote(value, safe="~")


def encode_path(decoded_path: str) -> str:
    """RFC 3986-encode a decoded path (what a server sees after URL decoding)."""
    return quote(decoded_path or "/", safe="/~")


def canonical_path(path: str) -> str:
    """The path as sent (percent-encoded or not), decoded once and re-encoded the one RFC 3986
    way; servers, which only see the decoded path, pass ``encode_path(decoded)``."""
    return encode_path(unquote(path or "/"))


def canonical_query_string(query: str) -> str:
    pairs = parse_qsl(query or "", keep_blank_values=True)
    return "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in pairs))


def body_sha256(body: bytes | str | None) -> str:
    if body is None:
        body = b""
    if isinstance(body, str):
        body = body.encode()
    return hashlib.sha256(body).hexdigest()


def format_date(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("the signing date must be timezone-aware")
    return moment.astimezone(timezone.utc).strftime(DATE_FORMAT)


def new_nonce() -> str:
    return secrets.token_hex(16)


def string_to_sign(method: str, path: str, query: str, date: str, nonce: str, content_sha256: str) -> str:
    return "\n".join(
        [method.upper(), canonical_path(path), canonical_query_string(query), date, nonce, content_sha256]
    )


def signature(secret: str, message: str) -> str:
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign_request(method: str, url: str, body: bytes | str | None = b"", *, key_id: str, secret: str,
                 date: datetime | str | None = None, nonce: str | None = None) -> dict[str, str]:
    """The headers that sign one request.

    ``url`` is a full URL or a path, with its query string if any. ``date`` and ``nonce``
    default to now and a fresh random value; pass them only to reproduce a signature.
    """
    parts = urlsplit(url)
    date_value = date if isinstance(date, str) else format_date(date)
    nonce_value = nonce or new_nonce()
    content_sha256 = body_sha256(body)
    message = string_to_sign(method, parts.path, parts.query, date_value, nonce_value, content_sha256)
    return {
        DATE_HEADER: date_value,
        NONCE_HEADER: nonce_value,
        CONTENT_SHA256_HEADER: content_sha256,
        AUTHORIZATION_HEADER: f"{SCHEME} {key_id}:{signature(secret, message)}",
    }
