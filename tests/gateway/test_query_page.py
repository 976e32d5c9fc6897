"""The query page /query/<project>/: the editor, the results grid with masked columns badged,
a refusal with a caret under where the statement went wrong, a denial with its trace and a
link to ask for access, and the user's recent statements."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from apps.audit.models import Event
from tests.conftest import both_databases
from tests.factories import client_for, make_owner, make_project
from tests.gateway.world import make_shop, result_grid, run

pytestmark = both_databases

HTMX = {"HTTP_HX_REQUEST": "true"}


def url_of(project) -> str:
    return f"/query/{project.name}/"


def post(user, project, sql: str, limit="", **headers) -> str:
    response = client_for(user).post(url_of(project), {"sql": sql, "limit": limit}, **headers)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def shop():
    return make_shop()


def test_a_member_gets_the_editor_with_vendored_scripts_and_a_query_link(shop):
    response = client_for(shop.reader).get(url_of(shop.project), {"sql": "select 1"})
    page = response.content.decode()
    assert response.status_code == 200
    editor = re.search(r'<textarea name="sql" id="query-sql"([^>]*)>select 1</textarea>', page)
    assert 'class="form-control font-monospace"' in editor.group(1)
    assert 'name="limit"' in page and 'id="query-run"' in page
    assert f'hx-post="{url_of(shop.project)}"' in page and "/static/vendor/htmx/htmx.min.js" in page
    assert "cdn" not in page.lower()
    assert f'href="{url_of(shop.project)}" id="nav-query"' in page


def test_a_select_shows_rows_with_the_masked_column_badged(shop):
    page = post(shop.reader, shop.project, "select id, name, mobile from customers order by id", **HTMX)
    headers, rows = result_grid(page)
    assert headers == ["id", "name", "mobile masked"]
    assert rows[0] == ["1", "Alice", "138****5678"]
    assert "13812345678" not in page
    assert "4 rows ·" in page
    assert "<html" not in page  # htmx swaps the outcome alone


def test_a_select_over_the_limit_says_it_was_truncated(shop):
    page = post(shop.reader, shop.project, "select id from orders order by id", limit="2", **HTMX)
    assert [row[0] for row in result_grid(page)[1]] == ["10", "11"]
    assert "2 rows (truncated at the limit)" in page


def test_without_htmx_the_post_renders_the_whole_page_with_the_result(shop):
    page = post(shop.reader, shop.project, "select name from customers where id = 2")
    assert "<html" in page and 'id="query-sql"' in page
    assert ">select name from customers where id = 2</textarea>" in page
    assert result_grid(page) == (["name"], [["Bob"]])


def test_a_write_reports_the_rows_written(shop):
    page = post(shop.owner, shop.project, "insert into orders values (15, 2, 10), (16, 3, 20)", **HTMX)
    assert "2 rows written." in page


def test_a_refusal_shows_the_message_and_a_caret_under_the_problem(shop):
    sql = "select id, name\nfrom orders o\n  join custmers c on c.id = o.customer_id"
    page = post(shop.reader, shop.project, sql, **HTMX)
    message = re.search(r'<span id="query-refused-message">(.*?)</span>', page).group(1)
    pointer = re.search(r'<pre class="mb-2" id="query-pointer">(.*?)</pre>', page, re.S).group(1)
    assert "There is no table" in message
    line, caret = unescape(pointer).split("\n")
    assert line == "  join custmers c on c.id = o.customer_id"
    assert caret == " " * line.index("custmers") + "^"


def test_a_denial_shows_each_checks_trace_and_a_request_access_link(shop):
    page = post(shop.stranger, shop.project, "select id, mobile from customers", **HTMX)
    assert "Access denied." in page and "<tbody>" not in page
    trace = page[page.index('class="list-group list-group-numbered mt-1 decision-trace"'):]
    assert "ACL" in trace and "text-bg-danger\">deny" in trace
    link = unescape(re.search(r'request-access" href="([^"]+)"', page).group(1))
    path, query = urlsplit(link).path, parse_qs(urlsplit(link).query)
    assert path == f"/security/{shop.project.name}/check/"
    assert query == {"principal": [shop.stranger.principal_name], "action": ["Select"], "object_type": ["table"],
                     "object": ["customers"], "columns": ["id,mobile"]}
    check_page = client_for(shop.stranger).get(link).content.decode()
    assert 'id="decision-outcome">Denied' in check_page


def test_a_rate_limit_is_shown_with_the_setting_it_ran_into(shop, settings):
    settings.GATEWAY_USER_ROWS_PER_MINUTE = 1
    run(shop.reader, shop.project, "select id from orders")
    page = post(shop.reader, shop.project, "select id from orders", **HTMX)
    assert 'id="query-error"' in page and "GATEWAY_USER_ROWS_PER_MINUTE" in page


def test_a_bad_limit_is_explained_and_nothing_runs(shop):
    page = post(shop.reader, shop.project, "select id from orders", limit="many", **HTMX)
    assert "Give a whole number of rows." in page
    assert not Event.objects.filter(action="gateway.query", actor_id=shop.reader.pk).exists()


def test_history_lists_the_users_previous_statements_newest_first(shop):
    run(shop.reader, shop.project, "select id from orders")
    run(shop.owner, shop.project, "select id from customers")
    page = post(shop.reader, shop.project, "select name from customers", **HTMX)
    history = page[page.index('<div id="query-history" hx-swap-oob="true">'):]
    entries = re.findall(r'<a href="([^"]+)" class="font-monospace text-break"', history)
    statements = [parse_qs(urlsplit(unescape(href)).query)["sql"][0] for href in entries]
    # Each entry is the statement as its author wrote it.
    assert statements == ["select name from customers", "select id from orders"]
    assert len(statements) == 2 and "orders" not in statements[0] and "orders" in statements[1]
    reloaded = client_for(shop.reader).get(unescape(entries[1])).content.decode()
    editor = re.search(r'id="query-sql"[^>]*>(.*?)</textarea>', reloaded, re.S).group(1)
    assert unescape(editor) == statements[1]


def test_another_tenants_project_is_404_and_runs_nothing(shop):
    other = make_project(make_owner())
    client = client_for(shop.reader)
    assert client.get(url_of(other)).status_code == 404
    assert client.post(url_of(other), {"sql": "select 1"}).status_code == 404
    assert not Event.objects.filter(action="gateway.query", actor_id=shop.reader.pk).exists()


def test_anonymous_visitors_are_sent_to_log_in(shop):
    response = Client().get(url_of(shop.project))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
