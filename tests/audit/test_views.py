"""The /audit/ page and its chain verification."""

import pytest
from django.test import Client
from django.urls import reverse

from apps import audit
from apps.audit import chain
from apps.audit.models import Event
from tests.factories import make_owner, make_subaccount

pytestmark = pytest.mark.django_db


def _client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_login():
    response = Client().get(reverse("audit:event-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert Client().post(reverse("audit:verify")).status_code == 302


def test_owner_sees_the_tenant_log_with_seal_state_and_a_verify_button():
    owner = make_owner(tenant_name="webtenant")
    member = make_subaccount(owner, username="webmember")
    chain.seal_all_pending()
    audit.record(member, "test.fresh", member)
    other = make_owner(tenant_name="webstranger")
    audit.record(other, "test.stranger_only", other)

    html = _client_for(owner).get(reverse("audit:event-list")).content.decode()
    assert "tenant.signup" in html and "user.create" in html and "test.fresh" in html
    assert "test.stranger_only" not in html
    assert "sealed #1" in html and "unsealed" in html
    assert 'id="verify-chain"' in html


def test_member_sees_only_their_own_events_and_no_verify_button():
    owner = make_owner()
    member = make_subaccount(owner, username="plainmember")
    audit.record(member, "test.mine", member)
    audit.record(owner, "test.owners_business", owner)

    client = _client_for(member)
    html = client.get(reverse("audit:event-list")).content.decode()
    assert "test.mine" in html and "test.owners_business" not in html and "user.create" not in html
    assert 'id="verify-chain"' not in html
    assert client.post(reverse("audit:verify")).status_code == 403


def test_filters_narrow_the_table():
    owner = make_owner()
    audit.record(owner, "test.alpha", owner, decision="deny")
    audit.record(owner, "test.beta", owner)
    client = _client_for(owner)
    html = client.get(reverse("audit:event-list"), {"action": "test.alpha"}).content.decode()
    assert "test.alpha" in html and "test.beta" not in html
    html = client.get(reverse("audit:event-list"), {"decision": "deny"}).content.decode()
    assert "test.alpha" in html and "test.beta" not in html
    bad = client.get(reverse("audit:event-list"), {"since": "not a time"})
    assert bad.status_code == 200 and "is-invalid" in bad.content.decode()


def test_pages_keep_the_filters():
    owner = make_owner()
    for i in range(55):
        audit.record(owner, "test.many", owner, details={"i": i})
    html = _client_for(owner).get(reverse("audit:event-list"), {"action": "test.many"}).content.decode()
    assert "Page 1 of 2" in html and "?action=test.many&amp;page=2" in html


def test_owner_verifies_the_chain_from_the_page(disabled_trigger):
    owner = make_owner(tenant_name="webverify")
    audit.record(owner, "test.one", owner)
    chain.seal_all_pending()
    client = _client_for(owner)
    assert 'id="verify-result"' not in client.get(reverse("audit:verify")).content.decode()
    html = client.post(reverse("audit:verify")).content.decode()
    assert "Chain intact." in html and "tenant webverify" in html

    victim = Event.objects.get(action="test.one")
    with disabled_trigger("audit_event_append_only_update"):
        Event.objects.filter(pk=victim.pk).update(action="test.other")
    html = client.post(reverse("audit:verify")).content.decode()
    assert "Chain broken." in html and f"broken at event {victim.pk} (seq 2)" in html
