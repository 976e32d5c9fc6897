"""AccessKeys through the services, the API and the web page: own keys only, audited."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from apps.accounts import services
from apps.accounts.authentication import ACCESS_KEY_PURPOSE
from apps.accounts.models import AccessKey, AccessKeyStatus
from apps.audit.models import Event
from apps.core import crypto
from tests.factories import make_owner, make_subaccount
from tests.signing import signed_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_owner()


@pytest.fixture
def other_owner():
    return make_owner()


# --- services ----------------------------------------------------------------------------

def test_create_stores_the_secret_encrypted_and_returns_it_once(owner):
    access_key, secret = services.access_key_create(actor=owner, description="ci")
    stored = bytes(access_key.secret_encrypted)
    assert secret.encode() not in stored
    assert crypto.decrypt(stored, purpose=ACCESS_KEY_PURPOSE).decode() == secret
    assert access_key.key_id.startswith("WK") and len(access_key.key_id) == 22
    assert access_key.status == AccessKeyStatus.ACTIVE


def test_at_most_max_keys_per_user(owner):
    for _ in range(AccessKey.MAX_PER_USER):
        services.access_key_create(actor=owner)
    with pytest.raises(ValidationError, match="the most allowed"):
        services.access_key_create(actor=owner)
    assert AccessKey.objects.filter(user=owner).count() == AccessKey.MAX_PER_USER


def test_cannot_create_a_key_for_someone_else(owner):
    bob = make_subaccount(owner)
    with pytest.raises(PermissionDenied):
        services.access_key_create(actor=owner, owner=bob)
    assert not AccessKey.objects.filter(user=bob).exists()


def test_description_too_long_is_refused(owner):
    with pytest.raises(ValidationError) as error:
        services.access_key_create(actor=owner, description="x" * 201)
    assert "description" in error.value.message_dict


def test_every_key_change_is_audited_without_the_secret(owner):
    access_key, secret = services.access_key_create(actor=owner, description="ci")
    services.access_key_set_status(actor=owner, access_key=access_key, status=AccessKeyStatus.DISABLED)
    services.access_key_set_status(actor=owner, access_key=access_key, status=AccessKeyStatus.ACTIVE)
    services.access_key_delete(actor=owner, access_key=access_key)
    events = Event.objects.filter(action__startswith="access_key.").order_by("id")
    assert [e.action for e in events] == [
        "access_key.create", "access_key.disable", "access_key.enable", "access_key.delete"]
    for event in events:
        assert event.actor_id == owner.pk and event.tenant_id == owner.tenant_id
        assert event.details["key_id"] == access_key.key_id
        assert secret not in str(event.details)


def test_setting_the_same_status_changes_and_records_nothing(owner):
    access_key, _ = services.access_key_create(actor=owner)
    services.access_key_set_status(actor=owner, access_key=access_key, status=AccessKeyStatus.ACTIVE)
    assert not Event.objects.filter(action="access_key.enable").exists()
    with pytest.raises(ValidationError):
        services.access_key_set_status(actor=owner, access_key=access_key, status="sideways")


def test_another_users_key_cannot_be_changed_through_the_services(owner, other_owner):
    access_key, _ = services.access_key_create(actor=other_owner)
    with pytest.raises(AccessKey.DoesNotExist):
        services.access_key_set_status(actor=owner, access_key=access_key, status=AccessKeyStatus.DISABLED)
    with pytest.raises(AccessKey.DoesNotExist):
        services.access_key_delete(actor=owner, access_key=access_key)
    access_key.refresh_from_db()
    assert access_key.status == AccessKeyStatus.ACTIVE


# --- API ---------------------------------------------------------------------------------

def test_api_lists_only_own_keys(owner, other_owner):
    mine, _ = services.access_key_create(actor=owner, description="mine")
    services.access_key_create(actor=other_owner, description="theirs")
    response = signed_client_for(owner).get("/api/v1/access-keys")
    assert response.status_code == 200
    listed = [k["key_id"] for k in response.data["results"]]
    assert listed == [mine.key_id]
    assert "secret" not in response.data["results"][0]


def test_api_create_beyond_the_limit_is_a_clear_400(owner):
    client = signed_client_for(owner)  # makes the first key
    assert client.post("/api/v1/access-keys", {}, format="json").status_code == 201
    response = client.post("/api/v1/access-keys", {"description": "third"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and "the most allowed" in error["message"]
    assert AccessKey.objects.filter(user=owner).count() == AccessKey.MAX_PER_USER


def test_api_rejects_a_too_long_description_field_by_field(owner):
    response = signed_client_for(owner).post("/api/v1/access-keys", {"description": "x" * 300}, format="json")
    assert response.status_code == 400
    assert "description" in response.json()["error"]["fields"]


@pytest.mark.parametrize("method, suffix", [("get", ""), ("post", "/disable"), ("post", "/enable"),
                                            ("delete", "")])
def test_another_users_key_answers_404(owner, other_owner, method, suffix):
    theirs, _ = services.access_key_create(actor=other_owner)
    response = getattr(signed_client_for(owner), method)(f"/api/v1/access-keys/{theirs.key_id}{suffix}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.status == AccessKeyStatus.ACTIVE


def test_a_subaccount_does_not_see_its_owners_keys(owner):
    services.access_key_create(actor=owner)
    bob = make_subaccount(owner)
    response = signed_client_for(bob).get("/api/v1/access-keys")
    assert [k["key_id"] for k in response.data["results"]] == [AccessKey.objects.get(user=bob).key_id]


def test_anonymous_api_requests_are_401():
    from rest_framework.test import APIClient

    client = APIClient()
    assert client.get("/api/v1/access-keys").status_code == 401
    assert client.post("/api/v1/access-keys", {}, format="json").status_code == 401
    assert client.get("/api/v1/me").status_code == 401


def test_session_authenticated_api_works_for_the_browser(owner):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(owner)
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.data["username"] == owner.username and response.data["access_key"] is None


def test_api_disable_then_the_key_stops_working(owner):
    client = signed_client_for(owner)
    second = client.post("/api/v1/access-keys", {"description": "to disable"}, format="json").data
    assert client.post(f"/api/v1/access-keys/{second['key_id']}/disable").data["status"] == "disabled"
    from tests.signing import SignedClient

    disabled_client = SignedClient(second["key_id"], second["secret"])
    assert disabled_client.get("/api/v1/me").status_code == 401
    assert client.post(f"/api/v1/access-keys/{second['key_id']}/enable").data["status"] == "active"
    assert disabled_client.get("/api/v1/me").status_code == 200


# --- web page ----------------------------------------------------------------------------

def test_access_keys_page_needs_login():
    response = Client().get("/accounts/access-keys/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")


def test_access_keys_page_creates_shows_secret_once_and_lists(owner):
    client = Client()
    client.force_login(owner)
    created = client.post("/accounts/access-keys/", {"description": "from the web"})
    assert created.status_code == 200
    access_key = AccessKey.objects.get(user=owner)
    secret = crypto.decrypt(access_key.secret_encrypted, purpose=ACCESS_KEY_PURPOSE).decode()
    assert secret in created.content.decode()
    assert created["Cache-Control"] == "no-store"
    listing = client.get("/accounts/access-keys/").content.decode()
    assert access_key.key_id in listing and "from the web" in listing and "never" in listing
    assert secret not in listing


def test_access_keys_page_disable_enable_delete(owner):
    client = Client()
    client.force_login(owner)
    access_key, _ = services.access_key_create(actor=owner)
    base = f"/accounts/access-keys/{access_key.key_id}"
    assert client.post(f"{base}/disable/").status_code == 302
    access_key.refresh_from_db()
    assert access_key.status == AccessKeyStatus.DISABLED
    assert "Disabled" in client.get("/accounts/access-keys/").content.decode()
    client.post(f"{base}/enable/")
    access_key.refresh_from_db()
    assert access_key.status == AccessKeyStatus.ACTIVE
    assert client.get(f"{base}/delete/").status_code == 405
    client.post(f"{base}/delete/")
    assert not AccessKey.objects.filter(pk=access_key.pk).exists()


def test_access_keys_page_limit_error_is_shown(owner):
    client = Client()
    client.force_login(owner)
    for _ in range(AccessKey.MAX_PER_USER):
        services.access_key_create(actor=owner)
    response = client.post("/accounts/access-keys/", {"description": "one too many"})
    assert response.status_code == 400
    assert "the most allowed" in response.content.decode()


def test_access_keys_page_cannot_touch_another_users_key(owner, other_owner):
    theirs, _ = services.access_key_create(actor=other_owner)
    client = Client()
    client.force_login(owner)
    assert client.post(f"/accounts/access-keys/{theirs.key_id}/delete/").status_code == 404
    assert client.post(f"/accounts/access-keys/{theirs.key_id}/disable/").status_code == 404
    assert AccessKey.objects.filter(pk=theirs.pk, status=AccessKeyStatus.ACTIVE).exists()
    assert theirs.key_id not in client.get("/accounts/access-keys/").content.decode()


# --- management command ------------------------------------------------------------------

def test_create_access_key_command_prints_a_working_key(owner):
    out = io.StringIO()
    call_command("create_access_key", owner.username, stdout=out)
    values = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    from tests.signing import SignedClient

    client = SignedClient(values["WARDEN_ACCESS_KEY_ID"], values["WARDEN_ACCESS_KEY_SECRET"])
    assert client.get("/api/v1/me").data["username"] == owner.username
    event = Event.objects.get(action="access_key.create")
    assert event.actor_id is None and event.channel == "system"
    assert event.tenant_id == owner.tenant_id  # in the key owner's tenant's log


def test_create_access_key_command_errors_clearly(owner):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_access_key", "ghost", stdout=io.StringIO())
    for _ in range(AccessKey.MAX_PER_USER):
        services.access_key_create(actor=owner)
    with pytest.raises(CommandError, match="the most allowed"):
        call_command("create_access_key", owner.username, stdout=io.StringIO())
