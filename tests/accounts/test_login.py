"""Signing in and out through the web pages: argon2, throttling, audit."""

import pytest
from django.contrib.auth.hashers import get_hasher
from django.test import Client

from apps.accounts import services
from apps.audit.models import Event
from tests.factories import PASSWORD, make_owner, make_subaccount

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _login(client, username, password, ip="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def owner():
    return make_owner()


@pytest.mark.argon2
def test_passwords_are_hashed_with_argon2(owner):
    assert get_hasher().algorithm == "argon2"
    assert owner.password.startswith("argon2$")


def test_login_page_has_the_contract_fields():
    page = Client().get(LOGIN)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="username"' in html and 'name="password"' in html and 'type="submit"' in html


def test_successful_login_starts_a_session_and_is_audited(owner):
    client = Client()
    response = _login(client, owner.username, PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/projects/"
    assert client.session["_auth_user_id"] == str(owner.pk)
    event = Event.objects.get(action="auth.login")
    assert event.actor_id == owner.pk and event.tenant_id == owner.tenant_id
    assert event.channel == "web" and event.source_ip == "10.0.0.1"


def test_login_redirects_only_to_safe_next(owner):
    client = Client()
    response = client.post(LOGIN + "?next=/users/", {"username": owner.username, "password": PASSWORD})
    assert response["Location"] == "/users/"
    client = Client()
    response = client.post(LOGIN + "?next=https://evil.example/", {"username": owner.username, "password": PASSWORD})
    assert response["Location"] == "/projects/"


def test_failed_login_is_audited_without_the_password(owner):
    response = _login(Client(), owner.username, "not-the-password-123")
    assert response.status_code == 400
    assert "Wrong username or password." in response.content.decode()
    event = Event.objects.get(action="auth.login_failed")
    assert event.actor_id is None
    assert event.details["username"] == owner.username
    assert event.details["reason"] == "bad_credentials"
    assert event.tenant_id == owner.tenant_id  # the tenant's auditors see attempts on its accounts
    assert "not-the-password-123" not in str(event.details) + event.target_repr


def test_failed_login_for_an_unknown_user_is_audited_too():
    _login(Client(), "nobody_here", "whatever-password")
    event = Event.objects.get(action="auth.login_failed")
    assert event.details["username"] == "nobody_here" and event.tenant_id is None


def test_disabled_account_cannot_log_in(owner):
    from apps.tenancy import services as tenancy_services

    bob = make_subaccount(owner)
    tenancy_services.subaccount_set_active(actor=owner, user=bob, is_active=False)
    response = _login(Client(), bob.username, PASSWORD)
    assert response.status_code == 400
    assert Event.objects.get(action="auth.login_failed").details["reason"] == "inactive_user"


def test_username_is_locked_out_after_max_failures_even_with_the_right_password(owner, settings):
    settings.WARDEN_LOGIN_MAX_FAILURES = 3
    for n in range(2):
        assert _login(Client(), owner.username, "wrong-password-x", ip=f"10.0.1.{n}").status_code == 400
    third = _login(Client(), owner.username, "wrong-password-x", ip="10.0.1.9")
    assert third.status_code == 429
    assert "Too many failed sign-in attempts" in third.content.decode()
    lockout = Event.objects.get(action="auth.lockout")
    assert lockout.details["scopes"] == ["username"] and lockout.details["username"] == owner.username

    client = Client()
    refused = _login(client, owner.username, PASSWORD, ip="10.0.2.1")
    assert refused.status_code == 429
    assert "_auth_user_id" not in client.session
    assert Event.objects.filter(action="auth.login_failed", details__reason="locked_out").count() == 1
    assert not Event.objects.filter(action="auth.login").exists()


def test_source_address_is_locked_out_across_usernames(owner, settings):
    settings.WARDEN_LOGIN_MAX_FAILURES = 3
    for n in range(3):
        _login(Client(), f"guess{n}", "wrong-password-x", ip="10.9.9.9")
    assert _login(Client(), owner.username, PASSWORD, ip="10.9.9.9").status_code == 429
    # The same account from another address is not locked.
    assert _login(Client(), owner.username, PASSWORD, ip="10.9.9.10").status_code == 302


def test_success_resets_the_username_count(owner, settings):
    settings.WARDEN_LOGIN_MAX_FAILURES = 3
    for n in range(2):
        _login(Client(), owner.username, "wrong-password-x", ip=f"10.3.0.{n}")
    assert _login(Client(), owner.username, PASSWORD, ip="10.3.1.1").status_code == 302
    for n in range(2):
        assert _login(Client(), owner.username, "wrong-password-x", ip=f"10.3.2.{n}").status_code == 400
    assert _login(Client(), owner.username, PASSWORD, ip="10.3.3.1").status_code == 302


def test_login_attempt_service_raises_login_refused(owner, rf):
    from django.contrib.sessions.middleware import SessionMiddleware

    request = rf.post(LOGIN)
    SessionMiddleware(lambda r: None).process_request(request)
    with pytest.raises(services.LoginRefused) as refused:
        services.login_attempt(request=request, username=owner.username, password="nope-nope-nope")
    assert refused.value.code == "bad_credentials"


def test_logout_is_post_only_and_audited(owner):
    client = Client()
    client.force_login(owner)
    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert "_auth_user_id" not in client.session
    assert Event.objects.get(action="auth.logout").actor_id == owner.pk


def test_logout_needs_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post("/accounts/logout/").status_code == 403
    assert not Event.objects.filter(action="auth.logout").exists()
