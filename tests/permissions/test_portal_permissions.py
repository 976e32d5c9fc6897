"""The portal's own object permissions (django-guardian): who may read a project's audit log
without the auditor role, and who may approve access requests on a table."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.audit.models import Event
from apps.audit.selectors import event_list
from apps.permissions import services
from apps.permissions.selectors import portal_permission_list, table_approvers
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities
from tests.factories import make_owner, make_subaccount
from tests.permissions.services_world import make_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def test_a_member_given_audit_project_reads_the_projects_events_and_loses_it_again():
    w = make_world()
    assert Capability.AUDIT not in project_capabilities(w.carol, w.project)
    others_event = Event.objects.filter(project=w.project).exclude(actor=w.carol).first()
    assert not event_list(user=w.carol).filter(pk=others_event.pk).exists()

    services.portal_permission_assign(actor=w.owner, project=w.project, user=w.carol, permission="audit_project")

    assert Capability.AUDIT in project_capabilities(w.carol, w.project)
    assert event_list(user=w.carol).filter(pk=others_event.pk).exists()
    assert [(h["permission"], h["user"], h["table"]) for h in portal_permission_list(project=w.project)] == [
        ("audit_project", w.carol, None)]
    assert Event.objects.filter(action="permissions.portal_permission_assign", target_id=str(w.carol.pk)).exists()

    services.portal_permission_remove(actor=w.owner, project=w.project, user=w.carol, permission="audit_project")

    assert Capability.AUDIT not in project_capabilities(w.carol, w.project)
    assert portal_permission_list(project=w.project) == []


def test_approve_access_is_held_on_one_table():
    w = make_world()

    services.portal_permission_assign(actor=w.security, project=w.project, user=w.bob, permission="approve_access",
                                      table_name="customers")

    assert list(table_approvers(w.customers)) == [w.bob]
    assert list(table_approvers(w.orders)) == []
    assert [(h["permission"], h["table"]) for h in portal_permission_list(project=w.project)] == [
        ("approve_access", "customers")]


def test_refusals_change_nothing():
    w = make_world()
    stranger = make_subaccount(make_owner())
    outsider = make_subaccount(w.owner)  # of the tenant, but no member
    events = Event.objects.count()

    with pytest.raises(PermissionDenied):
        services.portal_permission_assign(actor=w.admin, project=w.project, user=w.carol, permission="audit_project")
    for kwargs, field in (
        ({"user": outsider, "permission": "audit_project"}, "user"),
        ({"user": stranger, "permission": "audit_project"}, "user"),
        ({"user": w.carol, "permission": "read_everything"}, "permission"),
        ({"user": w.carol, "permission": "approve_access"}, "table_name"),
        ({"user": w.carol, "permission": "approve_access", "table_name": "nosuch"}, "table_name"),
        ({"user": w.carol, "permission": "audit_project", "table_name": "customers"}, "table_name"),
    ):
        with pytest.raises(ValidationError) as error:
            services.portal_permission_assign(actor=w.owner, project=w.project, **kwargs)
        assert field in error.value.message_dict
    with pytest.raises(ValidationError):
        services.portal_permission_remove(actor=w.owner, project=w.project, user=w.carol, permission="audit_project")

    assert portal_permission_list(project=w.project) == []
    assert Event.objects.count() == events


def test_the_overview_gives_and_takes_back_a_portal_permission():
    from django.test import Client

    w = make_world()
    client = Client()
    client.force_login(w.owner)
    url = f"/security/{w.project.name}/portal-permissions/"

    client.post(url + "assign/", {"username": w.carol.username, "permission": "approve_access",
                                  "table_name": "orders"})
    page = client.get(f"/security/{w.project.name}/").content.decode()
    bad = client.post(url + "assign/", {"username": w.carol.username, "permission": "approve_access"}, follow=True)

    assert list(table_approvers(w.orders)) == [w.carol]
    assert "approves access to <code>orders</code>" in page
    assert "name it" in bad.content.decode()

    member = Client()
    member.force_login(w.bob)
    refused = member.post(url + "remove/", {"username": w.carol.username, "permission": "approve_access",
                                            "table_name": "orders"})
    assert refused.status_code == 403 and list(table_approvers(w.orders)) == [w.carol]

    client.post(url + "remove/", {"username": w.carol.username, "permission": "approve_access", "table_name": "orders"})
    assert list(table_approvers(w.orders)) == []


def test_the_api_lists_gives_and_takes_back(api_client_for):
    w = make_world()
    client = api_client_for(w.owner)
    url = f"/api/v1/projects/{w.project.name}/security/portal-permissions"

    given = client.post(url, {"permission": "audit_project", "username": w.carol.username}, format="json")
    listed = client.get(url)
    unknown = client.post(url, {"permission": "audit_project", "username": "nobody"}, format="json")
    refused = api_client_for(w.carol).post(url, {"permission": "audit_project", "username": w.bob.username},
                                           format="json")
    taken = client.post(url + "/remove", {"permission": "audit_project", "username": w.carol.username},
                        format="json")
    stranger = api_client_for(make_owner()).get(url)

    assert given.status_code == 201
    assert listed.json() == [{"permission": "audit_project", "username": w.carol.username, "table": None}]
    assert unknown.status_code == 400 and "username" in unknown.json()["error"]["fields"]
    assert refused.status_code == 403
    assert taken.status_code == 204 and portal_permission_list(project=w.project) == []
    assert stranger.status_code == 404
