"""How the OpenAPI schema describes AccessKey signing (imported by AccountsConfig.ready)."""

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SignatureAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.SignatureAuthentication"
    name = "accessKeySignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`WARDEN <AccessKeyId>:<base64 HMAC-SHA256(secret, string_to_sign)>` together with the "
                "headers X-Warden-Date (UTC, RFC 3339), X-Warden-Nonce (random, single use) and "
                "X-Warden-Content-SHA256 (hex SHA-256 of the body). string_to_sign is the method, path, "
                "canonical query string, date, nonce and body hash joined by newlines; "
                "`from warden_client import sign_request` computes all of it."
            ),
        }


class WardenSessionScheme(SessionScheme):
    """Our SessionAuthentication subclass is the browser's session cookie, as DRF's is."""

    target_class = "apps.accounts.authentication.SessionAuthentication"
