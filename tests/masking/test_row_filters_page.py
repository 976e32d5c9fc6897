"""The row filters page (/masking/<project>/row-filters/): the list by table for whoever sees
the project, and for security managers the create form, enable/disable and delete."""

import pytest
from django.urls import reverse

from apps.masking.models import RowFilter
from apps.masking.row_filters import row_filter_create
from tests.factories import client_for, make_owner
from tests.masking.test_row_filters import row_filter_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


@pytest.fixture
def world():
    world = row_filter_world()
    world.url = reverse("row_filters:list", kwargs={"name": world.project.name})
    world.eu_only = row_filter_create(actor=world.owner, project=world.project, table=world.accounts, name="eu_only",
                                      expression="region = 'EU'", role=world.analyst)
    return world


def test_a_manager_sees_the_filters_by_table_with_their_forms(world):
    response = client_for(world.security).get(world.url)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="table-accounts"' in html and "role analyst" in html and "&quot;region&quot; = &#x27;EU&#x27;" in html
    assert 'id="row-filter-create-form"' in html and ">Disable</button>" in html and ">Delete</button>" in html
    assert 'id="security-nav"' in html


def test_a_member_who_does_not_manage_security_sees_the_list_without_forms_and_may_not_post(world):
    client = client_for(world.carol)
    base = f"/masking/{world.project.name}/row-filters/"

    html = client.get(world.url).content.decode()
    created = client.post(base + "new/", {"table": "accounts", "name": "x", "subject_kind": "everyone",
                                          "expression": "nosuch"})
    disabled = client.post(f"{base}{world.eu_only.pk}/enabled/", {"enabled": "false"})
    deleted = client.post(f"{base}{world.eu_only.pk}/delete/")

    assert "eu_only" in html and "row-filter-create-form" not in html and ">Delete</button>" not in html
    assert [created.status_code, disabled.status_code, deleted.status_code] == [403, 403, 403]
    assert RowFilter.objects.get().enabled is True


def test_a_manager_creates_a_filter_from_the_form(world):
    response = client_for(world.owner).post(f"{world.url}new/", {
        "table": "payments", "name": "bob_small", "subject_kind": "user", "subject": world.bob.username,
        "expression": "amount < 10", "description": "small payments only"}, follow=True)

    assert response.redirect_chain == [(world.url, 302)]
    row_filter = RowFilter.objects.get(name="bob_small")
    assert (row_filter.table, row_filter.user, row_filter.expression) == (world.payments, world.bob, "\"amount\" < 10")
    assert "Created row filter bob_small on payments." in response.content.decode()


def test_a_rejected_filter_shows_each_error_next_to_its_field_and_keeps_what_was_typed(world):
    response = client_for(world.owner).post(f"{world.url}new/", {
        "table": "accounts", "name": "typo", "subject_kind": "everyone", "expression": "regoin = 'EU'"})

    html = response.content.decode()
    assert response.status_code == 400
    assert response.context["errors"] == {"expression": ["accounts has no column regoin; did you mean region?"]}
    assert 'is-invalid" aria-describedby="row-filter-expression-help">regoin = &#x27;EU&#x27;</textarea>' in html
    assert '<div class="invalid-feedback d-block">accounts has no column regoin; did you mean region?</div>' in html
    assert 'value="typo"' in html
    assert RowFilter.objects.count() == 1


def test_a_manager_disables_enables_and_deletes_a_filter(world):
    client = client_for(world.owner)
    base = f"/masking/{world.project.name}/row-filters/{world.eu_only.pk}/"

    client.post(base + "enabled/", {"enabled": "false"})
    disabled = RowFilter.objects.get().enabled
    client.post(base + "enabled/", {"enabled": "true"})
    enabled = RowFilter.objects.get().enabled
    response = client.post(base + "delete/", follow=True)

    assert (disabled, enabled) == (False, True)
    assert not RowFilter.objects.exists()
    html = response.content.decode()
    assert "Deleted row filter eu_only." in html and 'id="no-row-filters"' in html


def test_another_tenant_finds_neither_the_page_nor_its_filters(world):
    client = client_for(make_owner())
    base = f"/masking/{world.project.name}/row-filters/"

    assert client.get(world.url).status_code == 404
    assert client.post(f"{base}{world.eu_only.pk}/delete/").status_code == 404
    assert RowFilter.objects.exists()
