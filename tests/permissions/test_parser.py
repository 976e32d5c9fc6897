"""The security statement parser: every statement form of the reference, and the errors it
gives, each with the position where the text went wrong. No database is involved."""

import dataclasses
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.permissions.statements import StatementError, ast, parse
from apps.permissions.statements.lexer import TokenKind, tokenize

POLICY = ('{"Version": "1", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": ["odps:Select"], '
          '"Resource": ["acs:odps:*:projects/wonderland/tables/t_app_*"], '
          '"Condition": {"StringEquals": {"odps:TaskType": ["DT"]}}}]}')
CONDITION = "acs:SourceIp in ('192.168.0.0/16','172.12.0.0/16') and 'odps:InstanceId'='aaaaaa'"


def _form(source, expected):
    return pytest.param(source, expected, id=source[:60])


FORMS = [
    # §0 principals
    _form("add user ALIYUN$bob@aliyun.com", ast.AddUser("ALIYUN$bob@aliyun.com")),
    _form("add user ALIYUN$5527xxxx5788", ast.AddUser("ALIYUN$5527xxxx5788")),
    _form("add user RAM$bob@aliyun.com:Allen", ast.AddUser("RAM$bob@aliyun.com:Allen")),
    _form("add user RAM$ram_test", ast.AddUser("RAM$ram_test")),
    _form("add user `RAM$acme:role/etl-runner`", ast.AddUser("RAM$acme:role/etl-runner")),
    _form("add user alice", ast.AddUser("alice")),
    _form("add user `alice.smith`", ast.AddUser("alice.smith")),
    # §1 users and roles
    _form("remove user RAM$acme:alice", ast.RemoveUser("RAM$acme:alice")),
    _form("list users", ast.ListUsers()),
    _form("create role analyst", ast.CreateRole("analyst", "resource")),
    _form('create role auditor privilegeproperties("type"="admin")', ast.CreateRole("auditor", "admin")),
    _form('create role loader privilegeproperties("type" = "Resource")', ast.CreateRole("loader", "resource")),
    _form("drop role analyst", ast.DropRole("analyst")),
    _form("list roles", ast.ListRoles()),
    _form("grant analyst to ALIYUN$bob", ast.GrantRole("analyst", "ALIYUN$bob")),
    _form("grant super_administrator to RAM$acme:alice", ast.GrantRole("super_administrator", "RAM$acme:alice")),
    _form("grant label to alice", ast.GrantRole("label", "alice")),
    _form("revoke analyst from ALIYUN$bob", ast.RevokeRole("analyst", "ALIYUN$bob")),
    _form("revoke label from alice", ast.RevokeRole("label", "alice")),
    _form("describe role analyst", ast.DescribeRole("analyst")),
    _form("show grants", ast.ShowGrants()),
    _form("show grants for RAM$acme:alice", ast.ShowGrants(principal="RAM$acme:alice")),
    _form("show grants for role analyst", ast.ShowGrants(role="analyst")),
    _form("show grants for role", ast.ShowGrants(principal="role")),
    _form("show acl for customers", ast.ShowAcl(None, "customers")),
    _form("show acl for customers on type table", ast.ShowAcl(None, "customers", "table")),
    _form("whoami", ast.WhoAmI()),
    _form("purge privs from user ALIYUN$bob", ast.PurgePrivs("ALIYUN$bob")),
    # §2 ACL
    _form("grant select, describe on table t (c1, c2) to user ALIYUN$bob",
          ast.Grant(("Select", "Describe"), "table", None, "t", ("c1", "c2"), "user", "ALIYUN$bob")),
    _form("grant select (c1, c2) on table t to user alice",
          ast.Grant(("Select",), "table", None, "t", ("c1", "c2"), "user", "alice")),
    _form("grant Download on table t to user x", ast.Grant(("Download",), "table", None, "t", (), "user", "x")),
    _form("grant CreateTable, createinstance, LIST on project wonderland to role etl",
          ast.Grant(("CreateTable", "CreateInstance", "List"), "project", None, "wonderland", (), "role", "etl")),
    _form("grant all on function f to role r", ast.Grant(("All",), "function", None, "f", (), "role", "r")),
    _form("grant read, write, delete on resource r.jar to role dev",
          ast.Grant(("Read", "Write", "Delete"), "resource", "r", "jar", (), "role", "dev")),
    _form("grant read on instance i1 to user alice", ast.Grant(("Read",), "instance", None, "i1", (), "user", "alice")),
    _form("grant select on table wonderland.customers to role r",
          ast.Grant(("Select",), "table", "wonderland", "customers", (), "role", "r")),
    _form("grant select on table wonderland.* to role r",
          ast.Grant(("Select",), "table", "wonderland", "*", (), "role", "r")),
    _form("grant select on table wonderland.t_app_* to role r",
          ast.Grant(("Select",), "table", "wonderland", "t_app_*", (), "role", "r")),
    _form("grant select, select on table t to role r", ast.Grant(("Select",), "table", None, "t", (), "role", "r")),
    _form("grant describe on table * to role readers",
          ast.Grant(("Describe",), "table", None, "*", (), "role", "readers")),
    _form(f'grant select on table t to user ALIYUN$bob privilegeproperties("conditions"="{CONDITION}", '
          '"expires"="30")',
          ast.Grant(("Select",), "table", None, "t", (), "user", "ALIYUN$bob",
                    (("conditions", CONDITION), ("expires", "30")))),
    _form("revoke select, describe on table t (c1) from user ALIYUN$bob",
          ast.Revoke(("Select", "Describe"), "table", None, "t", ("c1",), "user", "ALIYUN$bob")),
    _form("show SecurityConfiguration", ast.ShowSecurityConfiguration()),
    _form("set CheckPermissionUsingACL=false", ast.SetFlag("CheckPermissionUsingACL", False)),
    _form("set CheckPermissionUsingPolicy=true", ast.SetFlag("CheckPermissionUsingPolicy", True)),
    _form("set ObjectCreatorHasAccessPermission=true", ast.SetFlag("ObjectCreatorHasAccessPermission", True)),
    _form("set objectcreatorhasgrantpermission = FALSE", ast.SetFlag("ObjectCreatorHasGrantPermission", False)),
    _form("set NoWriteDown=true", ast.SetFlag("NoWriteDown", True)),
    # §3 policies
    _form("get policy", ast.GetPolicy()),
    _form("get policy on role analyst", ast.GetPolicy("analyst")),
    _form(f"put policy {POLICY}", ast.PutPolicy(POLICY)),
    _form(f"put policy '{POLICY}' on role analyst", ast.PutPolicy(POLICY, "analyst")),
    _form('put policy {"a": "}\\"{"} on role r', ast.PutPolicy('{"a": "}\\"{"}', "r")),
    _form('grant select on table t_app_* to role r privilegeproperties("policy"="true", "allow"="False")',
          ast.Grant(("Select",), "table", None, "t_app_*", (), "role", "r", (("policy", "true"), ("allow", "false")))),
    _form('grant select on table * to role r privilegeproperties("policy"="true", "allow"="False")',
          ast.Grant(("Select",), "table", None, "*", (), "role", "r", (("policy", "true"), ("allow", "false")))),
    _form('revoke select on table t from role r privilegeproperties("policy"="true", "allow"="true")',
          ast.Revoke(("Select",), "table", None, "t", (), "role", "r", (("policy", "true"), ("allow", "true")))),
    # §4 LabelSecurity
    _form("set LabelSecurity=true", ast.SetFlag("LabelSecurity", True)),
    _form("set label 2 to table customers(mobile, email)", ast.SetLabel(2, "table", "customers", ("mobile", "email"))),
    _form("set label 0 to table customers", ast.SetLabel(0, "table", "customers")),
    _form("set label 3 to user RAM$acme:john", ast.SetLabel(3, "user", "RAM$acme:john")),
    _form("set label 4 to role analyst", ast.SetLabel(4, "role", "analyst")),
    _form("grant label 3 on table t(c1,c2) to user RAM$x with exp 30",
          ast.GrantLabel(3, "t", ("c1", "c2"), "user", "RAM$x", 30)),
    _form("grant label 2 on table t to role analyst", ast.GrantLabel(2, "t", (), "role", "analyst")),
    _form("revoke label on table t (c1) from user ALIYUN$bob", ast.RevokeLabel("t", ("c1",), "user", "ALIYUN$bob")),
    _form("revoke label on table t from role analyst", ast.RevokeLabel("t", (), "role", "analyst")),
    _form("clear expired grants", ast.ClearExpiredGrants()),
    _form("show label grants", ast.ShowLabelGrants()),
    _form("show label 3 grants", ast.ShowLabelGrants(3)),
    _form("show label grants for user ALIYUN$bob", ast.ShowLabelGrants(principal="ALIYUN$bob")),
    _form("show label 2 grants for user ALIYUN$bob", ast.ShowLabelGrants(2, principal="ALIYUN$bob")),
    _form("show label grants on table t", ast.ShowLabelGrants(table="t")),
    _form("show label 1 grants on table t", ast.ShowLabelGrants(1, "t")),
    _form("show label grants on table t for user alice", ast.ShowLabelGrants(None, "t", "alice")),
    _form("show label 5 grants for user alice on table t", ast.ShowLabelGrants(5, "t", "alice")),
    _form("describe customers", ast.DescribeTable("customers")),
    _form("desc wonderland.customers", ast.DescribeTable("customers", "wonderland")),
    # §5 protection and trusted projects
    _form("set ProjectProtection=true", ast.SetProjectProtection(True)),
    _form("set ProjectProtection=false", ast.SetProjectProtection(False)),
    _form(f"set ProjectProtection=true with exception {POLICY}", ast.SetProjectProtection(True, POLICY)),
    _form(f'set projectprotection=TRUE with exception "{POLICY.replace(chr(34), chr(92) + chr(34))}"',
          ast.SetProjectProtection(True, POLICY)),
    _form("add trustedproject secretgarden", ast.AddTrustedProject("secretgarden")),
    _form("remove trustedproject secretgarden", ast.RemoveTrustedProject("secretgarden")),
    _form("list trustedprojects", ast.ListTrustedProjects()),
    # §6 packages
    _form("create package shared", ast.CreatePackage("shared")),
    _form("add table customers to package shared", ast.AddToPackage("table", "customers", "shared")),
    _form("add table customers to package shared with privileges select, describe, download",
          ast.AddToPackage("table", "customers", "shared", ("Select", "Describe", "Download"))),
    _form("add function f to package shared", ast.AddToPackage("function", "f", "shared")),
    _form("add resource r to package shared with privileges read",
          ast.AddToPackage("resource", "r", "shared", ("Read",))),
    _form("add instance i to package shared", ast.AddToPackage("instance", "i", "shared")),
    _form("remove table customers from package shared", ast.RemoveFromPackage("table", "customers", "shared")),
    _form("remove resource r from package shared", ast.RemoveFromPackage("resource", "r", "shared")),
    _form("allow project secretgarden to install package shared",
          ast.AllowInstall("secretgarden", "shared")),
    _form("allow project secretgarden to install package shared using label 2",
          ast.AllowInstall("secretgarden", "shared", 2)),
    _form("allow project secretgarden to install package shared using label 2 with exp 7",
          ast.AllowInstall("secretgarden", "shared", 2, 7)),
    _form("disallow project secretgarden to install package shared", ast.DisallowInstall("secretgarden", "shared")),
    _form("drop package shared", ast.DropPackage("shared")),
    _form("delete package shared", ast.DropPackage("shared")),
    _form("show packages", ast.ShowPackages()),
    _form("describe package shared", ast.DescribePackage("shared")),
    _form("describe package wonderland.shared", ast.DescribePackage("shared", "wonderland")),
    _form("install package wonderland.shared", ast.InstallPackage("wonderland", "shared")),
    _form("uninstall package wonderland.shared", ast.UninstallPackage("wonderland", "shared")),
    _form("grant Read on package wonderland.shared to user alice",
          ast.Grant(("Read",), "package", "wonderland", "shared", (), "user", "alice")),
    _form("revoke read on package wonderland.shared from role analyst",
          ast.Revoke(("Read",), "package", "wonderland", "shared", (), "role", "analyst")),
    _form('grant select on table customers (mobile) to role analyst privilegeproperties('
          '"refobject"="true", "refproject"="wonderland", "package"="shared")',
          ast.Grant(("Select",), "table", None, "customers", ("mobile",), "role", "analyst",
                    (("refobject", "true"), ("refproject", "wonderland"), ("package", "shared")))),
    _form('revoke select on table customers from user alice privilegeproperties('
          '"refobject"="true", "refproject"="wonderland", "package"="shared")',
          ast.Revoke(("Select",), "table", None, "customers", (), "user", "alice",
                     (("refobject", "true"), ("refproject", "wonderland"), ("package", "shared")))),
    _form("show acl for wonderland.shared on type package", ast.ShowAcl("wonderland", "shared", "package")),
    _form('show grants on table customers privilegeproperties("refobject"="true", "refproject"="wonderland", '
          '"package"="shared")',
          ast.ShowGrants(object_type="table", object_name="customers",
                         properties=(("refobject", "true"), ("refproject", "wonderland"), ("package", "shared")))),
    _form('show label grants on table customers privilegeproperties("refobject"="true", "refproject"="wonderland", '
          '"package"="shared")',
          ast.ShowLabelGrants(table="customers",
                              properties=(("refobject", "true"), ("refproject", "wonderland"), ("package", "shared")))),
    # §7 IP whitelists
    _form("setproject odps.security.ip.whitelist=192.168.0.0,172.12.0.0/16,192.168.10.0-192.168.255.255",
          ast.SetIpWhitelist("ip", ("192.168.0.0", "172.12.0.0/16", "192.168.10.0-192.168.255.255"))),
    _form("setproject odps.security.vpc.whitelist=*", ast.SetIpWhitelist("vpc", ("*",))),
    _form("setproject odps.security.ip.whitelist = 0.0.0.0/0, 2001:db8::/32 , ::1-::ff",
          ast.SetIpWhitelist("ip", ("0.0.0.0/0", "2001:db8::/32", "::1-::ff"))),
    _form("setproject odps.security.ip.whitelist=", ast.SetIpWhitelist("ip", ())),
    _form("setproject ODPS.Security.IP.Whitelist=;", ast.SetIpWhitelist("ip", ())),
    _form("setproject", ast.ShowProjectProperties()),
]


@pytest.mark.parametrize(("source", "expected"), FORMS)
def test_statement_form(source, expected):
    assert parse(source) == expected


@pytest.mark.parametrize(("source", "expected"), FORMS)
def test_statement_form_with_semicolon_and_any_keyword_case(source, expected):
    shouted = " ".join(word.upper() if word.isalpha() else word for word in source.rstrip(";").split(" "))
    assert parse(f"  {shouted} ;  \n") == _with_names_of(expected, parse(shouted))


def _with_names_of(expected, shouted):
    """Names keep the case they were written in; everything else must match ``expected``."""
    names = {"principal", "name", "role", "subject", "object_name", "object_project", "table", "columns", "project",
             "package", "document_text", "exception_policy_text", "properties", "entries"}
    kept = {f.name: getattr(shouted, f.name) for f in dataclasses.fields(expected) if f.name in names}
    return dataclasses.replace(expected, **kept)


def test_every_statement_class_has_a_form():
    classes = {cls for cls in vars(ast).values() if isinstance(cls, type) and issubclass(cls, ast.Statement)}
    covered = {type(form.values[1]) for form in FORMS}
    assert covered == classes - {ast.Statement}


def test_kind_is_snake_case_and_reads_only_marks_what_changes_nothing():
    assert ast.AddUser.kind == "add_user" and ast.SetIpWhitelist.kind == "set_ip_whitelist"
    assert parse("show label grants").kind == "show_label_grants"
    read_only = {type(form.values[1]).__name__ for form in FORMS if form.values[1].reads_only}
    assert read_only == {"ListUsers", "ListRoles", "DescribeRole", "ShowGrants", "ShowAcl", "WhoAmI", "GetPolicy",
                         "ShowSecurityConfiguration", "ShowLabelGrants", "DescribeTable", "ShowPackages",
                         "DescribePackage", "ListTrustedProjects", "ShowProjectProperties"}


def test_text_is_the_statement_as_written_without_its_semicolon():
    statement = parse("  GRANT select ON table t TO user alice ;  ")
    assert statement.text == "GRANT select ON table t TO user alice"
    assert parse(f"put policy {POLICY};").text == f"put policy {POLICY}"
    assert parse("setproject odps.security.ip.whitelist=10.0.0.0/8 ;").text == (
        "setproject odps.security.ip.whitelist=10.0.0.0/8")


def test_names_keep_their_case_and_principal_prefixes_are_capitals():
    statement = parse("GRANT SeLeCt ON TaBlE WonderLand.Customers (Mobile) TO USER aliyun$Bob")
    assert statement == ast.Grant(("Select",), "table", "WonderLand", "Customers", ("Mobile",), "user", "ALIYUN$Bob")
    assert parse("add user ram$Acme:John").principal == "RAM$Acme:John"


def test_backquoted_names_hold_any_characters_and_a_doubled_backquote():
    statement = parse("grant select on table `my table`(`first name`, `odd``col`) to role `data team`")
    assert statement.object_name == "my table"
    assert statement.columns == ("first name", "odd`col")
    assert statement.subject == "data team"
    assert parse("create role `select`") == ast.CreateRole("select")


def test_no_keyword_is_reserved():
    assert parse("grant select on table table to role role") == ast.Grant(
        ("Select",), "table", None, "table", (), "role", "role")
    assert parse("describe role") == ast.DescribeTable("role")


def test_strings_know_backslash_escapes_and_keep_other_backslashes():
    statement = parse(r"""put policy '{"a": "it\'s", "b": "\u00e9\\d", "c": "x\ny"}'""")
    assert statement.document_text == '{"a": "it\'s", "b": "\\u00e9\\d", "c": "x\ny"}'


ERRORS = [
    ("grnt select on table t to user x", "unknown statement 'grnt'; did you mean 'grant'?", 0),
    ("frobnicate", "unknown statement 'frobnicate'; statements start with ADD, REMOVE", 0),
    ("grant selekt on table t to user x", "unknown action 'selekt' for table; use one of: Describe, Select", 6),
    ("grant select, selekt on table t to user x", "did you mean 'Select'?", 14),
    ("grant createtable on table t to user x", "unknown action 'createtable' for table", 6),
    ("grant select on tabel t to user x", "unknown object type 'tabel'; use one of: project, table", 16),
    ("grant select on model m to role r", "unknown object type 'model'", 16),
    ("grant select on table t from user x", "expected TO after the object name, found 'from'", 24),
    ("grant select on table t (c1) from user x", "expected TO after the column names, found 'from'", 29),
    ("revoke select on table t to user x", "expected FROM after the object name, found 'to'", 25),
    ("grant select table t to user x", "expected ON after the actions, found 'table'", 13),
    ("grant select on table t to person x", "expected USER or ROLE after TO, found 'person'", 27),
    ("grant select on table t to usr x", "did you mean 'user'?", 27),
    ("grant select on table t to user", "expected a user (ALIYUN$<account>", 31),
    ("grant select on table t to user x y", "expected the end of the statement, found 'y'", 34),
    ("grant select on table t (c1 c2) to user x", "expected ',' or ')' after a column name, found 'c2'", 28),
    ("grant select on table t () to user x", "expected a column name after '(', found ')'", 25),
    ("grant select (a) on table t (b) to user x", "the column names come once", 28),
    ("grant list (a) on project p to user x", "column names apply to tables only, not to a project", 11),
    ("grant read on function f (a) to user x", "column names apply to tables only", 25),
    ("grant a, b to ALIYUN$x", "GRANT takes one role at a time", 11),
    ("grant select on table p.;", "expected a table name or '*' after 'p.', found ';'", 24),
    ("grant select on table t_app * to role r", "expected TO after the object name, found '*'", 28),
    ("show grants on table t_app_* for role r", "expected the end of the statement, found '*'", 27),
    ('grant select on table t to user x privilegeproperties("colour"="red")',
     "unknown property 'colour'; use one of: policy, allow", 54),
    ('grant select on table t to role r privilegeproperties("allow"="maybe")', '"allow" is "true" or "false"', 62),
    ('grant select on table t to role r privilegeproperties("expires"="soon")', '"expires" is a number of days', 64),
    ('grant select on table t to role r privilegeproperties("policy"="true", "POLICY"="true")',
     "property 'policy' is given twice", 71),
    ('grant select on table t to role r privilegeproperties("policy"="true"',
     "expected ',' or ')' after a property", 69),
    ('create role r privilegeproperties("type"="super")', 'a role\'s type is "resource" or "admin"', 41),
    ('create role r privilegeproperties("expires"="3")', "unknown property 'expires'; use one of: type", 34),
    # bad identifiers and principals
    ("create role 1abc", "'1abc' is not a name: a name starts with a letter or '_'", 12),
    ("create role a-b", "unexpected character '-': expected the end of the statement", 13),
    ("create role ``", "empty name between backquotes", 12),
    ("create role `abc", "unterminated name", 12),
    ("create role 'analyst'", "expected a role name after CREATE ROLE, found the string 'analyst'", 12),
    ("create role ALIYUN$bob", "expected a role name after CREATE ROLE, found 'ALIYUN$bob'", 12),
    ("create role r@x", "unexpected character '@'", 13),
    ("add user FOO$bob", "unknown principal kind 'FOO$'; a principal starts with ALIYUN$ or RAM$", 9),
    ("add user ALIYUN$", "expected an account name after ALIYUN$", 16),
    ("add user ALIYUN$bob:x", "':' cannot appear in an Alibaba Cloud account", 19),
    ("add user RAM$:bob", "expected the owner account before ':'", 13),
    ("add user RAM$acme:", "expected a RAM user name", 18),
    ("add user RAM$acme:role/etl", "a RAM role is written in backquotes", 9),
    ("add user `RAM$role/etl`", "a RAM role names its owner account", 14),
    ("add user `RAM$acme:role/`", "expected a role name after 'role/'", 24),
    ("add user `ALIYUN$bob smith`", "' ' cannot appear in an Alibaba Cloud account", 20),
    ("add user `nobody$bob`", "unknown principal kind 'nobody$'", 10),
    ("add user $bob", "unexpected character '$': expected a user", 9),
    # levels and numbers
    ("set label 10 to table t", "label level must be 0-9, found '10'", 10),
    ("set label high to table t", "label level must be 0-9, found 'high'", 10),
    ("set label", "expected a label level (0-9) after SET LABEL", 9),
    ("grant label x on table t to user u", "label level must be 0-9, found 'x'", 12),
    ("grant label on table t to user u", "label level must be 0-9, found 'on'", 12),
    ("allow project p to install package k using label 12", "label level must be 0-9", 49),
    ("show label 99999999999999999999999999 grants", "label level must be 0-9", 11),
    ("grant label 3 on table t to user x with exp 99999999999999999999", "a number of days is at most", 44),
    ("grant label 3 on table t to user x with exp soon", "expected a number of days after WITH EXP", 44),
    ("set label 2 to table p.t", "labels are set on tables of this project: write t without 'p.'", 21),
    ("set label 2 to person x", "expected TABLE, USER or ROLE after TO", 15),
    # switches, policies, packages, whitelists
    ("set labelsecurty=true", "did you mean 'LabelSecurity'?", 4),
    ("set LabelSecurity=yes", "expected TRUE or FALSE after LabelSecurity=, found 'yes'", 18),
    ("set LabelSecurity true", "expected '=' after LabelSecurity, found 'true'", 18),
    ("set ProjectProtection=false with exception '{}'", "an exception policy goes with ProjectProtection=true", 28),
    ("set ProjectProtection=true with exception", "expected the policy document after WITH EXCEPTION", 41),
    ("put policy", "expected the policy document after PUT POLICY: a JSON object", 10),
    ("put policy /tmp/policy.json", "unexpected character '/': expected the policy document", 11),
    ('put policy {"Version": "1"', "the policy document opened here has no closing '}'", 11),
    ("put policy 'abc", "unterminated string: the ' opened here is never closed", 11),
    ("put policy '{}' on table t", "expected ROLE after ON, found 'table'", 19),
    ("add table p.t to package shared", "a package holds objects of its own project: write t without 'p.'", 10),
    ("add project p to package shared",
     "expected USER, TRUSTEDPROJECT, TABLE, FUNCTION, RESOURCE or INSTANCE after ADD", 4),
    ("add table t to package shared with privileges fly", "unknown action 'fly' for table", 46),
    ("install package shared", "name the provider's package as <project>.shared", 16),
    ("allow project p install package k", "expected TO after the project name, found 'install'", 16),
    ("show grantz", "expected GRANTS, ACL, LABEL, PACKAGES or SECURITYCONFIGURATION after SHOW, found 'grantz'; "
                    "did you mean 'grants'?", 5),
    ("list userz", "did you mean 'users'?", 5),
    ("show acl customers", "expected FOR after SHOW ACL, found 'customers'", 9),
    ("show label grants for role r", "expected USER after FOR, found 'role'", 22),
    ("setproject odps.security.ip.whitelist=10.0.0.1,300.1.1.1",
     "'300.1.1.1' is not an IP address, a CIDR block, a range <ip>-<ip> or '*'", 47),
    ("setproject odps.security.ip.whitelist=10.0.0.1, ,10.0.0.2", "expected an address between the commas", 48),
    ("setproject odps.security.ip.whitelist=10.0.0.1,,10.0.0.2", "expected an address between the commas", 47),
    ("setproject odps.security.ip.whitelist=10.0.0.1,", "expected an address between the commas", 47),
    ("setproject odps.security.ip.whitelist=10.0.0.9-10.0.0.1", "'10.0.0.9-10.0.0.1' is not an IP address", 38),
    ("setproject odps.security.ip.whitelist=10.0.0.0/33", "'10.0.0.0/33' is not an IP address", 38),
    ("setproject odps.security.ip.whitelist=::1-10.0.0.1", "is not an IP address", 38),
    ("setproject odps.security.ip.whitelst=*", "unknown project property 'odps.security.ip.whitelst'; Warden sets "
                                               "odps.security.ip.whitelist or odps.security.vpc.whitelist; "
                                               "did you mean 'odps.security.ip.whitelist'?", 11),
    ("setproject odps.security.ip.whitelist 1.2.3.4", "expected '=' after odps.security.ip.whitelist", 38),
    # empty and several statements
    ("", "empty statement", 0),
    ("   ;", "empty statement", 3),
    ("(", "expected a statement such as GRANT, ADD USER or SHOW GRANTS, found '('", 0),
    ("whoami; list users", "one statement at a time: nothing may follow the ';'", 8),
    ("whoami;;", "one statement at a time", 7),
    ("list users list roles", "expected the end of the statement, found 'list'", 11),
]


@pytest.mark.parametrize(("source", "message", "position"), ERRORS, ids=[source[:60] for source, _, _ in ERRORS])
def test_error_says_what_was_expected_where(source, message, position):
    with pytest.raises(StatementError) as raised:
        parse(source)
    assert message in raised.value.message
    assert raised.value.position == position
    assert str(raised.value) == raised.value.message


# Long statements none of whose proper prefixes is a statement.
UNFINISHED_UNTIL_THE_END = [
    f"put policy '{POLICY}'",
    f"put policy {POLICY}",
    "show SecurityConfiguration",
    "clear expired grants",
    "list trustedprojects",
]
# Long statements with optional tails: a prefix may be a shorter statement of the same kind
# (or bare "setproject", which shows the project's properties).
WITH_OPTIONAL_TAILS = [
    'grant select, describe on table wonderland.customers (name, mobile) to user ALIYUN$alice@example.com '
    'privilegeproperties("conditions"="acs:SourceIp in (\'10.0.0.0/8\')", "expires"="30");',
    "grant label 3 on table customers(mobile, email) to user `RAM$acme:role/etl` with exp 30;",
    "show label 2 grants on table customers for user RAM$acme:john;",
    f"set ProjectProtection=true with exception {POLICY};",
    "setproject odps.security.ip.whitelist=10.0.0.0/8, 192.168.10.0-192.168.255.255, ::1;",
    "allow project secretgarden to install package shared using label 2 with exp 7;",
]


@pytest.mark.parametrize("source", UNFINISHED_UNTIL_THE_END, ids=lambda source: source[:40])
def test_every_truncation_is_a_positioned_error(source):
    parse(source)
    for cut in range(len(source)):
        truncated = source[:cut]
        with pytest.raises(StatementError) as raised:
            parse(truncated)
        assert 0 <= raised.value.position <= len(truncated), truncated


@pytest.mark.parametrize("source", WITH_OPTIONAL_TAILS, ids=lambda source: source[:40])
def test_a_truncation_is_a_positioned_error_or_a_shorter_statement_of_the_same_kind(source):
    whole = type(parse(source))
    failures = 0
    for cut in range(len(source)):
        truncated = source[:cut]
        try:
            statement = parse(truncated)
        except StatementError as error:
            failures += 1
            assert 0 <= error.position <= len(truncated), truncated
        else:
            assert type(statement) is whole or truncated.strip() == "setproject", truncated
    assert failures > len(source) // 2


def _random_garbage(seed, length=10_000):
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789()=,;.*{}'\"`$@:/-\\\n\t"
    return "".join(rng.choice(alphabet) for _ in range(length))


GARBAGE = [
    pytest.param(_random_garbage(4), id="random-4"),
    pytest.param(_random_garbage(11), id="random-11"),
    pytest.param("grant " + _random_garbage(7), id="grant-then-random"),
    pytest.param("x" * 10_000, id="one-long-word"),
    pytest.param("9" * 10_000, id="one-long-number"),
    pytest.param("set label " + "9" * 10_000, id="huge-level"),
    pytest.param("grant " + "select, " * 1_250, id="endless-actions"),
    pytest.param("grant select on table t (" + "c, " * 3_300, id="endless-columns"),
    pytest.param("put policy " + "{" * 10_000, id="unclosed-braces"),
    pytest.param("put policy '" + "\\'" * 5_000, id="unclosed-string-of-escapes"),
    pytest.param("create role `" + "``" * 5_000, id="unclosed-backquotes"),
    pytest.param("setproject odps.security.ip.whitelist=" + "1.2.3.4," * 1_250, id="trailing-comma-after-many"),
    pytest.param("add user RAM$" + "a:" * 5_000, id="many-colons"),
    pytest.param(";" * 10_000, id="semicolons"),
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_ten_thousand_characters_of_garbage_fail_quickly_with_a_position(garbage):
    started = time.perf_counter()
    with pytest.raises(StatementError) as raised:
        parse(garbage)
    assert time.perf_counter() - started < 0.5
    assert 0 <= raised.value.position <= len(garbage)


def test_lexer_tokens_carry_their_offsets():
    tokens = tokenize("grant select(c1) on `my t` to user RAM$acme:role_x; 'a\\'b' 42")
    assert [(token.kind, token.value, token.position) for token in tokens] == [
        (TokenKind.WORD, "grant", 0), (TokenKind.WORD, "select", 6), (TokenKind.PUNCTUATION, "(", 12),
        (TokenKind.WORD, "c1", 13), (TokenKind.PUNCTUATION, ")", 15), (TokenKind.WORD, "on", 17),
        (TokenKind.QUOTED_NAME, "my t", 20), (TokenKind.WORD, "to", 27), (TokenKind.WORD, "user", 30),
        (TokenKind.PRINCIPAL, "RAM$acme:role_x", 35), (TokenKind.PUNCTUATION, ";", 50),
        (TokenKind.STRING, "a'b", 52), (TokenKind.INTEGER, "42", 59), (TokenKind.END, "", 61),
    ]


_FRAGMENTS = ["grant", "revoke", "label", "select", "on", "table", "to", "from", "user", "role", "set", "show",
              "grants", "for", "put", "policy", "with", "exp", "privilegeproperties", "setproject", "add", "package",
              "odps.security.ip.whitelist", "ALIYUN$bob", "RAM$a:b", "`RAM$a:role/x`", "3", "10", "t", "(", ")", ",",
              ";", "=", ".", "*", "{", "}", "'", '"', "`", "$", "\\", "true", "1.2.3.4/8", "-", '"policy"']


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=4), max_size=25).map(" ".join))
def test_parse_raises_nothing_but_a_positioned_statement_error(text):
    try:
        statement = parse(text)
    except StatementError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert isinstance(statement, ast.Statement)
