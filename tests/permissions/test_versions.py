"""Versions as readable lines: every kind of fact as one statement-like line, and a
version's change and the difference of two versions in those lines."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.permissions.describe import fact_line, fact_lines
from apps.permissions.models import SecurityState, TableLabel
from apps.permissions.rollback import version_get, version_lines, version_list, versions_diff_lines
from apps.tenancy.services import security_version_bump
from tests.permissions import security_facts as facts

BOB = "RAM$acme:bob"

LINES = [
    ("setting", facts.setting("LabelSecurity", True), "set LabelSecurity=true"),
    ("grant_columns", facts.grant(1, facts.user(BOB), "customers", columns=("id",)),
     "grant Select on table customers (id) to user RAM$acme:bob"),
    ("grant_expiring_with_condition",
     facts.grant(2, facts.of_role("analysts"), "*", actions=("Describe", "Select"), expires="2027-01-01T00:00:00Z",
                 condition={"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}),
     'grant Describe, Select on table * to role analysts when {"IpAddress":{"acs:SourceIp":["10.0.0.0/8"]}} '
     "until 2027-01-01T00:00:00Z"),
    ("grant_of_package_object", facts.grant(3, facts.user(BOB), "orders", package="shop.sales"),
     "grant Select on table orders to user RAM$acme:bob of package shop.sales"),
    ("policy_of_role", facts.policy([facts.statement("Deny", ["Drop"], ["projects/p/tables/*"])], "analysts"),
     "put policy on role analysts (1 statement)"),
    ("project_policy", facts.policy([]), "put policy on project (0 statements)"),
    ("column_label", facts.label("customers", 3, "mobile"), "set label 3 to table customers(mobile)"),
    ("table_label", facts.label("customers", 2), "set label 2 to table customers"),
    ("clearance", facts.clearance(facts.user(BOB), 4), "set label 4 to user RAM$acme:bob"),
    ("label_grant", facts.label_grant(5, facts.of_role("analysts"), "customers", 3, columns=("mobile",),
                                      expires="2027-01-01T00:00:00Z"),
     "grant label 3 on table customers (mobile) to role analysts until 2027-01-01T00:00:00Z"),
    ("member", facts.member(BOB), "add user RAM$acme:bob"),
    ("custom_role", facts.role("analysts"), "create role analysts"),
    ("builtin_role", {**facts.role("admin"), "builtin": True}, "role admin (built-in)"),
    ("role_member", facts.role_member("analysts", BOB), "grant role analysts to RAM$acme:bob"),
    ("project_whitelist", facts.ip_whitelist(["10.0.0.0/8", "192.168.1.1"]),
     "setproject odps.security.ip.whitelist=10.0.0.0/8,192.168.1.1"),
    ("tenant_vpc_whitelist", facts.ip_whitelist(["vpc-1"], scope="tenant", network="vpc"),
     "setproject tenant odps.security.vpc.whitelist=vpc-1"),
    ("trusted_project", facts.trusted_project("garden"), "add trustedproject garden"),
    ("protection_exception", facts.protection_exception([facts.statement("Allow", ["Select"], ["projects/p"])]),
     "set ProjectProtection exception policy (1 statement)"),
    ("package", facts.package("sales"), "create package sales"),
    ("package_object", facts.package_object("sales", "orders"),
     "add table orders to package sales with privileges Describe, Select"),
    ("package_allowance", facts.package_allowance("sales", "garden", level=2),
     "allow project garden to install package sales using label 2"),
    ("package_install", facts.package_install("shop", "sales"), "install package shop.sales"),
]


@pytest.mark.parametrize(("fact", "line"), [case[1:] for case in LINES], ids=[case[0] for case in LINES])
def test_each_kind_of_fact_reads_as_one_line(fact, line):
    assert fact_line(fact) == line


def test_an_unknown_kind_is_shown_whole_rather_than_hidden():
    assert fact_line({"kind": "novel", "x": 1}) == '{"kind": "novel", "x": 1}'


def test_lines_are_sorted_so_two_versions_read_side_by_side():
    assert fact_lines([facts.member("RAM$acme:zed"), facts.setting("NoWriteDown", False)]) == [
        "add user RAM$acme:zed", "set NoWriteDown=false"]


needs_database = pytest.mark.django_db(databases=["default", "warehouse"])


@needs_database
def test_a_versions_change_and_a_diff_read_as_lines(column_grant_world):
    owner, project, bob, _, grant = column_grant_world
    granted = version_get(user=owner, project=project, number=SecurityState.objects.get(project=project).version)
    TableLabel.objects.create(table=grant.table, level=2)
    security_version_bump(project, actor=owner, summary="set label 2 to table customers")
    labelled = SecurityState.objects.get(project=project).version

    added, removed = version_lines(granted)
    diff_added, diff_removed = versions_diff_lines(user=owner, project=project, older=granted.number - 1,
                                                   newer=labelled)

    grant_line = f"grant Select on table customers (id) to user {bob.principal_name}"
    assert (added, removed) == ([grant_line], [])
    assert (diff_added, diff_removed) == ([grant_line, "set label 2 to table customers"], [])
    assert [version.number for version in version_list(user=owner, project=project)][:2] == [labelled, granted.number]


@needs_database
def test_a_diff_of_a_version_that_does_not_exist_names_the_field(column_grant_world):
    owner, project, *_ = column_grant_world
    with pytest.raises(ValidationError) as error:
        versions_diff_lines(user=owner, project=project, older=1, newer=999)
    assert set(error.value.message_dict) == {"to"}


@needs_database
def test_a_member_without_the_right_may_not_read_versions(column_grant_world):
    _, project, bob, *_ = column_grant_world
    with pytest.raises(PermissionDenied, match="audit"):
        version_list(user=bob, project=project)
