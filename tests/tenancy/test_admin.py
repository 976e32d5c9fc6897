import pytest
from django.test import Client

from apps.accounts.models import User
from apps.tenancy.models import Project
from tests.factories import make_owner, make_project

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def superuser_client():
    root = User.objects.create_superuser(username="root", password="root-password-long", email="r@example.com")
    client = Client()
    client.force_login(root)
    return client


def test_superuser_reads_projects_but_changes_them_only_through_the_portal(superuser_client):
    project = make_project(make_owner(), name="admin_seen")
    assert "admin_seen" in superuser_client.get("/admin/tenancy/project/").content.decode()
    assert superuser_client.get(f"/admin/tenancy/project/{project.pk}/change/").status_code == 200
    assert superuser_client.get("/admin/tenancy/project/add/").status_code == 403
    response = superuser_client.post(f"/admin/tenancy/project/{project.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()


def test_tenant_owner_is_no_admin_user():
    owner = make_owner()
    client = Client()
    client.force_login(owner)
    assert client.get("/admin/tenancy/project/").status_code == 302
