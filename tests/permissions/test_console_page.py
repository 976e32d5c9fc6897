"""The security console page: a statement posted from the page runs as the user, its events
are marked as console events, and the box can be filled from the history."""

import pytest

from apps.audit.models import Event
from apps.permissions.models import Grant
from tests.factories import client_for, make_owner
from tests.permissions.services_world import make_world

pytestmark = pytest.mark.django_db(databases=["default", "warehouse"])


def test_a_statement_posted_from_the_page_runs_and_is_audited_as_a_console_event():
    world = make_world()
    url = f"/security/{world.project.name}/console/"

    page = client_for(world.owner).post(url, {"statement": f"grant select on table orders to user "
                                                           f"{world.carol.username}"}).content.decode()

    assert 'id="console-output">OK' in page
    assert Grant.objects.filter(user=world.carol, object_name="orders").exists()
    assert set(Event.objects.filter(action__in=["permissions.grant", "permissions.statement"])
               .values_list("channel", flat=True)) == {"console"}


def test_a_syntax_error_shows_a_caret_and_the_history_refills_the_box():
    world = make_world()
    url = f"/security/{world.project.name}/console/"
    client = client_for(world.owner)

    page = client.post(url, {"statement": "show grantz"}).content.decode()
    refilled = client.get(url, {"statement": "show grants"}).content.decode()

    assert 'id="console-pointer">show grantz\n     ^</pre>' in page
    assert "?statement=show%20grantz" in page
    assert ">show grants</textarea>" in refilled


def test_another_tenants_project_is_not_found():
    world = make_world()

    response = client_for(make_owner()).post(f"/security/{world.project.name}/console/", {"statement": "whoami"})

    assert response.status_code == 404


def test_preview_from_the_page_shows_the_change_and_changes_nothing():
    world = make_world()
    url = f"/security/{world.project.name}/console/"
    client = client_for(world.owner)

    page = client.post(url, {"statement": f"grant select on table orders to user {world.carol.username}",
                             "action": "preview"}).content.decode()
    failing = client.post(url, {"statement": "grant selekt on table orders to user x",
                                "action": "preview"}).content.decode()

    assert 'id="impact"' in page and f"grant Select on table orders to user {world.carol.principal_name}" in page
    assert not Grant.objects.filter(user=world.carol).exists()
    assert 'id="console-error-message"' in failing and "Select" in failing
