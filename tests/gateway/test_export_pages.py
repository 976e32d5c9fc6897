"""The query page's downloads and uploads, and the leak-tracing page."""

import re

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.gateway.models import Export
from tests.conftest import both_databases
from tests.factories import client_for
from tests.gateway.world import console, make_shop, run

pytestmark = both_databases


def test_the_download_buttons_give_a_watermarked_file_or_say_why_not():
    shop = make_shop()
    client = client_for(shop.reader)
    url = f"/query/{shop.project.name}/export/"
    denied = client.post(url, {"sql": "select name, mobile from customers", "format": "csv"})
    assert denied.status_code == 403 and "Download from" in denied.content.decode()
    console(shop.owner, shop.project, f"grant download on table customers to user {shop.reader.principal_name}")
    response = client.post(url, {"sql": "select name, mobile from customers order by id", "format": "json"})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    assert "138****5678" in response.content.decode()
    assert Export.objects.filter(user=shop.reader, format="json").count() == 1


def test_an_upload_from_the_page_writes_all_rows_or_names_the_bad_ones():
    shop = make_shop()
    console(shop.owner, shop.project, f"grant update on table orders to user {shop.reader.principal_name}")
    client = client_for(shop.reader)
    url = f"/query/{shop.project.name}/upload/"
    bad = client.post(url, {"table": "orders", "file": SimpleUploadedFile("o.csv", b"id,amount\n80,abc\n")})
    assert "Line 2, column amount: &#x27;abc&#x27; is not a number." in bad.content.decode()
    good = client.post(url, {"table": "orders", "file": SimpleUploadedFile("o.csv", b"id,amount\n80,1.5\n")})
    assert "1 row written into orders." in good.content.decode()
    assert run(shop.owner, shop.project, "select amount from orders where id = 80").rows == [["1.50"]]


def test_the_leak_tracing_page_names_the_export_and_is_for_tracers_only():
    shop = make_shop()
    console(shop.owner, shop.project, f"grant download on table customers to user {shop.reader.principal_name}")
    export = client_for(shop.reader).post(f"/query/{shop.project.name}/export/",
                                       {"sql": "select name, email from customers", "format": "csv"})
    leaked = export.content.decode("utf-8-sig").splitlines()[2]
    assert client_for(shop.stranger).get("/query/leak-trace/").status_code == 403
    page = client_for(shop.owner).post("/query/leak-trace/", {"text": leaked}).content.decode()
    serial = Export.objects.get().pk
    assert re.search(rf"#{serial} \(csv\)", page)
    assert shop.reader.principal_name in page and "mark" in page
    nothing = client_for(shop.owner).post("/query/leak-trace/", {"text": "nothing to see here, at all"}).content.decode()
    assert 'id="leak-none"' in nothing
