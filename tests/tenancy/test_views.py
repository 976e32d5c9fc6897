"""The tenancy pages through Django's test client: who may see and do what, forms calling
the services, readable errors, and 404 for another tenant's objects."""

import pytest
from django.test import Client

from apps.tenancy import services
from apps.tenancy.models import Membership, Project, Role, RoleAssignment, TenantRoleAssignment
from apps.tenancy.roles import WorkspaceRole
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def page(world):
    """``page("member")``: a logged-in Django test client."""
    people = {"other": world.other_owner, "member": world.member, "admin": world.admin, "owner": world.owner,
              "stranger": world.stranger}

    def make(who=None):
        client = Client()
        if who is not None:
            client.force_login(people[who])
        return client

    return make


def text(response) -> str:
    return response.content.decode()


def assignable_roles(body: str) -> str:
    return body.split('id="assign-role"', 1)[1].split("</select>", 1)[0]


def test_home_redirects_to_projects_and_anonymous_users_go_to_login(page):
    response = page().get("/")
    assert response.status_code == 302 and response["Location"] == "/projects/"
    for url in ("/projects/", "/projects/wonderland_t/", "/projects/new/", "/users/"):
        response = page().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
    response = page().post("/projects/wonderland_t/members/", {"username": "sam"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_project_list_shows_visible_projects_and_the_switcher(page, world):
    body = text(page("member").get("/projects/"))
    assert 'href="/projects/wonderland_t/"' in body
    assert "globex_data" not in body
    assert 'id="project-switcher"' in body and '<option value="wonderland_t"' in body
    assert "acme_t" in body  # the tenant in the navbar
    assert "New project" not in body
    assert "New project" in text(page("owner").get("/projects/"))
    other = text(page("other").get("/projects/"))
    assert "globex_data" in other and "wonderland_t" not in other
    assert 'id="no-projects"' in text(page("stranger").get("/projects/"))


def test_base_layout_has_navigation_logout_form_and_vendored_assets(page):
    body = text(page("member").get("/projects/"))
    assert 'name="csrfmiddlewaretoken"' in body and 'method="post"' in body and "Log out" in body
    assert "/static/vendor/bootstrap/bootstrap.min.css" in body and "/static/vendor/htmx/htmx.min.js" in body
    assert "cdn" not in body.lower()
    for label in ("Projects", "Users", "Audit", "AccessKeys"):
        assert f">{label}</a>" in body


def test_switcher_navigates_and_remembers_the_project(page):
    client = page("member")
    response = client.get("/projects/switch/?project=wonderland_t")
    assert response.status_code == 302 and response["Location"] == "/projects/wonderland_t/"
    assert client.get("/projects/switch/?project=globex_data").status_code == 404
    assert client.get("/projects/switch/?project=").headers["Location"] == "/projects/"
    client.get("/projects/wonderland_t/")
    assert client.session["project"] == "wonderland_t"
    assert '<option value="wonderland_t" selected>' in text(client.get("/projects/"))
    client.get("/projects/globex_data/")
    assert client.session["project"] == "wonderland_t"


@pytest.mark.parametrize("who, status", [("other", 404), ("stranger", 404), ("member", 200), ("admin", 200),
                                         ("owner", 200)])
def test_project_detail_access(page, who, status):
    assert page(who).get("/projects/wonderland_t/").status_code == status
    assert page(who).get("/projects/no_such_project/").status_code == 404


def test_project_detail_shows_members_roles_workspace_guide_and_pair(page, world):
    services.project_create(actor=world.owner, name="wonderland_t_dev", environment="dev", prod_project=world.project)
    services.role_assign(actor=world.owner, role=Role.objects.get(project=world.project, name=WorkspaceRole.DEVELOPER),
                         user=world.member)
    body = text(page("member").get("/projects/wonderland_t/"))
    assert 'id="member-bob"' in body and 'id="member-alice"' in body
    assert 'id="role-role_project_dev"' in body and "Developer" in body
    assert 'href="/projects/wonderland_t_dev/"' in body
    assert "Deployer" in body and "Alter, Update, Drop" in body  # what a deployer gets in prod
    # A plain member sees no management forms.
    assert 'id="member-add-form"' not in body and 'id="role-assign-form"' not in body
    owner_body = text(page("owner").get("/projects/wonderland_t/"))
    assert 'id="member-add-form"' in owner_body and 'id="role-create-form"' in owner_body
    assert '<option value="admin">' in assignable_roles(owner_body)
    # A tenant Admin manages roles but is not offered the admin roles.
    admin_body = text(page("admin").get("/projects/wonderland_t/"))
    assert f'<option value="{WorkspaceRole.DEVELOPER}">' in assignable_roles(admin_body)
    assert '<option value="admin">' not in assignable_roles(admin_body)


def test_project_detail_makes_a_constant_number_of_queries(page, world, django_assert_max_num_queries):
    client = page("owner")
    client.get("/projects/wonderland_t/")
    with django_assert_max_num_queries(40) as first:
        client.get("/projects/wonderland_t/")
    for n in range(3):
        services.role_create(actor=world.owner, project=world.project, name=f"custom_{n}")
        services.role_assign(actor=world.owner, role=Role.objects.get(project=world.project, name=f"custom_{n}"),
                             user=world.member)
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get("/projects/wonderland_t/")


def test_create_project_form(page, world):
    assert page("member").get("/projects/new/").status_code == 403
    client = page("owner")
    assert 'name="name"' in text(client.get("/projects/new/"))
    response = client.post("/projects/new/", {"name": "Bad Name", "environment": "prod"})
    assert response.status_code == 400 and "Use 3 to 63 characters" in text(response)
    response = client.post("/projects/new/", {"name": "wonderland_t", "environment": "prod"})
    assert response.status_code == 400 and "already exists" in text(response)
    response = client.post("/projects/new/", {"name": "garden_dev", "environment": "dev",
                                              "prod_project": "wonderland_t", "description": "dev side"})
    assert response.status_code == 302 and response["Location"] == "/projects/garden_dev/"
    project = Project.objects.get(name="garden_dev")
    assert project.owner == world.owner and project.prod_project == world.project
    assert "garden_dev" in text(client.get(response["Location"]))
    response = page("member").post("/projects/new/", {"name": "sneaky", "environment": "prod"})
    assert response.status_code == 403 and "Only the tenant" in text(response)
    assert not Project.objects.filter(name="sneaky").exists()


def test_member_forms(page, world):
    response = page("member").post("/projects/wonderland_t/members/", {"username": "sam"})
    assert response.status_code == 403
    assert page("other").post("/projects/wonderland_t/members/", {"username": "sam"}).status_code == 404
    assert not Membership.objects.filter(user=world.stranger).exists()

    client = page("admin")
    response = client.post("/projects/wonderland_t/members/", {"username": "sam"}, follow=True)
    assert "sam is now a member of wonderland_t" in text(response)
    assert Membership.objects.get(project=world.project, user=world.stranger).is_active
    response = client.post("/projects/wonderland_t/members/", {"username": "ghost"}, follow=True)
    assert "No account named &#x27;ghost&#x27;" in text(response)
    response = client.post("/projects/wonderland_t/members/", {"username": "sam"}, follow=True)
    assert "already a member" in text(response)

    response = client.post("/projects/wonderland_t/members/sam/remove/", follow=True)
    assert "grants are kept" in text(response)
    assert not Membership.objects.get(project=world.project, user=world.stranger).is_active
    response = client.post("/projects/wonderland_t/members/alice/remove/", follow=True)
    assert "owner cannot be removed" in text(response)
    assert client.post("/projects/wonderland_t/members/sam/remove/").status_code == 404
    assert client.get("/projects/wonderland_t/members/bob/remove/").status_code == 405


def test_role_forms(page, world):
    client = page("admin")
    response = client.post("/projects/wonderland_t/roles/", {"name": "analyst", "role_type": "resource"}, follow=True)
    assert "Role analyst created" in text(response)
    response = client.post("/projects/wonderland_t/roles/", {"name": "Bad!", "role_type": "resource"}, follow=True)
    assert "Name:" in text(response) and not Role.objects.filter(name="Bad!").exists()

    response = client.post("/projects/wonderland_t/roles/assign/", {"role": "analyst", "username": "bob"}, follow=True)
    assert "bob now holds analyst" in text(response)
    response = client.post("/projects/wonderland_t/roles/assign/", {"role": "admin", "username": "bob"})
    assert response.status_code == 403 and "You may not" in text(response)
    assert page("member").post("/projects/wonderland_t/roles/assign/",
                               {"role": "analyst", "username": "alice"}).status_code == 403
    assert client.post("/projects/wonderland_t/roles/assign/", {"role": "ghost", "username": "bob"}).status_code == 404

    response = client.post("/projects/wonderland_t/roles/analyst/drop/", follow=True)
    assert "still assigned to bob" in text(response)
    client.post("/projects/wonderland_t/roles/analyst/holders/bob/remove/")
    assert not RoleAssignment.objects.filter(role__name="analyst").exists()
    client.post("/projects/wonderland_t/roles/analyst/drop/")
    assert not Role.objects.filter(project=world.project, name="analyst").exists()
    assert page("other").post("/projects/wonderland_t/roles/admin/drop/").status_code == 404


def test_description_form(page, world):
    assert page("member").post("/projects/wonderland_t/edit/", {"description": "x"}).status_code == 403
    page("owner").post("/projects/wonderland_t/edit/", {"description": "new words"})
    world.project.refresh_from_db()
    assert world.project.description == "new words"


def test_users_page(page, world):
    body = text(page("member").get("/users/"))
    assert 'id="account-bob"' in body and 'id="account-alice"' in body and "otto" not in body
    assert 'id="user-create-form"' not in body
    assert 'id="user-create-form"' in text(page("admin").get("/users/"))
    assert "otto" in text(page("other").get("/users/")) and "bob" not in text(page("other").get("/users/"))


def test_users_forms(page, world):
    response = page("member").post("/users/new/", {"username": "mallory", "password": PASSWORD})
    assert response.status_code == 403
    client = page("admin")
    response = client.post("/users/new/", {"username": "carol", "password": PASSWORD}, follow=True)
    assert "Sub-account carol created" in text(response)
    response = client.post("/users/new/", {"username": "carol", "password": PASSWORD}, follow=True)
    assert "already exists" in text(response)
    response = client.post("/users/new/", {"username": "weak", "password": "123"}, follow=True)
    assert "Password:" in text(response)

    client.post("/users/bob/active/", {"is_active": "false"})
    world.member.refresh_from_db()
    assert not world.member.is_active
    assert client.post("/users/otto/active/", {"is_active": "false"}).status_code == 404
    response = client.post("/users/alice/active/", {"is_active": "false"}, follow=True)
    assert "cannot be disabled" in text(response)

    assert client.post("/users/tenant-roles/", {"username": "sam", "role": "admin"}).status_code == 403
    owner = page("owner")
    response = owner.post("/users/tenant-roles/", {"username": "sam", "role": "admin"}, follow=True)
    assert "sam now holds tenant role admin" in text(response)
    assignment = TenantRoleAssignment.objects.get(user=world.stranger)
    assert page("other").post(f"/users/tenant-roles/{assignment.pk}/remove/").status_code == 404
    owner.post(f"/users/tenant-roles/{assignment.pk}/remove/")
    assert not TenantRoleAssignment.objects.filter(user=world.stranger).exists()
