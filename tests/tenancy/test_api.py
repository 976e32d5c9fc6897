"""The tenancy API, endpoint by endpoint: anonymous, another tenant, a plain member, a tenant
Admin and the tenant owner, allowed and refused cases side by side."""

import pytest

from apps.audit.models import Event
from apps.tenancy import services
from apps.tenancy.models import Membership, Project, Role, RoleAssignment, TenantRoleAssignment
from apps.tenancy.roles import WorkspaceRole
from tests.factories import PASSWORD, make_subaccount

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])

ANONYMOUS_STATUSES = (401, 403)


@pytest.fixture
def as_(world, api_client_for):
    """``as_("member").get(url)``: a client acting as one of the world's people."""
    people = {"anonymous": None, "other": world.other_owner, "member": world.member, "admin": world.admin,
              "owner": world.owner, "stranger": world.stranger}
    return lambda who: api_client_for(people[who])


def names(response, key="name"):
    assert response.status_code == 200, response.content
    return sorted(item[key] for item in response.json()["results"])


def error_fields(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


# --- /api/v1/users -----------------------------------------------------------------------

def test_users_list_is_the_callers_tenant_and_never_shows_password_hashes(as_):
    assert as_("anonymous").get("/api/v1/users/").status_code in ANONYMOUS_STATUSES
    assert names(as_("member").get("/api/v1/users/"), "username") == ["adam", "alice", "bob", "sam"]
    assert names(as_("other").get("/api/v1/users/"), "username") == ["otto"]
    response = as_("owner").get("/api/v1/users/")
    assert "password" not in response.content.decode()
    by_name = {u["username"]: u for u in response.json()["results"]}
    assert by_name["alice"]["is_primary"] and by_name["alice"]["tenant_roles"] == ["super_administrator"]
    assert by_name["adam"]["tenant_roles"] == ["admin"]
    assert by_name["bob"]["tenant"] == "acme_t"


def test_users_list_filters(as_, world):
    services.subaccount_set_active(actor=world.owner, user=world.stranger, is_active=False)
    assert names(as_("owner").get("/api/v1/users/?is_active=false"), "username") == ["sam"]
    assert names(as_("owner").get("/api/v1/users/?username=ad"), "username") == ["adam"]
    page = as_("owner").get("/api/v1/users/?page_size=2").json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("member", (403,)),
                                         ("admin", (201,)), ("owner", (201,)), ("other", (201,))])
def test_users_create(as_, world, who, status):
    response = as_(who).post("/api/v1/users/", {"username": f"new_{who}", "password": PASSWORD}, format="json")
    assert response.status_code in status, response.content
    created = Event.objects.filter(action="user.create", target_repr=f"new_{who}").exists()
    assert created == (response.status_code == 201)
    if response.status_code == 201:
        body = response.json()
        assert "password" not in body and not body["is_primary"]
        assert body["tenant"] == ("globex_t" if who == "other" else "acme_t")


def test_users_create_bad_input_is_400_with_fields_and_changes_nothing(as_):
    client = as_("owner")
    assert "username" in error_fields(client.post("/api/v1/users/", {"username": "bob", "password": PASSWORD},
                                                  format="json"))
    assert "username" in error_fields(client.post("/api/v1/users/", {"username": "Bad Name", "password": PASSWORD},
                                                  format="json"))
    assert "password" in error_fields(client.post("/api/v1/users/", {"username": "weakling", "password": "123"},
                                                  format="json"))
    assert "password" in error_fields(client.post("/api/v1/users/", {"username": "nopass"}, format="json"))
    response = client.post("/api/v1/users/", {"username": "Bad Name", "password": PASSWORD}, format="json")
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Event.objects.filter(action="user.create", target_repr__in=["weakling", "nopass"]).exists()


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (200,)),
                                         ("admin", (200,)), ("owner", (200,))])
def test_users_retrieve(as_, who, status):
    response = as_(who).get("/api/v1/users/bob/")
    assert response.status_code in status
    if response.status_code == 200:
        assert response.json()["username"] == "bob"


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (200,)), ("owner", (200,))])
def test_users_patch_is_active(as_, world, who, status):
    response = as_(who).patch("/api/v1/users/sam/", {"is_active": False}, format="json")
    assert response.status_code in status
    world.stranger.refresh_from_db()
    assert world.stranger.is_active == (response.status_code != 200)


def test_users_patch_refuses_the_primary_account(as_, world):
    assert "is_active" in error_fields(as_("admin").patch("/api/v1/users/alice/", {"is_active": False}, format="json"))
    world.owner.refresh_from_db()
    assert world.owner.is_active


# --- /api/v1/tenant-roles ----------------------------------------------------------------

def test_tenant_roles_list(as_):
    assert as_("anonymous").get("/api/v1/tenant-roles/").status_code in ANONYMOUS_STATUSES
    assert names(as_("member").get("/api/v1/tenant-roles/"), "username") == ["adam"]
    assert names(as_("other").get("/api/v1/tenant-roles/"), "username") == []
    assert names(as_("owner").get("/api/v1/tenant-roles/?role=super_administrator"), "username") == []


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (400,)), ("member", (403,)),
                                         ("admin", (403,)), ("owner", (201,))])
def test_tenant_roles_assign(as_, world, who, status):
    response = as_(who).post("/api/v1/tenant-roles/", {"username": "bob", "role": "admin"}, format="json")
    assert response.status_code in status, response.content
    assert TenantRoleAssignment.objects.filter(user=world.member).exists() == (response.status_code == 201)


def test_tenant_roles_assign_bad_input(as_):
    assert "role" in error_fields(as_("owner").post("/api/v1/tenant-roles/", {"username": "bob", "role": "root"},
                                                    format="json"))
    assert "role" in error_fields(as_("owner").post("/api/v1/tenant-roles/", {"username": "adam", "role": "admin"},
                                                    format="json"))


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (403,)), ("owner", (204,))])
def test_tenant_roles_delete(as_, world, who, status):
    assignment = TenantRoleAssignment.objects.get(user=world.admin)
    response = as_(who).delete(f"/api/v1/tenant-roles/{assignment.pk}/")
    assert response.status_code in status
    assert TenantRoleAssignment.objects.filter(pk=assignment.pk).exists() == (response.status_code != 204)


# --- /api/v1/projects --------------------------------------------------------------------

def test_projects_list_shows_only_what_the_caller_may_see(as_, world):
    assert as_("anonymous").get("/api/v1/projects/").status_code in ANONYMOUS_STATUSES
    assert names(as_("other").get("/api/v1/projects/")) == ["globex_data"]
    assert names(as_("stranger").get("/api/v1/projects/")) == []
    assert names(as_("member").get("/api/v1/projects/")) == ["wonderland_t"]
    services.project_create(actor=world.owner, name="hidden_lab")
    assert names(as_("member").get("/api/v1/projects/")) == ["wonderland_t"]
    assert names(as_("admin").get("/api/v1/projects/")) == ["hidden_lab", "wonderland_t"]


def test_projects_output_carries_pairing_version_and_capabilities(as_, world):
    services.project_create(actor=world.owner, name="wonderland_t_dev", environment="dev", prod_project=world.project)
    results = {p["name"]: p for p in as_("owner").get("/api/v1/projects/").json()["results"]}
    prod, dev = results["wonderland_t"], results["wonderland_t_dev"]
    assert prod["tenant"] == "acme_t" and prod["owner"] == "alice" and prod["environment"] == "prod"
    assert prod["dev_project"] == "wonderland_t_dev" and prod["prod_project"] is None
    assert dev["prod_project"] == "wonderland_t" and dev["dev_project"] is None
    assert isinstance(prod["security_version"], int)
    assert "assign_admin_roles" in prod["capabilities"]
    member_view = as_("member").get("/api/v1/projects/wonderland_t/").json()
    assert member_view["capabilities"] == ["view"]
    admin_view = as_("admin").get("/api/v1/projects/wonderland_t/").json()
    assert "manage_members" in admin_view["capabilities"] and "assign_admin_roles" not in admin_view["capabilities"]
    assert names(as_("owner").get("/api/v1/projects/?environment=dev")) == ["wonderland_t_dev"]


def test_projects_list_makes_a_constant_number_of_queries(as_, world, django_assert_max_num_queries):
    client = as_("owner")
    client.get("/api/v1/projects/")  # warm up anything cached per process
    with django_assert_max_num_queries(12) as few:
        client.get("/api/v1/projects/")
    for n in range(5):
        project = services.project_create(actor=world.owner, name=f"extra_{n}")
        services.member_add(actor=world.owner, project=project, user=world.member)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/projects/")
    assert len(response.json()["results"]) == 6


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("member", (403,)),
                                         ("admin", (201,)), ("owner", (201,)), ("other", (201,))])
def test_projects_create(as_, world, who, status):
    response = as_(who).post("/api/v1/projects/", {"name": f"made_by_{who}", "description": "d"}, format="json")
    assert response.status_code in status, response.content
    assert Project.objects.filter(name=f"made_by_{who}").exists() == (response.status_code == 201)
    if response.status_code == 201:
        body = response.json()
        assert body["environment"] == "prod" and body["owner"] == {"admin": "adam", "owner": "alice",
                                                                   "other": "otto"}[who]


def test_projects_create_bad_input_is_400_and_changes_nothing(as_, world):
    client = as_("owner")
    assert "name" in error_fields(client.post("/api/v1/projects/", {"name": "Bad-Name"}, format="json"))
    assert "name" in error_fields(client.post("/api/v1/projects/", {"name": "wonderland_t"}, format="json"))
    assert "name" in error_fields(client.post("/api/v1/projects/", {"name": "globex_data"}, format="json"))
    assert "environment" in error_fields(client.post("/api/v1/projects/", {"name": "ok_name", "environment": "qa"},
                                                     format="json"))
    # Pairing with another tenant's project: it does not exist as far as the caller knows.
    assert "prod_project" in error_fields(client.post(
        "/api/v1/projects/", {"name": "ok_dev", "environment": "dev", "prod_project": "globex_data"}, format="json"))
    assert "prod_project" in error_fields(client.post(
        "/api/v1/projects/", {"name": "ok_prod", "environment": "prod", "prod_project": "wonderland_t"}, format="json"))
    assert set(Project.objects.values_list("name", flat=True)) == {"wonderland_t", "globex_data"}
    response = client.post("/api/v1/projects/", {"name": "ok_dev", "environment": "dev",
                                                  "prod_project": "wonderland_t"}, format="json")
    assert response.status_code == 201 and response.json()["prod_project"] == "wonderland_t"


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("stranger", (404,)),
                                         ("member", (200,)), ("admin", (200,)), ("owner", (200,))])
def test_projects_retrieve(as_, who, status):
    response = as_(who).get("/api/v1/projects/wonderland_t/")
    assert response.status_code in status
    if status == (404,):
        assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}


def test_projects_retrieve_unknown_is_404(as_):
    assert as_("owner").get("/api/v1/projects/nothing_here/").status_code == 404
    assert as_("owner").get("/api/v1/projects/globex_data/").status_code == 404


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (200,)), ("owner", (200,))])
def test_projects_patch_description(as_, world, who, status):
    response = as_(who).patch("/api/v1/projects/wonderland_t/", {"description": f"by {who}"}, format="json")
    assert response.status_code in status
    world.project.refresh_from_db()
    assert (world.project.description == f"by {who}") == (response.status_code == 200)


# --- /api/v1/projects/{name}/members -------------------------------------------------------

MEMBERS = "/api/v1/projects/wonderland_t/members/"


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("stranger", (404,)),
                                         ("member", (200,)), ("admin", (200,)), ("owner", (200,))])
def test_members_list(as_, who, status):
    response = as_(who).get(MEMBERS)
    assert response.status_code in status
    if response.status_code == 200:
        assert names(response, "username") == ["alice", "bob"]


def test_members_list_shows_roles_and_filters(as_, world):
    role = Role.objects.get(project=world.project, name=WorkspaceRole.DEVELOPER)
    services.role_assign(actor=world.owner, role=role, user=world.member)
    results = {m["username"]: m for m in as_("member").get(MEMBERS).json()["results"]}
    assert results["bob"]["roles"] == [WorkspaceRole.DEVELOPER] and results["alice"]["roles"] == []
    assert names(as_("member").get(MEMBERS + "?username=bo"), "username") == ["bob"]


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (201,)), ("owner", (201,))])
def test_members_add(as_, world, who, status):
    response = as_(who).post(MEMBERS, {"username": "sam"}, format="json")
    assert response.status_code in status
    assert Membership.objects.filter(project=world.project, user=world.stranger).exists() == (
        response.status_code == 201)


def test_members_add_bad_input(as_, world):
    other_sub = make_subaccount(world.other_owner, username="globex_sub")
    client = as_("owner")
    assert "username" in error_fields(client.post(MEMBERS, {"username": "globex_sub"}, format="json"))
    assert "username" in error_fields(client.post(MEMBERS, {"username": "nobody"}, format="json"))
    assert "user" in error_fields(client.post(MEMBERS, {"username": "bob"}, format="json"))
    assert not Membership.objects.filter(user=other_sub).exists()
    # Another tenant's primary account may be added.
    assert client.post(MEMBERS, {"username": "otto"}, format="json").status_code == 201
    assert as_("other").get("/api/v1/projects/wonderland_t/").status_code == 200


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (204,)), ("owner", (204,))])
def test_members_remove(as_, world, who, status):
    response = as_(who).delete(MEMBERS + "bob/")
    assert response.status_code in status
    membership = Membership.objects.get(project=world.project, user=world.member)
    assert membership.is_active == (response.status_code != 204)


def test_members_remove_refusals(as_, world):
    role = Role.objects.get(project=world.project, name=WorkspaceRole.VISITOR)
    services.role_assign(actor=world.owner, role=role, user=world.member)
    assert "user" in error_fields(as_("owner").delete(MEMBERS + "bob/"))
    assert "user" in error_fields(as_("admin").delete(MEMBERS + "alice/"))
    assert as_("owner").delete(MEMBERS + "sam/").status_code == 404
    assert Membership.objects.filter(project=world.project, is_active=True).count() == 2


# --- /api/v1/projects/{name}/roles -----------------------------------------------------------

ROLES = "/api/v1/projects/wonderland_t/roles/"


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("stranger", (404,)),
                                         ("member", (200,)), ("admin", (200,)), ("owner", (200,))])
def test_roles_list(as_, world, who, status):
    services.role_assign(actor=world.owner, role=Role.objects.get(project=world.project, name="admin"),
                         user=world.member)
    response = as_(who).get(ROLES)
    assert response.status_code in status
    if response.status_code == 200:
        roles = {r["name"]: r for r in response.json()["results"]}
        assert roles["admin"]["users"] == ["bob"] and roles["admin"]["kind"] == "builtin"
        assert roles[WorkspaceRole.DEVELOPER]["kind"] == "workspace"


def test_roles_list_filters(as_, world):
    assert names(as_("member").get(ROLES + "?kind=builtin")) == ["admin", "super_administrator"]
    services.role_assign(actor=world.owner, role=Role.objects.get(project=world.project, name="admin"),
                         user=world.member)
    assert names(as_("member").get(ROLES + "?username=bob")) == ["admin"]
    assert as_("member").get(ROLES + "admin/").json()["users"] == ["bob"]
    assert as_("member").get(ROLES + "no_such_role/").status_code == 404


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (201,)), ("owner", (201,))])
def test_roles_create(as_, world, who, status):
    response = as_(who).post(ROLES, {"name": "analyst", "role_type": "resource"}, format="json")
    assert response.status_code in status
    assert Role.objects.filter(project=world.project, name="analyst").exists() == (response.status_code == 201)
    if response.status_code == 201:
        assert response.json()["kind"] == "custom" and response.json()["users"] == []


def test_roles_create_bad_input(as_, world):
    client = as_("owner")
    assert "name" in error_fields(client.post(ROLES, {"name": "Analyst!"}, format="json"))
    assert "name" in error_fields(client.post(ROLES, {"name": "admin"}, format="json"))
    assert "role_type" in error_fields(client.post(ROLES, {"name": "analyst", "role_type": "god"}, format="json"))
    assert not Role.objects.filter(project=world.project, kind="custom").exists()


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (204,)), ("owner", (204,))])
def test_roles_drop(as_, world, who, status):
    services.role_create(actor=world.owner, project=world.project, name="analyst")
    response = as_(who).delete(ROLES + "analyst/")
    assert response.status_code in status
    assert Role.objects.filter(project=world.project, name="analyst").exists() == (response.status_code != 204)


def test_roles_drop_refusals(as_, world):
    assert "name" in error_fields(as_("owner").delete(ROLES + "admin/"))
    role = services.role_create(actor=world.owner, project=world.project, name="analyst")
    services.role_assign(actor=world.owner, role=role, user=world.member)
    assert "name" in error_fields(as_("owner").delete(ROLES + "analyst/"))
    assert Role.objects.filter(pk=role.pk).exists()


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (201,)), ("owner", (201,))])
def test_workspace_role_assignment(as_, world, who, status):
    response = as_(who).post(ROLES + f"{WorkspaceRole.DEVELOPER}/assignments/", {"username": "bob"}, format="json")
    assert response.status_code in status
    assigned = RoleAssignment.objects.filter(role__project=world.project, user=world.member).exists()
    assert assigned == (response.status_code == 201)
    if assigned:
        assert response.json()["role"] == WorkspaceRole.DEVELOPER and response.json()["username"] == "bob"


@pytest.mark.parametrize("who, status", [("member", 403), ("admin", 403), ("owner", 201)])
def test_admin_role_assignment_is_for_the_owner_alone(as_, world, who, status):
    response = as_(who).post(ROLES + "admin/assignments/", {"username": "bob"}, format="json")
    assert response.status_code == status
    assert RoleAssignment.objects.filter(role__name="admin", user=world.member).exists() == (status == 201)


def test_role_assignment_bad_input(as_, world):
    client = as_("owner")
    assert "user" in error_fields(client.post(ROLES + "admin/assignments/", {"username": "sam"}, format="json"))
    assert "username" in error_fields(client.post(ROLES + "admin/assignments/", {"username": "ghost"}, format="json"))
    assert "username" in error_fields(client.post(ROLES + "admin/assignments/", {}, format="json"))
    assert client.post(ROLES + "ghost_role/assignments/", {"username": "bob"}, format="json").status_code == 404
    assert not RoleAssignment.objects.filter(role__project=world.project).exists()


@pytest.mark.parametrize("who, status", [("anonymous", ANONYMOUS_STATUSES), ("other", (404,)), ("member", (403,)),
                                         ("admin", (204,)), ("owner", (204,))])
def test_role_unassignment(as_, world, who, status):
    role = Role.objects.get(project=world.project, name=WorkspaceRole.DEVELOPER)
    services.role_assign(actor=world.owner, role=role, user=world.member)
    response = as_(who).delete(ROLES + f"{WorkspaceRole.DEVELOPER}/assignments/bob/")
    assert response.status_code in status
    assert RoleAssignment.objects.filter(role=role, user=world.member).exists() == (response.status_code != 204)
    assert as_("owner").delete(ROLES + f"{WorkspaceRole.DEVELOPER}/assignments/sam/").status_code == 404


def test_a_refused_write_leaves_no_audit_event(as_, world):
    member, owner = as_("member"), as_("owner")  # making their AccessKeys is audited too
    before = Event.objects.count()
    assert member.post(MEMBERS, {"username": "sam"}, format="json").status_code == 403
    assert owner.post(MEMBERS, {"username": "bob"}, format="json").status_code == 400
    assert Event.objects.count() == before
