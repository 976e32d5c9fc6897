"""CSV uploads into warehouse tables: Update needed, types checked with line and column named,
all rows or none."""

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audit.models import Event
from tests.conftest import both_databases
from tests.gateway.world import console, make_shop, run

pytestmark = both_databases


def _upload(client, shop, text: str, table: str = "orders"):
    file = SimpleUploadedFile("rows.csv", text.encode(), content_type="text/csv")
    return client.post(f"/api/v1/projects/{shop.project.name}/tables/{table}/uploads", {"file": file},
                       format="multipart")


def _orders(shop) -> int:
    return run(shop.owner, shop.project, "select count(*) from orders").rows[0][0]


def test_an_upload_needs_update_on_the_table(api_client_for):
    shop = make_shop()
    response = _upload(api_client_for(shop.reader), shop, "id,customer_id,amount\n50,1,9.50\n")
    assert response.status_code == 403
    assert response.json()["decision"]["denied"][0]["action"] == "Update"
    assert _orders(shop) == 5
    assert Event.objects.filter(action="gateway.upload", decision="deny").count() == 1


def test_rows_are_inserted_with_their_types(api_client_for):
    shop = make_shop()
    console(shop.owner, shop.project, f"grant update on table orders to user {shop.reader.principal_name}")
    response = _upload(api_client_for(shop.reader), shop, "amount,id,customer_id\n9.50,50,1\n,51,2\n")
    assert response.status_code == 200, response.content
    assert response.json()["rows_written"] == 2
    assert run(shop.owner, shop.project, "select id, amount from orders where id >= 50 order by id").rows == [
        [50, "9.50"], [51, None]]


def test_bad_values_are_named_by_line_and_column_and_nothing_is_written(api_client_for):
    shop = make_shop()
    console(shop.owner, shop.project, f"grant update on table orders to user {shop.reader.principal_name}")
    response = _upload(api_client_for(shop.reader), shop,
                       "id,customer_id,amount\n60,1,1\n61,x,2\n62,3,12345678901\n63,4\n")
    assert response.status_code == 400
    messages = response.json()["error"]["fields"]["file"]
    assert messages == ["Line 3, column customer_id: 'x' is not a whole number.",
                        "Line 4, column amount: 12345678901 does not fit numeric(10,2).",
                        "Line 5: 2 fields where the header names 3."]
    assert _orders(shop) == 5


def test_an_unknown_column_or_a_duplicate_key_writes_nothing(api_client_for):
    shop = make_shop()
    console(shop.owner, shop.project, f"grant update on table orders to user {shop.reader.principal_name}")
    client = api_client_for(shop.reader)
    unknown = _upload(client, shop, "id,price\n70,1\n")
    assert unknown.status_code == 400 and "has no column 'price'" in unknown.json()["error"]["fields"]["file"][0]
    duplicate = _upload(client, shop, "id,customer_id,amount\n71,1,1\n10,1,1\n")
    assert duplicate.status_code == 400 and "duplicate key" in duplicate.json()["error"]["message"]
    assert _orders(shop) == 5
