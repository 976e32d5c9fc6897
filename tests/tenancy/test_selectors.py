import pytest

from apps.tenancy import selectors, services
from apps.tenancy.models import Role
from apps.tenancy.roles import ALL_CAPABILITIES, WorkspaceRole
from tests.factories import make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def test_project_visibility_members_tenant_admins_and_nobody_else(world):
    visible = lambda user: sorted(selectors.project_list(user=user).values_list("name", flat=True))  # noqa: E731
    assert visible(world.member) == ["wonderland_t"]
    assert visible(world.stranger) == []
    assert visible(world.admin) == ["wonderland_t"]
    assert visible(world.other_owner) == ["globex_data"]
    services.member_add(actor=world.owner, project=world.project, user=world.other_owner)
    assert visible(world.other_owner) == ["globex_data", "wonderland_t"]
    # No duplicate rows when a user is both tenant admin and member.
    services.member_add(actor=world.owner, project=world.project, user=world.admin)
    assert visible(world.admin) == ["wonderland_t"]


def test_project_get_hides_other_tenants_projects(world):
    with pytest.raises(selectors.Project.DoesNotExist):
        selectors.project_get(user=world.owner, name="globex_data")
    assert selectors.project_get(user=world.member, name="wonderland_t") == world.project


def test_capabilities(world):
    assert selectors.project_capabilities(world.owner, world.project) == ALL_CAPABILITIES
    assert selectors.project_capabilities(world.member, world.project) == {"view"}
    assert selectors.project_capabilities(world.stranger, world.project) == frozenset()
    assert selectors.project_capabilities(world.other_owner, world.project) == frozenset()
    assert selectors.project_capabilities(world.admin, world.project) == {"view", "manage_members", "manage_roles"}
    auditor = Role.objects.get(project=world.project, name=WorkspaceRole.AUDITOR)
    services.role_assign(actor=world.owner, role=auditor, user=world.member)
    assert selectors.project_capabilities(world.member, world.project) == {"view", "audit"}


def test_member_and_role_lists_make_a_constant_number_of_queries(world, django_assert_num_queries):
    def read_everything():
        members = list(selectors.member_list(user=world.owner, project=world.project))
        roles = list(selectors.role_list(user=world.owner, project=world.project))
        return ([(m.user.username, m.user.tenant.name, [a.role.name for a in m.user.project_roles]) for m in members],
                [(r.name, [a.user.username for a in r.assignments.all()]) for r in roles])

    # Members + their roles, roles + their holders: the scope is a subquery, not a query.
    with django_assert_num_queries(4):
        read_everything()
    developer = Role.objects.get(project=world.project, name=WorkspaceRole.DEVELOPER)
    for n in range(4):
        user = make_subaccount(world.owner, username=f"crowd{n}")
        services.member_add(actor=world.owner, project=world.project, user=user)
        services.role_assign(actor=world.owner, role=developer, user=user)
    with django_assert_num_queries(4):
        members, roles = read_everything()
    assert len(members) == 6 and dict(roles)[WorkspaceRole.DEVELOPER] == [f"crowd{n}" for n in range(4)]


def test_member_candidates_are_the_tenants_accounts_and_other_primary_accounts(world):
    other_sub = make_subaccount(world.other_owner, username="globex_sub")
    assert selectors.member_candidate_get(project=world.project, username="sam") == world.stranger
    assert selectors.member_candidate_get(project=world.project, username="otto") == world.other_owner
    with pytest.raises(selectors.User.DoesNotExist):
        selectors.member_candidate_get(project=world.project, username=other_sub.username)
