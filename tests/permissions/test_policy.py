import json
import re

import pytest
from django.core.exceptions import ValidationError

from apps.permissions.actions import ACTIONS, ObjectType
from apps.permissions.conditions import RequestContext
from apps.permissions.policy import policy_document_parse, resource_path

PROJECT = "wonderland"
EVERY_ACTION_NAME = {action for actions in ACTIONS.values() for action in actions}


def statement(**fields):
    body = {"Effect": "Allow", "Principal": "RAM$acme:alice", "Action": ["odps:Select"],
            "Resource": [f"acs:odps:*:projects/{PROJECT}/tables/customers"]}
    body.update(fields)
    return {key: value for key, value in body.items() if value is not None}


def parse(*statements, scope="project", **options):
    return policy_document_parse({"Version": "1", "Statement": list(statements)}, scope=scope,
                                 project_name=PROJECT, **options)


def only_statement(*statements, **options):
    return parse(*statements, **options).statements[0]


def test_the_reference_document_parses_into_canonical_json():
    text = """{
      "Version": "1",
      "Statement": [{
        "Effect": "deny",
        "Principal": ["ALIYUN$Bob@aliyun.com", "RAM$acme:Allen"],
        "Action": ["odps:select", "odps:CREATETABLE"],
        "Resource": ["acs:odps:*:projects/WonderLand/tables/T_APP_*", "acs:odps:*:projects/wonderland"],
        "Condition": {"IpAddress": {"acs:SourceIp": ["192.168.0.0/16"]}}
      }]
    }"""
    document = policy_document_parse(text, scope="project", project_name=PROJECT)
    assert json.loads(document.canonical_json()) == {"Version": "1", "Statement": [{
        "Effect": "Deny",
        "Principal": ["ALIYUN$bob@aliyun.com", "RAM$acme:allen"],
        "Action": ["odps:Select", "odps:CreateTable"],
        "Resource": ["acs:odps:*:projects/wonderland/tables/t_app_*", "acs:odps:*:projects/wonderland"],
        "Condition": {"IpAddress": {"acs:SourceIp": ["192.168.0.0/16"]}},
    }]}
    again = policy_document_parse(document.canonical_json(), scope="project", project_name=PROJECT)
    assert again == document
    assert again.canonical_json() == document.canonical_json()


def test_single_values_and_a_single_statement_object_are_accepted_and_listed():
    document = policy_document_parse(
        {"version": 1, "statement": {"effect": "ALLOW", "principal": "*", "action": "odps:Describe",
                                     "resource": f"acs:odps:*:projects/{PROJECT}/tables/t"}},
        scope="project", project_name=PROJECT)
    assert document.as_dict() == {"Version": "1", "Statement": [{
        "Effect": "Allow", "Principal": ["*"], "Action": ["odps:Describe"],
        "Resource": [f"acs:odps:*:projects/{PROJECT}/tables/t"]}]}


def test_text_may_come_as_bytes_and_an_empty_statement_list_is_an_empty_policy():
    document = policy_document_parse(b'{"Version": "1", "Statement": []}', scope="role", project_name=PROJECT)
    assert document.statements == ()
    assert document.canonical_json() == '{\n  "Version": "1",\n  "Statement": []\n}'


def test_a_role_policy_names_no_principal_and_applies_to_whoever_holds_the_role():
    role_statement = only_statement(statement(Principal=None), scope="role")
    assert role_statement.principal_matcher is None
    assert role_statement.exact_principals is None
    assert role_statement.applies_to("RAM$acme:anyone", "Select", resource_path(PROJECT, ObjectType.TABLE, "customers"))


def test_an_exception_policy_takes_allow_statements_with_a_principal():
    document = parse(statement(Condition={"StringEquals": {"odps:TaskType": "SQL"},
                                          "StringLike": {"odps:DestinationProject": "trusted_*"}}), scope="exception")
    exception = document.statements[0]
    assert exception.applies_to("RAM$acme:alice", "Select", f"projects/{PROJECT}/tables/customers")
    assert exception.condition_holds(RequestContext(task_type="SQL", destination_project="trusted_bi"))
    assert not exception.condition_holds(RequestContext(task_type="SQL", destination_project="secretgarden"))


@pytest.mark.parametrize(
    "object_type, resource, name",
    [
        (ObjectType.PROJECT, f"acs:odps:*:projects/{PROJECT}", None),
        (ObjectType.TABLE, f"acs:odps:*:projects/{PROJECT}/tables/customers", "customers"),
        (ObjectType.FUNCTION, f"acs:odps:*:projects/{PROJECT}/registration/functions/mask_phone", "mask_phone"),
        (ObjectType.RESOURCE, f"acs:odps:*:projects/{PROJECT}/resources/udf.jar", "udf.jar"),
        (ObjectType.INSTANCE, f"acs:odps:*:projects/{PROJECT}/instances/20240601abc", "20240601abc"),
        (ObjectType.PACKAGE, f"acs:odps:*:projects/{PROJECT}/packages/shared_kit", "shared_kit"),
    ],
)
def test_every_resource_form_matches_the_path_a_request_names(object_type, resource, name):
    compiled = only_statement(statement(Action="odps:*", Resource=[resource]))
    path = resource_path(PROJECT.upper(), object_type, name.upper() if name else None)
    assert compiled.exact_resources == frozenset({path})
    assert compiled.applies_to("RAM$acme:alice", "Read", path)
    other_type = ObjectType.TABLE if object_type != ObjectType.TABLE else ObjectType.RESOURCE
    assert not compiled.applies_to("RAM$acme:alice", "Read", resource_path(PROJECT, other_type, name or "x"))


@pytest.mark.parametrize(
    "pattern, matching, not_matching",
    [
        ("tables/t_app_*", ["t_app_", "t_app_orders", "T_APP_X"], ["t_ap", "x_t_app_1", "t_app_1/evil"]),
        ("tables/t_?", ["t_1", "t_x"], ["t_", "t_12"]),
        ("tables/*", ["anything", "t"], []),
        ("tables/*_pii_*", ["crm_pii_phone"], ["crm_pii", "pii_x"]),
    ],
)
def test_resource_wildcards_match_within_one_name(pattern, matching, not_matching):
    compiled = only_statement(statement(Resource=[f"acs:odps:*:projects/{PROJECT}/{pattern}"]))
    assert compiled.exact_resources is None
    for name in matching:
        assert compiled.applies_to("RAM$acme:alice", "Select", resource_path(PROJECT, ObjectType.TABLE, name)), name
    for name in not_matching:
        assert not compiled.applies_to("RAM$acme:alice", "Select", f"projects/{PROJECT}/tables/{name}"), name
    assert not compiled.applies_to("RAM$acme:alice", "Select", f"projects/{PROJECT}")


def test_a_wildcard_project_must_cover_the_policys_own_project():
    compiled = only_statement(statement(Resource=["acs:odps:*:projects/wonder*/tables/t"]))
    assert compiled.applies_to("RAM$acme:alice", "Select", f"projects/{PROJECT}/tables/t")
    assert not compiled.applies_to("RAM$acme:alice", "Select", "projects/secretgarden/tables/t")


def test_action_wildcards_expand_to_the_actions_they_cover():
    creates = only_statement(statement(Action=["odps:create*"], Resource=[f"acs:odps:*:projects/{PROJECT}"]))
    assert creates.exact_actions == {"CreateTable", "CreateInstance", "CreateFunction", "CreateResource"}
    assert creates.document["Action"] == ["odps:create*"]
    everything = only_statement(statement(Action=["odps:*"]))
    assert everything.exact_actions == EVERY_ACTION_NAME
    assert everything.applies_to("RAM$acme:alice", "Download", f"projects/{PROJECT}/tables/customers")
    single = only_statement(statement(Action=["odps:SELECT", "odps:select"]))
    assert single.exact_actions == {"Select"}
    assert single.document["Action"] == ["odps:Select"]
    assert not single.applies_to("RAM$acme:alice", "Describe", f"projects/{PROJECT}/tables/customers")


@pytest.mark.parametrize(
    "principals, options, matching, not_matching, exact",
    [
        (["RAM$acme:Alice"], {}, ["RAM$acme:alice"], ["RAM$acme:bob", "RAM$other:alice"], {"RAM$acme:alice"}),
        (["ALIYUN$owner@aliyun.com"], {}, ["ALIYUN$owner@aliyun.com"], ["RAM$owner@aliyun.com"],
         {"ALIYUN$owner@aliyun.com"}),
        ("*", {}, ["RAM$acme:alice", "ALIYUN$x"], [], None),
        (["RAM$acme:etl_*"], {}, ["RAM$acme:etl_daily", "RAM$ACME:ETL_1"], ["RAM$acme:bi_1", "RAM$other:etl_1"], None),
        (["RAM$acme:svc_?"], {}, ["RAM$acme:svc_1"], ["RAM$acme:svc_12"], None),
        (["RAM$alice"], {}, ["RAM$acme:alice", "RAM$other:alice"], ["RAM$acme:alice2", "ALIYUN$alice"], None),
        (["RAM$alice"], {"tenant_name": "acme"}, ["RAM$acme:alice"], ["RAM$other:alice"], {"RAM$acme:alice"}),
        (["`RAM$acme:role/Auditor`"], {}, ["RAM$acme:role/auditor"], ["RAM$acme:auditor"], {"RAM$acme:role/auditor"}),
    ],
)
def test_principal_matching(principals, options, matching, not_matching, exact):
    compiled = only_statement(statement(Principal=principals), **options)
    table = f"projects/{PROJECT}/tables/customers"
    for principal in matching:
        assert compiled.applies_to(principal, "Select", table), principal
    for principal in not_matching:
        assert not compiled.applies_to(principal, "Select", table), principal
    assert compiled.exact_principals == (frozenset(exact) if exact is not None else None)


def test_exact_indexes_are_none_as_soon_as_one_pattern_has_a_wildcard():
    mixed = only_statement(statement(Principal=["RAM$acme:alice", "RAM$acme:b*"],
                                     Resource=[f"acs:odps:*:projects/{PROJECT}/tables/a",
                                               f"acs:odps:*:projects/{PROJECT}/tables/b*"]))
    assert mixed.exact_principals is None
    assert mixed.exact_resources is None
    assert mixed.applies_to("RAM$acme:alice", "Select", f"projects/{PROJECT}/tables/a")
    assert mixed.applies_to("RAM$acme:bob", "Select", f"projects/{PROJECT}/tables/bx")
    exact = only_statement(statement(Resource=[f"acs:odps:*:projects/{PROJECT}/tables/a",
                                               f"acs:odps:*:projects/{PROJECT}/tables/b"]))
    assert exact.exact_resources == {f"projects/{PROJECT}/tables/a", f"projects/{PROJECT}/tables/b"}
    assert exact.exact_principals == {"RAM$acme:alice"}


def test_statements_keep_their_index_effect_and_condition():
    document = parse(statement(), statement(Effect="DENY", Condition={"NotIpAddress": {"acs:SourceIp": "10.0.0.0/8"}}))
    allow, deny = document.statements
    assert (allow.index, allow.effect, allow.is_deny, allow.condition) == (0, "Allow", False, None)
    assert (deny.index, deny.effect, deny.is_deny) == (1, "Deny", True)
    assert allow.condition_holds(RequestContext())
    assert deny.condition_holds(RequestContext(source_ip="8.8.8.8"))
    assert not deny.condition_holds(RequestContext(source_ip="10.1.1.1"))


def test_an_empty_condition_is_no_condition():
    compiled = only_statement(statement(Condition={}))
    assert compiled.condition is None
    assert "Condition" not in compiled.document


def test_matching_a_compiled_statement_compiles_no_regex(monkeypatch):
    compiled = only_statement(statement(
        Principal=["RAM$acme:etl_*", "RAM$bob"], Action=["odps:Create*", "odps:Select"],
        Resource=[f"acs:odps:*:projects/{PROJECT}/tables/t_*", f"acs:odps:*:projects/{PROJECT}"],
        Condition={"StringLike": {"acs:UserAgent": "odps*"}, "IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}))
    assert isinstance(compiled.principal_matcher.wildcard, re.Pattern)
    assert isinstance(compiled.resource_matcher.wildcard, re.Pattern)

    def refuse(*args, **kwargs):
        raise AssertionError("a regex was compiled while matching")

    monkeypatch.setattr(re, "compile", refuse)
    monkeypatch.setattr(re, "_compile", refuse)
    assert compiled.applies_to("RAM$acme:etl_daily", "Select", f"projects/{PROJECT}/tables/t_orders")
    assert compiled.applies_to("RAM$acme:bob", "CreateTable", f"projects/{PROJECT}")
    assert not compiled.applies_to("RAM$acme:carol", "Select", f"projects/{PROJECT}/tables/t_orders")
    assert compiled.condition_holds(RequestContext(user_agent="odpscmd", source_ip="10.9.9.9"))
    assert not compiled.condition_holds(RequestContext(user_agent="curl", source_ip="10.9.9.9"))


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "document, scope, message",
    [
        ('{"Version": "1",\n  "Statement": [}', "project",
         "The policy is not valid JSON: line 2, column 17: Expecting value."),
        ('{"Version": "1", "Version": "1", "Statement": []}', "project",
         "The policy has the key 'Version' twice in one object."),
        (b"\xff", "project", "The policy is not UTF-8 text."),
        ("[]", "project", 'A policy is a JSON object: {"Version": "1", "Statement": [...]}.'),
        ({"Statement": []}, "project", 'Version: Version "1" is required.'),
        ({"Version": "2", "Statement": []}, "project", "Version: '2' is not a policy version; use \"1\"."),
        ({"Version": "1", "Statement": [], "Id": "x"}, "project", "Id: unknown key; use Version, Statement."),
        ({"Version": "1", "version": "1", "Statement": []}, "project", "version: Version is given twice."),
        ({"Version": "1"}, "project", "Statement: Statement (a list of statements) is required."),
        ({"Version": "1", "Statement": "allow all"}, "project", "Statement: give a list of statements."),
        ({"Version": "1", "Statement": ["x"]}, "project",
         "Statement[0]: a statement is an object with Effect, Action, Resource, Principal and optionally Condition."),
        ({"Version": "1", "Statement": [statement(Effect=None)]}, "project",
         "Statement[0].Effect: Effect (Allow or Deny) is required."),
        ({"Version": "1", "Statement": [statement(Effect="Permit")]}, "project",
         "Statement[0].Effect: 'Permit' is neither Allow nor Deny."),
        ({"Version": "1", "Statement": [statement(Effect="Deny")]}, "exception",
         "Statement[0].Effect: an exception policy only lets data out of a protected project; "
         "it has Allow statements only."),
        ({"Version": "1", "Statement": [statement(NotAction=["odps:Select"])]}, "project",
         "Statement[0].NotAction: unknown key; use Effect, Principal, Action, Resource, Condition."),
        ({"Version": "1", "Statement": [statement()]}, "role",
         "Statement[0].Principal: a role policy applies to the role's members and names no Principal."),
        ({"Version": "1", "Statement": [statement(Principal=None)]}, "project",
         'Statement[0].Principal: a project policy must name a Principal ("*" for everyone).'),
        ({"Version": "1", "Statement": [statement(Principal=None)]}, "exception",
         'Statement[0].Principal: an exception policy must name a Principal ("*" for everyone).'),
        ({"Version": "1", "Statement": [statement(Principal=[])]}, "project",
         'Statement[0].Principal: give a principal, a list of them, or "*" for everyone.'),
        ({"Version": "1", "Statement": [statement(Principal=["RAM$acme:alice", "bob"])]}, "project",
         "Statement[0].Principal[1]: 'bob' is not a principal; write ALIYUN$<account>"),
        ({"Version": "1", "Statement": [statement(Principal="ALIYUN$a:b")]}, "project",
         "Statement[0].Principal: 'ALIYUN$a:b' is not a principal"),
        ({"Version": "1", "Statement": [statement(Principal="RAM$acme:role/")]}, "project",
         "Statement[0].Principal: 'RAM$acme:role/' is not a principal"),
        ({"Version": "1", "Statement": [statement(Principal=[7])]}, "project",
         "Statement[0].Principal[0]: a principal is a string such as ALIYUN$alice or RAM$tenant:bob."),
        ({"Version": "1", "Statement": [statement(Action=None)]}, "project",
         "Statement[0].Action: Action is required."),
        ({"Version": "1", "Statement": [statement(Action={"odps": "Select"})]}, "project",
         'Statement[0].Action: give a list of actions such as ["odps:Select"], or ["odps:*"].'),
        ({"Version": "1", "Statement": [statement(Action=["odps:Select", "Select"])]}, "project",
         "Statement[0].Action[1]: 'Select' is not an action; write odps:<Action> (e.g. odps:Select) or odps:*."),
        ({"Version": "1", "Statement": [statement(Action=["odps:Peek"])]}, "project",
         "Statement[0].Action[0]: 'Peek' is no MaxCompute action; use one of: Alter, "),
        ({"Version": "1", "Statement": [statement(Action=["odps:All"])]}, "project",
         "Statement[0].Action[0]: policies write all actions as odps:*."),
        ({"Version": "1", "Statement": [statement(Action=["odps:Peek*"])]}, "project",
         "Statement[0].Action[0]: 'odps:Peek*' matches no MaxCompute action."),
        ({"Version": "1", "Statement": [statement(Resource=None)]}, "project",
         "Statement[0].Resource: Resource is required."),
        ({"Version": "1", "Statement": [statement(Resource=[f"acs:odps:cn-hangzhou:projects/{PROJECT}"])]}, "project",
         f"Statement[0].Resource[0]: 'acs:odps:cn-hangzhou:projects/{PROJECT}' does not start with acs:odps:*:"),
        ({"Version": "1", "Statement": [statement(Resource=[f"acs:odps:*:projects/{PROJECT}/tables/t/columns/c"])]},
         "project", f"Statement[0].Resource[0]: 'acs:odps:*:projects/{PROJECT}/tables/t/columns/c' is not a "
                    f"MaxCompute resource; write acs:odps:*:projects/<p>"),
        ({"Version": "1", "Statement": [statement(Resource=[f"acs:odps:*:projects/{PROJECT}/views/v"])]}, "project",
         f"Statement[0].Resource[0]: 'acs:odps:*:projects/{PROJECT}/views/v' is not a MaxCompute resource"),
        ({"Version": "1", "Statement": [statement(Resource=[f"acs:odps:*:projects/{PROJECT}/tables/a b"])]}, "project",
         "Statement[0].Resource[0]: 'a b' is not a name: use letters, digits"),
        ({"Version": "1", "Statement": [statement(Resource=["acs:odps:*:projects/secretgarden/tables/t"])]}, "project",
         f"Statement[0].Resource[0]: names project 'secretgarden', but this policy belongs to project '{PROJECT}'."),
        ({"Version": "1", "Statement": [statement(Principal=None, Resource=["acs:odps:*:projects/secret*"])]}, "role",
         f"Statement[0].Resource[0]: names project 'secret*', but this policy belongs to project '{PROJECT}'."),
        ({"Version": "1", "Statement": [statement(Resource=[None])]}, "project",
         f"Statement[0].Resource[0]: a resource is a string such as acs:odps:*:projects/{PROJECT}."),
        ({"Version": "1", "Statement": [statement(Condition=None), statement(Condition="ip is internal")]}, "project",
         "Statement[1].Condition: a condition is an object of operators"),
        ({"Version": "1", "Statement": [statement(Condition=[])]}, "project",
         "Statement[0].Condition: a condition is an object of operators."),
        ({"Version": "1", "Statement": [statement(), statement(), statement(
            Condition={"IpAddress": {"acs:SourceIp": ["10.0.0.300"]}})]}, "project",
         "Statement[2].Condition.IpAddress.acs:SourceIp: entry 1 '10.0.0.300' is not an IP address, a CIDR or a range"),
        ({"Version": "1", "Statement": statement(Effect="maybe")}, "project",
         "Statement.Effect: 'maybe' is neither Allow nor Deny."),
    ],
)
def test_validation_errors_point_at_the_bad_part(document, scope, message):
    with pytest.raises(ValidationError) as caught:
        policy_document_parse(document, scope=scope, project_name=PROJECT)
    assert len(caught.value.messages) == 1, caught.value.messages
    assert caught.value.messages[0].startswith(message)


def test_every_error_of_a_document_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        parse(statement(), statement(Effect="maybe", Action=["odps:Peek"]),
              statement(Resource=["acs:odps:*:projects/other"]))
    assert [message.split(":")[0] for message in caught.value.messages] == [
        "Statement[1].Effect", "Statement[1].Action[0]", "Statement[2].Resource[0]"]


def test_a_document_with_a_thousand_statements_parses_and_keeps_their_order():
    statements = [statement(Resource=[f"acs:odps:*:projects/{PROJECT}/tables/t_{number}"]) for number in range(1000)]
    document = parse(*statements)
    assert [compiled.index for compiled in document.statements] == list(range(1000))
    assert document.statements[999].exact_resources == {f"projects/{PROJECT}/tables/t_999"}


def test_an_unknown_scope_is_a_programming_error():
    with pytest.raises(ValueError, match="scope must be one of"):
        policy_document_parse({"Version": "1", "Statement": []}, scope="user", project_name=PROJECT)
