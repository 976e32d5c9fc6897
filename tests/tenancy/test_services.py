import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections

from apps.audit.models import Event
from apps.tenancy import services
from apps.tenancy.models import Membership, Project, Role, RoleAssignment, TenantRoleAssignment
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.selectors import project_capabilities, workspace_role_get
from tests.factories import PASSWORD, make_owner, make_project, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def schema_exists(name: str) -> bool:
    with connections["warehouse"].cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        return cursor.fetchone() is not None


def actions_for(project=None, **filters) -> list[str]:
    queryset = Event.objects.filter(**filters)
    if project is not None:
        queryset = queryset.filter(project=project)
    return list(queryset.order_by("id").values_list("action", flat=True))


# --- projects ----------------------------------------------------------------------------

def test_project_create_makes_schema_roles_owner_membership_and_event():
    owner = make_owner()
    project = make_project(owner, name="wonderland_x", description="customers")
    assert schema_exists("wonderland_x")
    membership = project.memberships.get()
    assert membership.user == owner and membership.is_active
    assert project.owner == owner and project.tenant_id == owner.tenant_id
    names = set(project.roles.values_list("name", flat=True))
    assert {"super_administrator", "admin"} | set(WorkspaceRole.values) == names
    assert actions_for(project) == ["project.create"]
    event = Event.objects.get(project=project)
    assert event.actor == owner and event.tenant_id == owner.tenant_id


@pytest.mark.parametrize("name", ["Wonderland", "ab", "1project", "has-dash", "pg_catalog", "public", "new", "x" * 64,
                                  "spaced name", " "])
def test_project_names_must_be_lowercase_identifiers(name):
    owner = make_owner()
    with pytest.raises(ValidationError) as error:
        make_project(owner, name=name)
    assert "name" in error.value.message_dict
    assert not Project.objects.exists()
    assert not Event.objects.filter(action="project.create").exists()


def test_duplicate_project_name_is_refused_even_across_tenants():
    make_project(make_owner(), name="shared_name")
    other = make_owner()
    with pytest.raises(ValidationError) as error:
        make_project(other, name="shared_name")
    assert error.value.message_dict["name"] == ["A project named 'shared_name' already exists."]
    assert Project.objects.filter(name="shared_name").count() == 1


def test_only_tenant_owner_and_admins_create_projects():
    owner = make_owner()
    admin = make_subaccount(owner)
    services.tenant_role_assign(actor=owner, user=admin, role="admin")
    plain = make_subaccount(owner)
    with pytest.raises(PermissionDenied):
        make_project(plain, name="plain_project")
    project = make_project(admin, name="admin_project")
    assert project.owner == admin and project.tenant_id == owner.tenant_id


def test_dev_project_pairs_with_one_prod_project_of_the_same_tenant():
    owner = make_owner()
    prod = make_project(owner, name="shop_prod")
    dev = make_project(owner, name="shop_dev", environment="dev", prod_project=prod)
    prod.refresh_from_db()
    assert dev.prod_project == prod and prod.dev_project == dev

    with pytest.raises(ValidationError, match="already paired"):
        make_project(owner, name="shop_dev2", environment="dev", prod_project=prod)
    with pytest.raises(ValidationError, match="Only a dev project"):
        make_project(owner, name="shop_prod2", environment="prod", prod_project=prod)
    with pytest.raises(ValidationError, match="not a prod project"):
        make_project(owner, name="shop_dev3", environment="dev", prod_project=dev)
    other_prod = make_project(make_owner(), name="their_prod")
    with pytest.raises(ValidationError, match="your tenant"):
        make_project(owner, name="shop_dev4", environment="dev", prod_project=other_prod)
    with pytest.raises(ValidationError, match="Choose one of"):
        make_project(owner, name="shop_test", environment="test")
    assert set(Project.objects.values_list("name", flat=True)) == {"shop_prod", "shop_dev", "their_prod"}


def test_project_update_changes_description_and_is_audited(world):
    services.project_update(actor=world.admin, project=world.project, description="new text")
    world.project.refresh_from_db()
    assert world.project.description == "new text"
    event = Event.objects.get(action="project.update")
    assert event.details["description"] == {"from": "prod data", "to": "new text"}
    with pytest.raises(PermissionDenied):
        services.project_update(actor=world.member, project=world.project, description="member text")


# --- members -----------------------------------------------------------------------------

def test_member_add_and_remove_bump_security_version_and_are_audited(world):
    version = Project.objects.get(pk=world.project.pk).security_version
    services.member_add(actor=world.owner, project=world.project, user=world.stranger)
    services.member_remove(actor=world.owner, membership=world.project.memberships.get(user=world.stranger))
    assert Project.objects.get(pk=world.project.pk).security_version == version + 2
    events = Event.objects.filter(project=world.project, target_repr="sam").order_by("id")
    assert [e.action for e in events] == ["member.add", "member.remove"]
    assert events[0].details == {"readded": False}


def test_removed_member_keeps_data_and_readding_reactivates_the_same_membership(world):
    role = Role.objects.get(project=world.project, name=WorkspaceRole.VISITOR)
    services.role_assign(actor=world.owner, role=role, user=world.member)
    membership = world.project.memberships.get(user=world.member)
    with pytest.raises(ValidationError, match="still holds roles"):
        services.member_remove(actor=world.owner, membership=membership)
    assert Membership.objects.get(pk=membership.pk).is_active

    services.role_unassign(actor=world.owner, assignment=RoleAssignment.objects.get(role=role, user=world.member))
    services.member_remove(actor=world.owner, membership=membership)
    membership.refresh_from_db()
    assert not membership.is_active and membership.removed_at is not None
    assert "view" not in project_capabilities(world.member, world.project)

    again = services.member_add(actor=world.admin, project=world.project, user=world.member)
    assert again.pk == membership.pk and again.is_active and again.removed_at is None
    assert Membership.objects.filter(project=world.project, user=world.member).count() == 1
    assert Event.objects.filter(action="member.add", target_repr="bob").latest("id").details == {"readded": True}


def test_member_add_rules(world):
    with pytest.raises(ValidationError, match="already a member"):
        services.member_add(actor=world.owner, project=world.project, user=world.member)
    other_sub = make_subaccount(world.other_owner)
    with pytest.raises(ValidationError, match="Only accounts of this tenant"):
        services.member_add(actor=world.owner, project=world.project, user=other_sub)
    # Another tenant's primary account may be added, as MaxCompute allows other accounts.
    services.member_add(actor=world.owner, project=world.project, user=world.other_owner)
    assert "view" in project_capabilities(world.other_owner, world.project)
    assert "manage_members" not in project_capabilities(world.other_owner, world.project)
    services.subaccount_set_active(actor=world.owner, user=world.stranger, is_active=False)
    with pytest.raises(ValidationError, match="disabled"):
        services.member_add(actor=world.owner, project=world.project, user=world.stranger)
    with pytest.raises(PermissionDenied):
        services.member_add(actor=world.member, project=world.project, user=world.admin)


def test_project_owner_cannot_be_removed(world):
    with pytest.raises(ValidationError, match="owner cannot be removed"):
        services.member_remove(actor=world.owner, membership=world.project.memberships.get(user=world.owner))


# --- roles -------------------------------------------------------------------------------

def test_custom_role_create_validates_and_drop_requires_no_holders(world):
    role = services.role_create(actor=world.admin, project=world.project, name="analyst", description="reads")
    assert role.kind == "custom" and role.role_type == "resource"
    with pytest.raises(ValidationError, match="already exists"):
        services.role_create(actor=world.owner, project=world.project, name="analyst")
    with pytest.raises(ValidationError, match="already exists"):
        services.role_create(actor=world.owner, project=world.project, name="admin")
    with pytest.raises(ValidationError) as error:
        services.role_create(actor=world.owner, project=world.project, name="Bad-Name")
    assert "name" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.role_create(actor=world.owner, project=world.project, name="longdesc", description="x" * 301)
    assert "description" in error.value.message_dict
    with pytest.raises(ValidationError, match="Choose one of"):
        services.role_create(actor=world.owner, project=world.project, name="weird", role_type="god")
    with pytest.raises(PermissionDenied):
        services.role_create(actor=world.member, project=world.project, name="mine")

    services.role_assign(actor=world.admin, role=role, user=world.member)
    with pytest.raises(ValidationError, match="still assigned to bob"):
        services.role_drop(actor=world.admin, role=role)
    services.role_unassign(actor=world.admin, assignment=role.assignments.get())
    services.role_drop(actor=world.admin, role=role)
    assert not Role.objects.filter(project=world.project, name="analyst").exists()
    assert actions_for(world.project, target_type__in=["tenancy.role"]) == ["role.create", "role.drop"]
    assert [e.details["role"] for e in Event.objects.filter(action__in=["role.assign", "role.unassign"])] == [
        "analyst", "analyst"]


def test_builtin_and_workspace_roles_cannot_be_dropped(world):
    for name in ("admin", WorkspaceRole.DEVELOPER):
        with pytest.raises(ValidationError, match="built in"):
            services.role_drop(actor=world.owner, role=Role.objects.get(project=world.project, name=name))


def test_roles_are_assigned_to_members_only_and_once(world):
    role = Role.objects.get(project=world.project, name=WorkspaceRole.DEVELOPER)
    with pytest.raises(ValidationError, match="not a member"):
        services.role_assign(actor=world.owner, role=role, user=world.stranger)
    services.role_assign(actor=world.owner, role=role, user=world.member)
    with pytest.raises(ValidationError, match="already holds"):
        services.role_assign(actor=world.owner, role=role, user=world.member)
    assert RoleAssignment.objects.filter(role=role).count() == 1


@pytest.mark.parametrize("role_name", ["super_administrator", "admin"])
def test_only_the_owner_assigns_super_administrator_and_admin(world, role_name):
    role = Role.objects.get(project=world.project, name=role_name)
    super_admin = make_subaccount(world.owner)
    services.tenant_role_assign(actor=world.owner, user=super_admin, role="super_administrator")
    # Neither the tenant's Admin nor its Super_Administrator (a sub-account) may.
    for actor in (world.admin, super_admin, world.member):
        with pytest.raises(PermissionDenied):
            services.role_assign(actor=actor, role=role, user=world.member)
    assignment = services.role_assign(actor=world.owner, role=role, user=world.member)
    # A project Admin manages members and roles but cannot hand out or take back admin roles.
    assert "manage_roles" in project_capabilities(world.member, world.project)
    assert "assign_admin_roles" not in project_capabilities(world.member, world.project)
    with pytest.raises(PermissionDenied):
        services.role_unassign(actor=world.admin, assignment=assignment)

    # A project owner who is a sub-account (created by the tenant Admin) may assign them too.
    project = make_project(world.admin, name="admins_project")
    services.member_add(actor=world.admin, project=project, user=world.member)
    services.role_assign(actor=world.admin, role=project.roles.get(name=role_name), user=world.member)
    assert RoleAssignment.objects.filter(role__project=project, user=world.member).exists()


def test_admin_cannot_grant_a_role_carrying_rights_it_lacks(world):
    security = Role.objects.get(project=world.project, name=WorkspaceRole.SECURITY_ADMINISTRATOR)
    with pytest.raises(PermissionDenied, match="rights you do not hold"):
        services.role_assign(actor=world.admin, role=security, user=world.admin)
    assert not RoleAssignment.objects.filter(role=security).exists()
    services.role_assign(actor=world.owner, role=security, user=world.member)
    assert "manage_security" in project_capabilities(world.member, world.project)


def test_workspace_developer_writes_in_dev_and_only_reads_in_prod():
    owner = make_owner()
    prod = make_project(owner, name="lake_prod")
    dev = make_project(owner, name="lake_dev", environment="dev", prod_project=prod)
    developer = make_subaccount(owner)
    for project in (prod, dev):
        services.member_add(actor=owner, project=project, user=developer)
        role = workspace_role_get(project=project, workspace_role=WorkspaceRole.DEVELOPER)
        services.role_assign(actor=owner, role=role, user=developer)

    def table_actions(project, role_name):
        role = Role.objects.get(project=project, name=role_name)
        return {action for p in role.privileges if p["object_type"] == "table" for action in p["actions"]}

    # The developer holds the workspace role in both projects; what it grants differs.
    assert RoleAssignment.objects.filter(user=developer, role__name=WorkspaceRole.DEVELOPER).count() == 2
    assert "All" in table_actions(dev, WorkspaceRole.DEVELOPER)
    assert table_actions(prod, WorkspaceRole.DEVELOPER) == {"Describe", "Select"}
    # In prod the changes are the deployer's.
    assert {"Alter", "Update", "Drop"} <= table_actions(prod, WorkspaceRole.DEPLOYER)
    assert table_actions(dev, WorkspaceRole.DEPLOYER) == {"Describe"}


# --- accounts and tenant roles -------------------------------------------------------------

def test_subaccount_create_validates_and_is_audited(world):
    user = services.subaccount_create(actor=world.admin, username="carol", password=PASSWORD, email="c@x.example")
    assert user.tenant_id == world.owner.tenant_id and not user.is_primary and user.check_password(PASSWORD)
    assert Event.objects.filter(action="user.create", target_repr="carol", actor=world.admin).exists()
    with pytest.raises(ValidationError) as error:
        services.subaccount_create(actor=world.owner, username="carol", password=PASSWORD)
    assert "username" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.subaccount_create(actor=world.owner, username="otto", password=PASSWORD)  # another tenant's
    assert "username" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.subaccount_create(actor=world.owner, username="Carol!", password=PASSWORD)
    assert "username" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.subaccount_create(actor=world.owner, username="dave", password="short")
    assert "password" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.subaccount_create(actor=world.owner, username="erin", password=PASSWORD, email="not-an-email")
    assert "email" in error.value.message_dict
    with pytest.raises(PermissionDenied):
        services.subaccount_create(actor=world.member, username="frank", password=PASSWORD)
    assert Event.objects.filter(action="user.create", target_repr__in=["dave", "erin", "frank"]).count() == 0


@pytest.mark.argon2
def test_subaccount_passwords_are_hashed_with_argon2():
    owner = make_owner()
    user = make_subaccount(owner)
    assert owner.password.startswith("argon2$") and user.password.startswith("argon2$")
    assert user.check_password(PASSWORD)


def test_signup_makes_a_tenant_owned_by_its_primary_account_and_is_audited():
    owner = services.tenant_signup(tenant_name="fresh_co", username="founder", password=PASSWORD)
    assert owner.is_primary and owner.tenant.name == "fresh_co"
    event = Event.objects.get(action="tenant.signup")
    assert event.actor == owner and event.tenant_id == owner.tenant_id and event.details == {"username": "founder"}
    with pytest.raises(ValidationError) as error:
        services.tenant_signup(tenant_name="fresh_co", username="second", password=PASSWORD)
    assert "tenant_name" in error.value.message_dict


def test_signup_with_bad_account_leaves_no_tenant():
    with pytest.raises(ValidationError):
        services.tenant_signup(tenant_name="fresh_tenant", username="fresh", password="short")
    from apps.tenancy.models import Tenant
    assert not Tenant.objects.filter(name="fresh_tenant").exists()


def test_subaccount_set_active_rules(world):
    services.subaccount_set_active(actor=world.admin, user=world.member, is_active=False)
    world.member.refresh_from_db()
    assert not world.member.is_active
    assert Event.objects.filter(action="user.disable", target_repr="bob").exists()
    with pytest.raises(ValidationError, match="primary account"):
        services.subaccount_set_active(actor=world.admin, user=world.owner, is_active=False)
    with pytest.raises(ValidationError, match="your own"):
        services.subaccount_set_active(actor=world.admin, user=world.admin, is_active=False)
    other_admin = make_subaccount(world.owner)
    services.tenant_role_assign(actor=world.owner, user=other_admin, role="admin")
    with pytest.raises(PermissionDenied):
        services.subaccount_set_active(actor=world.admin, user=other_admin, is_active=False)
    with pytest.raises(PermissionDenied):
        services.subaccount_set_active(actor=world.stranger, user=world.member, is_active=True)
    with pytest.raises(ValidationError, match="No such account"):
        services.subaccount_set_active(actor=world.owner, user=world.other_owner, is_active=False)


def test_tenant_role_rules(world):
    super_admin = make_subaccount(world.owner)
    with pytest.raises(PermissionDenied):
        services.tenant_role_assign(actor=world.admin, user=super_admin, role="super_administrator")
    services.tenant_role_assign(actor=world.owner, user=super_admin, role="super_administrator")
    services.tenant_role_assign(actor=super_admin, user=world.member, role="admin")
    with pytest.raises(ValidationError, match="already holds"):
        services.tenant_role_assign(actor=world.owner, user=world.member, role="admin")
    with pytest.raises(ValidationError, match="Unknown tenant role"):
        services.tenant_role_assign(actor=world.owner, user=world.member, role="root")
    with pytest.raises(ValidationError, match="No such account"):
        services.tenant_role_assign(actor=world.owner, user=world.other_owner, role="admin")
    with pytest.raises(PermissionDenied):
        services.tenant_role_assign(actor=world.admin, user=world.stranger, role="admin")

    assignment = TenantRoleAssignment.objects.get(user=super_admin)
    with pytest.raises(PermissionDenied):
        services.tenant_role_unassign(actor=world.admin, assignment=assignment)
    services.tenant_role_unassign(actor=world.owner, assignment=assignment)
    assert not TenantRoleAssignment.objects.filter(user=super_admin).exists()
    assert actions_for(tenant_id=world.owner.tenant_id, action__startswith="tenant_role.") == [
        "tenant_role.assign", "tenant_role.assign", "tenant_role.assign", "tenant_role.unassign"]


def test_a_failed_change_leaves_no_event(world):
    before = Event.objects.count()
    with pytest.raises(ValidationError):
        services.member_add(actor=world.owner, project=world.project, user=world.member)
    assert Event.objects.count() == before
