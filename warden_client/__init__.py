"""Client side of Warden's AccessKey-signed REST API; Python's standard library only.

    from warden_client import WardenClient, sign_request

    warden = WardenClient("http://127.0.0.1:8000", key_id, secret)
    me = warden.get("/api/v1/me")

    # or sign requests sent with any HTTP library:
    headers = sign_request("GET", "http://127.0.0.1:8000/api/v1/projects/?page=2",
                           key_id=key_id, secret=secret)

See warden_client.signing for the exact string that is signed.
"""

from warden_client.client import WardenClient, WardenError
from warden_client.signing import sign_request, string_to_sign

__all__ = ["WardenClient", "WardenError", "sign_request", "string_to_sign"]
