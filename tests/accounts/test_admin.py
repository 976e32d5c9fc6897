import pytest
from django.test import Client

from apps.accounts import services
from apps.accounts.models import User
from apps.audit.models import Event
from tests.factories import make_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client():
    root = User.objects.create_superuser(username="root", password="root-password-long", email="r@example.com")
    client = Client()
    client.force_login(root)
    return client, root


def test_superuser_sees_accounts_and_access_keys_without_secrets(superuser_client):
    client, _ = superuser_client
    owner = make_owner()
    access_key, secret = services.access_key_create(actor=owner)
    assert owner.username in client.get("/admin/accounts/user/").content.decode()
    listing = client.get("/admin/accounts/accesskey/").content.decode()
    assert access_key.key_id in listing
    detail = client.get(f"/admin/accounts/accesskey/{access_key.pk}/change/").content.decode()
    assert secret not in detail and "secret_encrypted" not in detail


def test_admin_account_edits_are_audited(superuser_client):
    client, root = superuser_client
    owner = make_owner()
    page = client.get(f"/admin/accounts/user/{owner.pk}/change/")
    assert page.status_code == 200
    data = {"username": owner.username, "first_name": "Alice", "last_name": "", "email": "",
            "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"}
    response = client.post(f"/admin/accounts/user/{owner.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    event = Event.objects.get(action="user.admin_change")
    assert event.actor_id == root.pk and "first_name" in event.details["fields"]


def test_regular_users_cannot_open_the_admin():
    owner = make_owner()
    client = Client()
    client.force_login(owner)
    assert client.get("/admin/accounts/user/").status_code == 302
