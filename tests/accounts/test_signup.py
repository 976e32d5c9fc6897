import pytest
from django.test import Client

from apps.accounts.models import User
from apps.audit.models import Event
from apps.tenancy.models import Tenant

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"
GOOD = {"tenant_name": "acme_corp", "username": "alice", "email": "alice@example.com",
        "password": "correct-horse-battery", "password_again": "correct-horse-battery"}


@pytest.mark.argon2
def test_signup_creates_tenant_and_primary_account_and_logs_in():
    client = Client()
    assert client.get(SIGNUP).status_code == 200
    response = client.post(SIGNUP, GOOD)
    assert response.status_code == 302 and response["Location"] == "/projects/"
    alice = User.objects.get(username="alice")
    assert alice.is_primary and alice.tenant.name == "acme_corp"
    assert alice.password.startswith("argon2$")
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert set(Event.objects.filter(tenant=alice.tenant).values_list("action", flat=True)) >= {
        "tenant.signup", "auth.login"}


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"tenant_name": "Bad Name"}, "tenant_name", "lowercase letters"),
        ({"username": "9lives"}, "username", "starting with a letter"),
        ({"password": "short", "password_again": "short"}, "password", "too short"),
        ({"password_again": "something-else-entirely"}, "password_again", "The two passwords differ."),
    ],
)
def test_bad_signup_input_gets_a_clear_error_and_changes_nothing(change, field, message):
    users_before, tenants_before = User.objects.count(), Tenant.objects.count()
    response = Client().post(SIGNUP, {**GOOD, **change})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert (User.objects.count(), Tenant.objects.count()) == (users_before, tenants_before)


def test_duplicate_tenant_name_is_refused():
    Client().post(SIGNUP, GOOD)
    response = Client().post(SIGNUP, {**GOOD, "username": "bob"})
    assert response.status_code == 400
    assert "already exists" in " ".join(response.context["form"].errors["tenant_name"])
    assert not User.objects.filter(username="bob").exists()


def test_signup_is_404_when_switched_off(settings):
    settings.WARDEN_SIGNUP_ENABLED = False
    assert Client().get(SIGNUP).status_code == 404
    assert Client().post(SIGNUP, GOOD).status_code == 404
    assert not Tenant.objects.filter(name=GOOD["tenant_name"]).exists()
