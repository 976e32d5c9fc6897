"""The impact preview: a change is run and undone, and the project's recent access
decisions from the audit log are decided again against the changed rules."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied

from apps.audit.models import Event
from apps.permissions.access import AccessQuestion, access_check
from apps.permissions.conditions import RequestContext
from apps.permissions.decision import AccessRequest
from apps.permissions.impact import (
    access_request_as_dict,
    access_request_from_dict,
    impact_preview,
    recent_requests,
)
from apps.permissions.models import Grant, SecurityState, SecurityVersion
from apps.permissions.rollback import security_rollback
from apps.tenancy.services import security_version_bump

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def check(actor, project, principal, columns=("id",), action="Select"):
    return access_check(actor=actor, project=project, question=AccessQuestion(
        principal=principal, action=action, object_name="customers", columns=tuple(columns)))


def grant_carol_mobile(project, carol, table, owner):
    def change():
        Grant.objects.create(project=project, user=carol, object_type="table", object_name="customers", table=table,
                             columns=["id", "mobile"], actions=["Select"])
        security_version_bump(project, actor=owner, summary="grant select on customers (id, mobile) to carol")
    return change


def state_counts(project) -> tuple:
    project.refresh_from_db()
    return (SecurityVersion.objects.filter(project=project).count(), Event.objects.count(), Grant.objects.count(),
            project.security_version, SecurityState.objects.get(project=project).version)


def test_a_request_survives_the_round_trip_through_the_audit_log():
    request = AccessRequest(principal="RAM$acme:bob", project="sales", action="select", object_type="table",
                            object_name="orders", columns=("ID", "amount"), network="vpc",
                            destination_project="garden", read_level=2,
                            context=RequestContext(source_ip="10.1.2.3", task_type="SQL",
                                                   current_time=datetime(2026, 11, 23, 10, tzinfo=UTC)))

    data = access_request_as_dict(request)

    assert data["time"] == "2026-11-23T10:00:00Z" and data["columns"] == ["id", "amount"]
    assert data["source_ip"] == "10.1.2.3" and data["action"] == "Select"
    assert access_request_from_dict(data) == request


def test_an_access_check_is_audited_with_its_request_and_decision(column_grant_world):
    owner, project, bob, *_ = column_grant_world

    decision = check(owner, project, bob.principal_name)

    event = Event.objects.get(project=project, action="permissions.check")
    assert decision.allowed and event.decision == "allow" and event.actor == owner
    assert event.details["decision"] == {"allowed": True, "step": "acl"}
    assert event.details["request"]["principal"] == bob.principal_name
    assert event.details["request"]["columns"] == ["id"]


def test_a_grant_shows_who_would_gain_and_changes_nothing(column_grant_world):
    owner, project, bob, carol, grant = column_grant_world
    check(owner, project, carol.principal_name, columns=("id", "mobile"))
    check(owner, project, bob.principal_name)
    before = state_counts(project)

    report = impact_preview(actor=owner, project=project, change=grant_carol_mobile(project, carol, grant.table, owner))

    assert state_counts(project) == before
    assert report.replayed == 2 and report.losses == []
    assert [(entry.principal, entry.columns, entry.old_step, entry.new_step) for entry in report.gains] == [
        (carol.principal_name, ("id", "mobile"), "default", "acl")]
    assert report.added == [f"grant Select on table customers (id, mobile) to user {carol.principal_name}"]
    assert report.removed == []
    # The compiled snapshot of the real state was not replaced by the previewed one.
    assert not check(owner, project, carol.principal_name, columns=("id", "mobile")).allowed


def test_previewing_a_rollback_shows_who_would_lose_access(column_grant_world):
    owner, project, bob, carol, grant = column_grant_world
    check(bob, project, bob.principal_name)
    before_the_grant = SecurityState.objects.get(project=project).version - 1
    before = state_counts(project)

    report = impact_preview(actor=owner, project=project,
                            change=lambda: security_rollback(actor=owner, project=project, number=before_the_grant))

    assert state_counts(project) == before
    assert [(entry.principal, entry.action, entry.object_name, entry.old_step, entry.new_step)
            for entry in report.losses] == [(bob.principal_name, "Select", "customers", "acl", "default")]
    assert report.gains == [] and report.removed == [
        f"grant Select on table customers (id) to user {bob.principal_name}"]
    assert not Event.objects.filter(action="permissions.rollback").exists()


def test_identical_requests_are_replayed_once_newest_first_up_to_the_limit(column_grant_world):
    owner, project, bob, carol, _ = column_grant_world
    for _ in range(3):
        check(owner, project, bob.principal_name)
    check(owner, project, carol.principal_name)

    requests = recent_requests(project)
    limited = recent_requests(project, limit=1)

    assert [request["principal"] for request in requests] == [carol.principal_name, bob.principal_name]
    assert [request["principal"] for request in limited] == [carol.principal_name]


def test_only_those_who_manage_or_audit_the_project_preview(column_grant_world):
    owner, project, bob, carol, grant = column_grant_world
    calls = []

    with pytest.raises(PermissionDenied, match="audit"):
        impact_preview(actor=bob, project=project, change=lambda: calls.append(1))

    assert calls == []


def test_a_change_that_is_refused_comes_through_and_leaves_nothing(column_grant_world):
    owner, project, bob, carol, grant = column_grant_world
    before = state_counts(project)

    def refused_after_writing():
        grant_carol_mobile(project, carol, grant.table, owner)()
        raise PermissionDenied("refused")

    with pytest.raises(PermissionDenied, match="refused"):
        impact_preview(actor=owner, project=project, change=refused_after_writing)

    assert state_counts(project) == before
