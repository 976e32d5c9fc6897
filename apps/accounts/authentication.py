from rest_framework import authentication


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with CSRF checks as DRF does them."""


class SignatureAuthentication(authentication.BaseAuthentication):
    """AccessKey-signed requests (to be completed)."""

    def authenticate(self, request):
        return None
