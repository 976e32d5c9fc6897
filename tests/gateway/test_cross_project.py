"""Queries across two projects: reading another project's table from this one is data leaving
it, so ProjectProtection, trusted projects, its exception policy and packages decide."""

import json

import pytest

from apps.gateway.services import QueryDenied
from apps.tenancy.services import member_add
from tests.conftest import both_databases
from tests.factories import make_project
from tests.gateway.world import console, make_shop, run

pytestmark = both_databases


@pytest.fixture
def two():
    """``shop`` (provider, tables customers/orders) and ``lab`` (the consumer the reader works
    in); the reader is a member of both with Select on shop's customers."""
    shop = make_shop()
    lab = make_project(shop.owner)
    member_add(actor=shop.owner, project=lab, user=shop.reader)
    shop.lab = lab
    shop.sql = f"select name, mobile from {shop.project.name}.customers order by id"
    return shop


def _step(error) -> str:
    return str(error.value.denied[0].decision.step)


def test_without_protection_another_projects_table_is_read_masked(two):
    result = run(two.reader, two.lab, two.sql)
    assert result.rows[0] == ["Alice", "138****5678"]
    request = result.prepared.checks[0].request
    assert (request.project, request.via_project, request.destination_project) == (
        two.project.name, two.lab.name, two.lab.name)


def test_protection_keeps_the_data_in_its_project(two):
    console(two.owner, two.project, "set ProjectProtection=true")
    with pytest.raises(QueryDenied) as denied:
        run(two.reader, two.lab, two.sql)
    assert _step(denied) == "project_protection"
    # Inside the project itself nothing leaves it.
    assert run(two.reader, two.project, "select name from customers where id = 1").rows == [["Alice"]]


def test_a_trusted_project_may_receive_the_data(two):
    console(two.owner, two.project, "set ProjectProtection=true", f"add trustedproject {two.lab.name}")
    assert run(two.reader, two.lab, two.sql).rows[0][0] == "Alice"


def test_the_exception_policy_lets_named_principals_through(two):
    exception = {"Version": "1", "Statement": [{
        "Effect": "Allow", "Principal": two.reader.principal_name, "Action": ["odps:Select"],
        "Resource": [f"acs:odps:*:projects/{two.project.name}/tables/customers"]}]}
    console(two.owner, two.project, f"set ProjectProtection=true with exception {json.dumps(exception)}")
    assert run(two.reader, two.lab, two.sql).rows[0][0] == "Alice"
    with pytest.raises(QueryDenied) as denied:
        run(two.reader, two.lab, f"select amount from {two.project.name}.orders")
    assert _step(denied) == "project_protection"


def test_copying_into_another_project_is_data_leaving_it(two):
    console(two.owner, two.lab, f"grant createtable on project {two.lab.name} to user {two.reader.principal_name}")
    console(two.owner, two.project, "set ProjectProtection=true")
    copy = f"create table copied as select name from {two.project.name}.customers"
    with pytest.raises(QueryDenied) as denied:
        run(two.reader, two.lab, copy)
    assert _step(denied) == "project_protection"
    console(two.owner, two.project, f"add trustedproject {two.lab.name}")
    assert run(two.reader, two.lab, copy).rows_written == 4
    assert run(two.reader, two.lab, "select count(*) from copied").rows == [[4]]


def test_a_package_shares_the_table_with_a_consumer_who_is_no_member_of_the_provider():
    shop = make_shop()
    lab = make_project(shop.owner)
    analyst = shop.stranger
    member_add(actor=shop.owner, project=lab, user=analyst)
    console(shop.owner, shop.project, "set ProjectProtection=true", "create package shared",
            "add table customers to package shared", f"allow project {lab.name} to install package shared")
    sql = f"select name, mobile from {shop.project.name}.customers order by id"
    console(shop.owner, lab, f"install package {shop.project.name}.shared")
    with pytest.raises(QueryDenied):
        run(analyst, lab, sql)
    console(shop.owner, lab, f"grant read on package {shop.project.name}.shared to user {analyst.principal_name}")
    result = run(analyst, lab, sql)
    assert result.rows[0] == ["Alice", "138****5678"]
    assert any(step.step == "package" and step.outcome == "allow" for step in result.prepared.checks[0].decision.trace)
