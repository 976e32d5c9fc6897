"""GET /api/v1/audit/events, /api/v1/audit/events/{id} and /api/v1/audit/verify: who reads
what, filters, pagination, verification."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps import audit
from apps.audit import chain
from apps.audit.models import Event
from apps.tenancy import services as tenancy_services
from apps.tenancy.models import TenantRoleName
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.selectors import workspace_role_get
from tests.factories import make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])
EVENTS = "/api/v1/audit/events"
VERIFY = "/api/v1/audit/verify"


@dataclass
class World:
    owner: object
    admin: object
    member: object
    auditor: object
    audited: object
    unaudited: object
    stranger: object


@pytest.fixture
def world():
    owner = make_owner(tenant_name="acme_api")
    admin = make_subaccount(owner, username="adminuser")
    tenancy_services.tenant_role_assign(actor=owner, user=admin, role=TenantRoleName.ADMIN)
    member = make_subaccount(owner, username="bobmember")
    auditor = make_subaccount(owner, username="daveauditor")
    audited = make_project(owner, name="audited_prj")
    unaudited = make_project(owner, name="unaudited_prj")
    for user in (member, auditor):
        tenancy_services.member_add(actor=owner, project=audited, user=user)
    tenancy_services.role_assign(
        actor=owner, role=workspace_role_get(project=audited, workspace_role=WorkspaceRole.AUDITOR), user=auditor
    )
    audit.record(member, "test.member_in_project", audited, project=audited)
    audit.record(member, "test.member_private", member)
    audit.record(owner, "test.owner_elsewhere", unaudited, project=unaudited, decision="deny")
    stranger = make_owner(tenant_name="other_api")
    make_project(stranger, name="stranger_prj")
    audit.record(stranger, "test.stranger", stranger)
    return World(owner, admin, member, auditor, audited, unaudited, stranger)


def _all(client, url=EVENTS, **params):
    response = client.get(url, {"page_size": 500, **params})
    assert response.status_code == 200, response.content
    return response.json()


def _actions(client, **params):
    return {item["action"] for item in _all(client, **params)["results"]}


def test_anonymous_is_refused_everywhere(world, api_client_for):
    event = Event.objects.filter(tenant_id=world.owner.tenant_id).first()
    anonymous = api_client_for(None)
    for url in (EVENTS, f"{EVENTS}/{event.pk}", VERIFY):
        response = anonymous.get(url)
        assert response.status_code in (401, 403)
        assert "error" in response.json()


def test_owner_reads_the_whole_tenant_and_nothing_else(world, api_client_for):
    body = _all(api_client_for(world.owner))
    tenant_events = Event.objects.filter(tenant_id=world.owner.tenant_id)
    assert body["count"] == tenant_events.count()
    assert {item["id"] for item in body["results"]} == set(tenant_events.values_list("id", flat=True))
    assert {"test.member_private", "test.owner_elsewhere", "tenant.signup"} <= {i["action"] for i in body["results"]}


def test_tenant_admin_reads_the_whole_tenant(world, api_client_for):
    assert _all(api_client_for(world.admin))["count"] == Event.objects.filter(tenant_id=world.owner.tenant_id).count()


def test_member_reads_only_their_own_events(world, api_client_for):
    client = api_client_for(world.member)
    # Making the member's AccessKey for the signed client is one of their own events.
    assert _actions(client) == {"test.member_in_project", "test.member_private", "access_key.create"}
    owners_event = Event.objects.get(action="test.owner_elsewhere")
    assert client.get(f"{EVENTS}/{owners_event.pk}").status_code == 404
    own = Event.objects.get(action="test.member_private")
    assert client.get(f"{EVENTS}/{own.pk}").json()["actor_name"] == "bobmember"


def test_auditor_reads_their_projects_events_and_their_own(world, api_client_for):
    client = api_client_for(world.auditor)
    actions = _actions(client)
    audited_project_events = set(
        Event.objects.filter(project_id=world.audited.pk).values_list("action", flat=True)
    )
    assert {"project.create", "member.add", "role.assign", "test.member_in_project"} <= audited_project_events
    assert actions == audited_project_events | {"access_key.create"}  # their own, from the signed client
    assert "test.member_private" not in actions and "test.owner_elsewhere" not in actions
    elsewhere = Event.objects.get(action="test.owner_elsewhere")
    assert client.get(f"{EVENTS}/{elsewhere.pk}").status_code == 404


def test_auditor_of_a_project_loses_sight_of_it_when_the_role_goes(world, api_client_for):
    assignment = world.auditor.role_assignments.get()
    tenancy_services.role_unassign(actor=world.owner, assignment=assignment)
    assert "test.member_in_project" not in _actions(api_client_for(world.auditor))


def test_other_tenant_sees_nothing_of_ours_and_gets_404(world, api_client_for):
    client = api_client_for(world.stranger)
    body = _all(client)
    assert body["count"] == Event.objects.filter(tenant_id=world.stranger.tenant_id).count()
    assert all(item["tenant_id"] == world.stranger.tenant_id for item in body["results"])
    ours = Event.objects.get(action="test.member_private")
    response = client.get(f"{EVENTS}/{ours.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_events_are_newest_first_and_paginated(world, api_client_for):
    client = api_client_for(world.owner)
    first = client.get(EVENTS, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    everything = _all(client)["results"]
    assert [item["id"] for item in first["results"]] == [item["id"] for item in everything[:2]]
    times = [item["occurred_at"] for item in everything]
    assert times == sorted(times, reverse=True)


def test_filters(world, api_client_for):
    client = api_client_for(world.owner)
    assert _actions(client, action="test.owner_elsewhere") == {"test.owner_elsewhere"}
    assert _actions(client, actor="bobmember") == {"test.member_in_project", "test.member_private"}
    assert _actions(client, project="unaudited_prj") >= {"project.create", "test.owner_elsewhere"}
    assert all(i["project_name"] == "unaudited_prj" for i in _all(client, project="unaudited_prj")["results"])
    assert _actions(client, decision="deny") == {"test.owner_elsewhere"}
    assert _actions(client, channel="system") == _actions(client)
    assert _actions(client, channel="web") == set()
    assert _actions(client, target_type="tenancy.project") >= {"project.create", "test.owner_elsewhere"}
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert _all(client, since=future)["count"] == 0
    assert _all(client, until=future)["count"] == Event.objects.filter(tenant_id=world.owner.tenant_id).count()


def test_a_bad_filter_is_a_field_level_400(world, api_client_for):
    response = api_client_for(world.owner).get(EVENTS, {"channel": "carrier-pigeon", "since": "yesterday"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and {"channel", "since"} <= set(error["fields"])


def test_the_log_cannot_be_written_through_the_api(world, api_client_for):
    client = api_client_for(world.owner)
    event = Event.objects.filter(tenant_id=world.owner.tenant_id).first()
    assert client.post(EVENTS, {"action": "forged"}, format="json").status_code == 405
    assert client.delete(f"{EVENTS}/{event.pk}").status_code == 405
    assert client.patch(f"{EVENTS}/{event.pk}", {"action": "x"}, format="json").status_code == 405
    assert Event.objects.filter(pk=event.pk, action=event.action).exists()


def test_event_list_makes_a_constant_number_of_queries(world, api_client_for):
    client = api_client_for(world.auditor)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(EVENTS).status_code == 200
        return len(queries)

    count_queries()  # the first signed request also records the AccessKey's last use
    before = count_queries()
    for i in range(10):
        audit.record(world.member, f"test.more_{i}", world.audited, project=world.audited)
    assert count_queries() == before


def test_event_detail_shows_the_seal(world, api_client_for):
    chain.seal_all_pending()
    event = Event.objects.get(action="test.member_private")
    body = api_client_for(world.owner).get(f"{EVENTS}/{event.pk}").json()
    assert body["sealed"] is True and body["hash"] == event.hash and body["chain_seq"] == event.chain_seq


def test_owner_verifies_their_tenants_chain(world, api_client_for):
    client = api_client_for(world.owner)
    chain.seal_all_pending()
    audit.record(world.owner, "test.unsealed", world.owner)
    body = client.get(VERIFY).json()
    assert body["ok"] is True
    assert [c["tenant_name"] for c in body["chains"]] == ["acme_api"]
    assert body["unsealed_events"] == 1
    assert body["chains"][0]["sealed_events"] == Event.objects.filter(tenant_id=world.owner.tenant_id).count() - 1


def test_verify_reports_the_first_broken_link(world, api_client_for, disabled_trigger):
    chain.seal_all_pending()
    victim = Event.objects.get(action="test.member_private")
    with disabled_trigger("audit_event_append_only_update"):
        Event.objects.filter(pk=victim.pk).update(actor_name="someone_else")
    body = api_client_for(world.admin).get(VERIFY).json()
    assert body["ok"] is False
    broken = body["chains"][0]["first_break"]
    assert (broken["event_id"], broken["chain_seq"], broken["problem"]) == (victim.pk, victim.chain_seq, "hash")


def test_only_tenant_admins_verify(world, api_client_for):
    for user in (world.member, world.auditor):
        response = api_client_for(user).get(VERIFY)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
