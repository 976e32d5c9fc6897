"""AccessKey-signed requests against real endpoints: every way to be refused, and success."""

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import timezone as django_timezone
from rest_framework.test import APIClient

from apps.accounts import services
from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.audit.models import Event
from apps.tenancy import services as tenancy_services
from tests.factories import make_owner, make_subaccount
from tests.signing import SignedClient, signed_client_for
from warden_client import sign_request

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def _headers(signed: dict) -> dict:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in signed.items()}


@pytest.fixture
def owner():
    return make_owner()


@pytest.fixture
def key(owner):
    access_key, secret = services.access_key_create(actor=owner, description="tests")
    return access_key, secret


def _send(method, path, body=b"", *, key, content_type="application/json", tamper=None, **sign_kwargs):
    access_key, secret = key
    headers = sign_request(method, path, body, key_id=access_key.key_id, secret=secret, **sign_kwargs)
    if tamper:
        tamper(headers)
    client = APIClient()
    return client.generic(method, path, body, content_type=content_type, **_headers(headers))


def _reason(response) -> str:
    return response.json()["error"]["message"]


def test_signed_get_me_succeeds_and_says_who(owner, key):
    response = _send("GET", ME, key=key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == owner.username
    assert body["tenant"] == owner.tenant.name
    assert body["is_primary"] is True
    assert body["principal_name"] == f"ALIYUN${owner.username}"
    assert body["access_key"] == key[0].key_id


def test_signed_post_creates_a_key_and_is_audited_on_the_api_channel(owner):
    client = signed_client_for(owner)
    response = client.post("/api/v1/access-keys", {"description": "ci"}, format="json")
    assert response.status_code == 201, response.content
    assert response.data["description"] == "ci" and len(response.data["secret"]) >= 40
    event = Event.objects.get(action="access_key.create", target_repr=response.data["key_id"])
    assert event.channel == "api" and event.actor_id == owner.pk
    assert response.data["secret"] not in str(event.details)


def test_signed_get_with_query_string_in_any_order(owner, key):
    response = _send("GET", "/api/v1/access-keys?status=active&ordering=created_at", key=key)
    assert response.status_code == 200, response.content
    assert [k["key_id"] for k in response.json()["results"]] == [key[0].key_id]


def test_unsigned_request_is_401_with_the_warden_challenge():
    response = APIClient().get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "WARDEN"
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "tamper, reason",
    [
        (lambda h: h.update(Authorization="WARDEN nocolon"), "Malformed Authorization header"),
        (lambda h: h.update(Authorization=h["Authorization"].replace("WARDEN ", "WARDEN  ")), "Malformed"),
        (lambda h: h.pop("Authorization"), "Malformed Authorization header"),
        (lambda h: h.pop("X-Warden-Date"), "Missing X-Warden-Date header"),
        (lambda h: h.pop("X-Warden-Nonce"), "Missing X-Warden-Nonce header"),
        (lambda h: h.pop("X-Warden-Content-SHA256"), "Missing X-Warden-Content-SHA256 header"),
        (lambda h: h.update({"X-Warden-Nonce": "short"}), "X-Warden-Nonce must be"),
        (lambda h: h.update({"X-Warden-Content-SHA256": "xyz"}), "X-Warden-Content-SHA256 must be"),
        (lambda h: h.update({"X-Warden-Date": "yesterday"}), "X-Warden-Date must be a UTC time"),
        (lambda h: h.update({"X-Warden-Date": "2026-11-23T20:00:00+01:00"}), "X-Warden-Date must be a UTC time"),
    ],
    ids=["no-colon", "double-space", "no-authorization", "no-date", "no-nonce", "no-hash", "bad-nonce",
         "bad-hash", "bad-date", "non-utc-date"],
)
def test_malformed_headers_are_401_with_a_reason(key, tamper, reason):
    response = _send("GET", ME, key=key, tamper=tamper)
    assert response.status_code == 401
    assert reason in _reason(response)


def test_unknown_key_is_401(key):
    access_key, secret = key
    response = _send("GET", ME, key=(AccessKey(key_id="WKDOESNOTEXIST0000000"), secret))
    assert response.status_code == 401
    assert _reason(response) == "Unknown or disabled AccessKey."


def test_disabled_key_is_401_until_enabled_again(owner, key):
    access_key, _ = key
    services.access_key_set_status(actor=owner, access_key=access_key, status=AccessKeyStatus.DISABLED)
    response = _send("GET", ME, key=key)
    assert response.status_code == 401
    assert _reason(response) == "Unknown or disabled AccessKey."
    services.access_key_set_status(actor=owner, access_key=access_key, status=AccessKeyStatus.ACTIVE)
    assert _send("GET", ME, key=key).status_code == 200


def test_wrong_secret_is_a_bad_signature(key):
    access_key, secret = key
    response = _send("GET", ME, key=(access_key, secret + "x"))
    assert response.status_code == 401
    assert "Signature does not match" in _reason(response)


@pytest.mark.parametrize(
    "signed_path, sent_path",
    [(ME, "/api/v1/me/"), ("/api/v1/access-keys?status=active", "/api/v1/access-keys?status=disabled")],
)
def test_signature_covers_path_and_query(owner, key, signed_path, sent_path):
    access_key, secret = key
    headers = sign_request("GET", signed_path, b"", key_id=access_key.key_id, secret=secret)
    response = APIClient().get(sent_path, **_headers(headers))
    assert response.status_code == 401
    assert "Signature does not match" in _reason(response)


def test_signature_covers_the_method(key):
    access_key, secret = key
    headers = sign_request("GET", "/api/v1/access-keys", b"", key_id=access_key.key_id, secret=secret)
    response = APIClient().post("/api/v1/access-keys", b"", content_type="application/json", **_headers(headers))
    assert response.status_code == 401
    assert not AccessKey.objects.filter(user=access_key.user).exclude(pk=access_key.pk).exists()


def test_replayed_nonce_is_401(key):
    access_key, secret = key
    headers = _headers(sign_request("GET", ME, b"", key_id=access_key.key_id, secret=secret))
    assert APIClient().get(ME, **headers).status_code == 200
    replay = APIClient().get(ME, **headers)
    assert replay.status_code == 401
    assert "has been used before" in _reason(replay)


def test_a_refused_request_does_not_use_up_its_nonce(key):
    access_key, secret = key
    nonce = "f" * 32
    bad = _send("GET", ME, key=(access_key, "wrong-secret"), nonce=nonce)
    assert bad.status_code == 401 and "Signature" in _reason(bad)
    assert _send("GET", ME, key=key, nonce=nonce).status_code == 200


@pytest.mark.parametrize("offset_seconds", [-301, 301, -3600])
def test_date_outside_the_skew_window_is_401(key, offset_seconds):
    response = _send("GET", ME, key=key, date=datetime.now(timezone.utc) + timedelta(seconds=offset_seconds))
    assert response.status_code == 401
    assert "seconds away from the server's clock" in _reason(response)


@pytest.mark.parametrize("offset_seconds", [-290, 290])
def test_date_inside_the_skew_window_is_accepted(key, offset_seconds):
    response = _send("GET", ME, key=key, date=datetime.now(timezone.utc) + timedelta(seconds=offset_seconds))
    assert response.status_code == 200, response.content


def test_body_hash_mismatch_is_401_and_creates_nothing(owner, key):
    access_key, secret = key
    signed_body = b'{"description": "signed"}'
    headers = sign_request("POST", "/api/v1/access-keys", signed_body, key_id=access_key.key_id, secret=secret)
    response = APIClient().generic("POST", "/api/v1/access-keys", b'{"description": "swapped"}',
                                   content_type="application/json", **_headers(headers))
    assert response.status_code == 401
    assert "X-Warden-Content-SHA256 does not match the request body" in _reason(response)
    assert AccessKey.objects.filter(user=owner).count() == 1


def test_oversize_body_is_413_and_creates_nothing(owner, key, settings):
    settings.WARDEN_MAX_BODY_BYTES = 1000
    body = b'{"description": "' + b"x" * 1200 + b'"}'
    response = _send("POST", "/api/v1/access-keys", body, key=key)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert "at most 1000 are accepted" in _reason(response)
    assert AccessKey.objects.filter(user=owner).count() == 1


def test_disabled_user_is_refused_even_with_a_good_key(owner):
    bob = make_subaccount(owner)
    client = signed_client_for(bob)
    assert client.get(ME).status_code == 200
    tenancy_services.subaccount_set_active(actor=owner, user=bob, is_active=False)
    response = client.get(ME)
    assert response.status_code == 401
    assert "account this AccessKey belongs to is disabled" in _reason(response)


def test_last_used_is_written_at_most_once_a_minute(owner, key):
    access_key, _ = key
    assert _send("GET", ME, key=key).status_code == 200
    access_key.refresh_from_db()
    first = access_key.last_used_at
    assert first is not None
    assert _send("GET", ME, key=key).status_code == 200
    access_key.refresh_from_db()
    assert access_key.last_used_at == first
    AccessKey.objects.filter(pk=access_key.pk).update(last_used_at=first - timedelta(seconds=61))
    assert _send("GET", ME, key=key).status_code == 200
    access_key.refresh_from_db()
    assert access_key.last_used_at > first - timedelta(seconds=1)
    assert access_key.last_used_at <= django_timezone.now()


def test_signed_client_wrapper_signs_get_post_and_delete(owner):
    client = signed_client_for(owner)
    assert isinstance(client, SignedClient)
    created = client.post("/api/v1/access-keys", {"description": "second"}, format="json")
    assert created.status_code == 201
    key_id = created.data["key_id"]
    assert client.get(f"/api/v1/access-keys/{key_id}").data["status"] == "active"
    assert client.post(f"/api/v1/access-keys/{key_id}/disable").data["status"] == "disabled"
    assert client.delete(f"/api/v1/access-keys/{key_id}").status_code == 204
    assert not AccessKey.objects.filter(key_id=key_id).exists()


def test_signed_query_with_spaces_plus_and_unicode_verifies(owner):
    client = signed_client_for(owner)
    response = client.get("/api/v1/access-keys", {"status": "active", "search": "a b+ü/é", "ordering": "-created_at"})
    assert response.status_code == 200, response.content
    response = client.get("/api/v1/access-keys?status=active&search=a+b%2B%C3%BC")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/api/v1/things/a%2541", "/api/v1/things/%C3%A9t%C3%A9 x", "/api/v1/things/été"])
def test_paths_with_escapes_and_unicode_verify_as_sent(key, path):
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from apps.accounts.authentication import SignatureAuthentication

    access_key, secret = key
    headers = sign_request("GET", path, b"", key_id=access_key.key_id, secret=secret)
    django_request = APIRequestFactory().get(path.replace(" ", "%20"), **_headers(headers))
    user, used_key = SignatureAuthentication().authenticate(Request(django_request))
    assert used_key == access_key and user == access_key.user
