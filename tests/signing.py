"""Test clients that sign every request with an AccessKey, as a REST client would.

    client = signed_client_for(user)           # makes (or reuses) an AccessKey of user's
    client.get("/api/v1/me").data["username"]
    client.post("/api/v1/access-keys", {"description": "x"}, format="json")

SignedClient is DRF's APIClient (so ``format=``, ``response.data`` and ``.json()`` work as
usual); it signs the exact bytes it sends, and never uses a session or force_authenticate.
"""

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.utils.encoding import force_bytes
from rest_framework.test import APIClient

from warden_client import sign_request


class SignedClient(APIClient):
    def __init__(self, key_id: str, secret: str, **defaults):
        super().__init__(**defaults)
        self.key_id = key_id
        self.secret = secret

    def generic(self, method, path, data="", content_type="application/octet-stream", secure=False, **extra):
        parts = urlsplit(str(path))
        if extra.get("query_params"):
            extra["QUERY_STRING"] = urlencode(extra.pop("query_params"), doseq=True)
        query = extra.get("QUERY_STRING") or parts.query
        body = force_bytes(data or b"", settings.DEFAULT_CHARSET)
        url = parts.path + (f"?{query}" if query else "")
        headers = sign_request(method, url, body, key_id=self.key_id, secret=self.secret)
        for name, value in headers.items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        return super().generic(method, path, data=body, content_type=content_type, secure=secure, **extra)


def signed_client_for(user):
    """A SignedClient for ``user`` (an anonymous APIClient for None).

    Reuses the user's first active AccessKey (the test server can decrypt its secret) so
    asking several times does not run into AccessKey.MAX_PER_USER.
    """
    if user is None:
        return APIClient()
    from apps.accounts import services
    from apps.accounts.authentication import ACCESS_KEY_PURPOSE
    from apps.accounts.models import AccessKey, AccessKeyStatus
    from apps.core import crypto

    existing = AccessKey.objects.filter(user=user, status=AccessKeyStatus.ACTIVE).order_by("created_at").first()
    if existing is not None:
        secret = crypto.decrypt(existing.secret_encrypted, purpose=ACCESS_KEY_PURPOSE).decode()
        return SignedClient(existing.key_id, secret)
    access_key, secret = services.access_key_create(actor=user, description="test client")
    return SignedClient(access_key.key_id, secret)
