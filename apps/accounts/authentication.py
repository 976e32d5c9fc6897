"""How REST requests authenticate: the browser's session, or an AccessKey signature.

The signature scheme is defined once, in ``warden_client.signing``, which clients import;
this module recomputes it on the server and refuses anything that does not match.
"""

import hmac
import logging
import re
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone as django_timezone
from rest_framework import authentication, exceptions, status

from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.core import crypto
from warden_client import signing

logger = logging.getLogger(__name__)

ACCESS_KEY_PURPOSE = "access_key"
# last_used_at is a hint for people, not an audit record: write it at most once a minute per
# key, so a busy client does not turn every read into a row update.
LAST_USED_RESOLUTION = timedelta(seconds=60)

_AUTHORIZATION = re.compile(r"^WARDEN ([A-Za-z0-9]{8,32}):([A-Za-z0-9+/]{43}=)$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_SIGNED_HEADERS = ("HTTP_X_WARDEN_DATE", "HTTP_X_WARDEN_NONCE", "HTTP_X_WARDEN_CONTENT_SHA256")


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The request body is too large."


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with CSRF checks as DRF does them."""


def _fail(reason: str):
    return exceptions.AuthenticationFailed(reason)


def _parse_date(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or moment.utcoffset() != timedelta(0) or "T" not in value:
        raise _fail(f"{signing.DATE_HEADER} must be a UTC time in RFC 3339 form, e.g. 2026-11-23T20:00:00Z.")
    return moment


class SignatureAuthentication(authentication.BaseAuthentication):
    """Requests signed with an AccessKey (see warden_client.signing).

    A request takes part as soon as it carries ``Authorization: WARDEN ...`` or any
    ``X-Warden-*`` signing header; from then on every check must pass or the answer is 401
    with the reason (413 for a body over WARDEN_MAX_BODY_BYTES). Requests with neither are
    left to session authentication.

    Unknown and disabled keys get the same answer, so key ids cannot be probed for
    existence. The nonce is remembered only once the signature has been verified, so nobody
    without the secret can use up someone else's nonces.
    """

    def authenticate_header(self, request):
        return signing.SCHEME

    def authenticate(self, request):
        meta = request.META
        authorization = meta.get("HTTP_AUTHORIZATION", "")
        signed = authorization.startswith(signing.SCHEME + " ") or any(h in meta for h in _SIGNED_HEADERS)
        if not signed:
            return None

        match = _AUTHORIZATION.match(authorization)
        if not match:
            raise _fail("Malformed Authorization header; expected 'WARDEN <AccessKeyId>:<base64 HMAC-SHA256>'.")
        key_id, claimed_signature = match.groups()
        date = meta.get("HTTP_X_WARDEN_DATE", "")
        nonce = meta.get("HTTP_X_WARDEN_NONCE", "")
        content_sha256 = meta.get("HTTP_X_WARDEN_CONTENT_SHA256", "")
        for header, value in (
            (signing.DATE_HEADER, date), (signing.NONCE_HEADER, nonce), (signing.CONTENT_SHA256_HEADER, content_sha256)
        ):
            if not value:
                raise _fail(f"Missing {header} header.")
        if not _NONCE.match(nonce):
            raise _fail(f"{signing.NONCE_HEADER} must be 16 to 128 characters of letters, digits, '-' or '_'.")
        if not _SHA256_HEX.match(content_sha256):
            raise _fail(f"{signing.CONTENT_SHA256_HEADER} must be the lowercase hex SHA-256 of the body.")

        skew = abs((datetime.now(timezone.utc) - _parse_date(date)).total_seconds())
        max_skew = settings.WARDEN_SIGNATURE_MAX_SKEW_SECONDS
        if skew > max_skew:
            raise _fail(f"{signing.DATE_HEADER} is {int(skew)} seconds away from the server's clock "
                        f"(at most {max_skew} allowed).")

        body = self._body(request)

        access_key = AccessKey.objects.select_related("user").filter(key_id=key_id).first()
        if access_key is None or access_key.status != AccessKeyStatus.ACTIVE:
            raise _fail("Unknown or disabled AccessKey.")
        try:
            secret = crypto.decrypt(access_key.secret_encrypted, purpose=ACCESS_KEY_PURPOSE).decode()
        except crypto.DecryptionError:
            # The master key changed since the key was made: the secret is gone for good.
            logger.error("AccessKey %s cannot be decrypted under the current WARDEN_MASTER_KEY", key_id)
            raise _fail("This AccessKey can no longer be verified; create a new one.")
        message = signing.string_to_sign(
            request.method, signing.encode_path(request._request.path), meta.get("QUERY_STRING", ""), date, nonce,
            content_sha256,
        )
        if not hmac.compare_digest(signing.signature(secret, message), claimed_signature):
            raise _fail("Signature does not match; compute it over the string to sign described in "
                        "warden_client.signing.")
        if not hmac.compare_digest(signing.body_sha256(body), content_sha256):
            raise _fail(f"{signing.CONTENT_SHA256_HEADER} does not match the request body.")
        if not access_key.user.is_active:
            raise _fail("The account this AccessKey belongs to is disabled.")
        if not cache.add(f"signing-nonce:{key_id}:{nonce}", 1, timeout=settings.WARDEN_NONCE_TTL_SECONDS):
            raise _fail(f"{signing.NONCE_HEADER} has been used before; every request needs a new one.")

        self._touch(access_key)
        request._request.warden_channel = "api"
        request._request.warden_access_key = access_key
        return access_key.user, access_key

    @staticmethod
    def _body(request) -> bytes:
        limit = settings.WARDEN_MAX_BODY_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise _fail("Malformed Content-Length header.")
        if declared > limit:
            raise PayloadTooLarge(f"The request body is {declared} bytes; at most {limit} are accepted.")
        # Read it now, from the underlying Django request: it is cached there, so the parsers
        # that run after authentication see the same bytes.
        body = request._request.body
        if len(body) > limit:
            raise PayloadTooLarge(f"The request body is {len(body)} bytes; at most {limit} are accepted.")
        return body

    @staticmethod
    def _touch(access_key: AccessKey) -> None:
        now = django_timezone.now()
        if access_key.last_used_at is None or now - access_key.last_used_at >= LAST_USED_RESOLUTION:
            AccessKey.objects.filter(pk=access_key.pk).update(last_used_at=now)
            access_key.last_used_at = now
