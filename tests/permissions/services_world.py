"""A small project for the permissions services' tests, and a check that a refused call
left nothing behind."""

from contextlib import contextmanager
from types import SimpleNamespace

from django.utils import timezone

from apps.audit.models import Event
from apps.catalog.models import Table
from apps.catalog.services import warehouse_source_ensure
from apps.permissions.models import SecurityVersion
from apps.permissions.selectors import security_facts
from apps.tenancy.models import Project, Role
from apps.tenancy.roles import ADMIN, WorkspaceRole
from apps.tenancy.services import member_add, role_assign, role_create
from tests.factories import make_owner, make_project, make_subaccount


def make_table(project, name: str, columns=("id", "mobile", "email"), owner=None) -> Table:
    now = timezone.now()
    table = Table.objects.create(data_source=warehouse_source_ensure(project=project), schema=project.schema_name,
                                 name=name, owner=owner, first_seen_at=now, last_seen_at=now)
    for ordinal, column in enumerate(columns, start=1):
        table.columns.create(name=column, ordinal=ordinal, data_type="text", first_seen_at=now, last_seen_at=now)
    return table


def make_world():
    """owner's project with members bob (creator of ``customers``), carol, an Admin (admin),
    a security administrator (security) and the custom role ``analyst``."""
    owner = make_owner()
    project = make_project(owner)
    bob, carol, admin, security = (make_subaccount(owner) for _ in range(4))
    for user in (bob, carol, admin, security):
        member_add(actor=owner, project=project, user=user)
    role_assign(actor=owner, role=project.roles.get(name=ADMIN), user=admin)
    role_assign(actor=owner, role=project.roles.get(name=WorkspaceRole.SECURITY_ADMINISTRATOR), user=security)
    analyst = role_create(actor=owner, project=project, name="analyst")
    customers = make_table(project, "customers", owner=bob)
    orders = make_table(project, "orders", columns=("id", "amount"))
    return SimpleNamespace(owner=owner, project=project, bob=bob, carol=carol, admin=admin, security=security,
                           analyst=analyst, customers=customers, orders=orders)


def latest_version(project) -> SecurityVersion:
    return SecurityVersion.objects.filter(project=project).order_by("-number").first()


def version_count(project) -> int:
    return SecurityVersion.objects.filter(project=project).count()


def without_ids(facts) -> list[dict]:
    return [{key: value for key, value in fact.items() if key != "id"} for fact in facts]


def facts_of_kind(facts, kind: str) -> list[dict]:
    return [fact for fact in without_ids(facts) if fact["kind"] == kind]


@contextmanager
def nothing_changes(*projects):
    """Asserts that the block changed no security fact, made no version, no event, and did
    not bump any of ``projects``."""
    def state():
        return [(security_facts(Project.objects.get(pk=project.pk)), version_count(project),
                 Project.objects.get(pk=project.pk).security_version) for project in projects]

    before, events = state(), Event.objects.count()
    yield
    assert state() == before
    assert Event.objects.count() == events


def role_named(project, name: str) -> Role:
    return project.roles.get(name=name)
