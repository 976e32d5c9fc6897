"""The table page's two gateway panels: the data preview (the first rows through the gateway,
masked for the viewer) and recent access (the gateway's audit events that read or wrote the
table, for its project's auditors)."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import Event
from apps.catalog.models import Table
from apps.gateway.services import QueryDenied
from apps.masking.services import unmask_grant_create
from apps.tenancy.roles import WorkspaceRole
from apps.tenancy.selectors import workspace_role_get
from apps.tenancy.services import role_assign
from tests.conftest import both_databases
from tests.factories import client_for, make_owner
from tests.gateway.world import make_shop, result_grid, run

pytestmark = both_databases

HTMX = {"HTTP_HX_REQUEST": "true"}


def table_of(project, name: str) -> Table:
    return Table.objects.get(data_source__project=project, name=name, is_dropped=False)


def panel(user, table, which: str, **headers) -> str:
    response = client_for(user).get(f"/query/tables/{table.pk}/{which}/", **headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def shop():
    return make_shop()


def test_the_preview_masks_for_the_reader_badges_the_column_and_is_audited(shop):
    page = panel(shop.reader, table_of(shop.project, "customers"), "preview", **HTMX)
    headers, rows = result_grid(page)
    assert headers == ["id", "name", "mobile masked", "email", "region", "salary"]
    assert [row[2] for row in rows] == ["138****5678", "139****4321", "137****2222", "136****4444"]
    assert "<html" not in page
    event = Event.objects.get(action="gateway.query", actor_id=shop.reader.pk)
    assert event.details["rows"] == 4 and event.details["masked_columns"] == ["mobile"]
    assert event.details["sql"].lower().endswith("limit 20")


def test_the_preview_is_clear_where_an_unmask_grant_lifts_the_mask(shop):
    customers = table_of(shop.project, "customers")
    unmask_grant_create(actor=shop.owner, project=shop.project, table=customers, columns=["mobile"],
                        user=shop.reader, expires_at=None)
    headers, rows = result_grid(panel(shop.reader, customers, "preview", **HTMX))
    assert headers == ["id", "name", "mobile", "email", "region", "salary"]
    assert rows[0][:3] == ["1", "Alice", "13812345678"]


def test_a_member_without_grants_reads_why_and_where_to_ask(shop):
    page = panel(shop.stranger, table_of(shop.project, "customers"), "preview", **HTMX)
    denied = page[page.index('id="preview-denied"'):]
    assert "You cannot read this table." in denied and "<tbody>" not in page
    assert "no rule allows Select" in denied
    link = unescape(re.search(r'class="request-access" href="([^"]+)"', denied).group(1))
    assert link.startswith(f"/security/{shop.project.name}/check/?principal=")
    assert "action=Select" in link and "object=customers" in link


def test_without_htmx_the_preview_is_a_page_of_its_own(shop):
    customers = table_of(shop.project, "customers")
    page = panel(shop.reader, customers, "preview")
    assert "<html" in page and f'href="/catalog/tables/{customers.pk}/"' in page
    assert "138****5678" in page


def test_the_table_page_loads_both_panels_lazily_and_runs_no_statement(shop):
    customers = table_of(shop.project, "customers")
    page = client_for(shop.reader).get(f"/catalog/tables/{customers.pk}/").content.decode()
    recent, preview = page.index('id="recent-access"'), page.index('id="preview"')
    assert f'hx-get="/query/tables/{customers.pk}/recent-access/" hx-trigger="revealed"' in page[recent:preview]
    assert f'hx-get="/query/tables/{customers.pk}/preview/"' in page[preview:]
    assert 'id="preview-show"' in page[preview:]
    assert not Event.objects.filter(action="gateway.query").exists()


def test_recent_access_lists_reads_and_writes_of_the_table_for_the_projects_auditor(shop):
    run(shop.reader, shop.project, "select name, mobile from customers")
    run(shop.owner, shop.project, "select id from orders")
    run(shop.owner, shop.project, "update customers set region = 'EU' where id = 4")
    page = panel(shop.owner, table_of(shop.project, "customers"), "recent-access", **HTMX)
    headers, rows = result_grid(page)
    assert headers == ["When", "Who", "Statement", "Rows", "Masked"]
    assert [row[1:] for row in rows] == [
        [shop.owner.username, "update", "1", "—"],
        [shop.reader.username, "select", "4", "mobile"],
    ]


def test_a_workspace_auditor_sees_recent_access_in_a_constant_number_of_queries(shop):
    role_assign(actor=shop.owner, role=workspace_role_get(project=shop.project, workspace_role=WorkspaceRole.AUDITOR),
                user=shop.stranger)
    customers = table_of(shop.project, "customers")
    client = client_for(shop.stranger)
    run(shop.reader, shop.project, "select name from customers")
    with CaptureQueriesContext(connection) as one:
        client.get(f"/query/tables/{customers.pk}/recent-access/", **HTMX)
    run(shop.reader, shop.project, "select id from customers")
    run(shop.owner, shop.project, "select mobile from customers")
    with CaptureQueriesContext(connection) as three:
        page = client.get(f"/query/tables/{customers.pk}/recent-access/", **HTMX).content.decode()
    assert [row[1] for row in result_grid(page)[1]] == [shop.owner.username, shop.reader.username, shop.reader.username]
    assert len(three) == len(one)


def test_recent_access_shows_denied_attempts_too(shop):
    with pytest.raises(QueryDenied):
        run(shop.stranger, shop.project, "select * from customers")
    headers, rows = result_grid(panel(shop.owner, table_of(shop.project, "customers"), "recent-access", **HTMX))
    assert [row[1:3] for row in rows] == [[shop.stranger.username, "select denied"]]


def test_recent_access_is_only_a_note_for_members_who_do_not_audit(shop):
    run(shop.reader, shop.project, "select name from customers")
    page = panel(shop.reader, table_of(shop.project, "customers"), "recent-access", **HTMX)
    assert 'id="recent-access-hidden"' in page and "auditors" in page
    assert "<table" not in page


@pytest.mark.parametrize("which", ["preview", "recent-access"])
def test_another_tenants_table_is_404(shop, which):
    customers = table_of(shop.project, "customers")
    response = client_for(make_owner()).get(f"/query/tables/{customers.pk}/{which}/", **HTMX)
    assert response.status_code == 404
    assert not Event.objects.filter(action="gateway.query").exists()
