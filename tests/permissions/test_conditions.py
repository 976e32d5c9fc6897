import time
from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import ValidationError

from apps.permissions.conditions import (
    Condition,
    RequestContext,
    condition_compile,
    inline_condition_compile,
)

UTC = timezone.utc
SHANGHAI = timezone(timedelta(hours=8))
NOON_UTC = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def holds(operator, key, values, **context):
    return condition_compile({operator: {key: values}}).matches(RequestContext(**context))


@pytest.mark.parametrize(
    "operator, key, values, context, expected",
    [
        ("StringEquals", "odps:TaskType", ["SQL", "DT"], {"task_type": "DT"}, True),
        ("StringEquals", "odps:TaskType", ["SQL"], {"task_type": "sql"}, False),
        ("StringNotEquals", "odps:TaskType", ["SQL", "DT"], {"task_type": "MR"}, True),
        ("StringNotEquals", "odps:TaskType", ["SQL", "DT"], {"task_type": "DT"}, False),
        ("StringEqualsIgnoreCase", "acs:UserAgent", ["ODPSCMD"], {"user_agent": "odpscmd"}, True),
        ("StringEqualsIgnoreCase", "acs:UserAgent", ["odpscmd"], {"user_agent": "dataworks"}, False),
        ("StringNotEqualsIgnoreCase", "acs:UserAgent", ["ODPSCMD"], {"user_agent": "OdpsCmd"}, False),
        ("StringNotEqualsIgnoreCase", "acs:UserAgent", ["ODPSCMD"], {"user_agent": "curl"}, True),
        ("StringLike", "acs:Referer", ["https://*.example.com/*"], {"referer": "https://a.example.com/x"}, True),
        ("StringLike", "acs:Referer", ["https://*.example.com/*"], {"referer": "https://example.org/x"}, False),
        ("StringLike", "odps:InstanceId", ["job_??"], {"instance_id": "job_42"}, True),
        ("StringLike", "odps:InstanceId", ["job_??"], {"instance_id": "job_421"}, False),
        ("StringLike", "odps:InstanceId", ["JOB_*"], {"instance_id": "job_1"}, False),
        ("StringLike", "odps:InstanceId", ["a.b"], {"instance_id": "axb"}, False),
        ("StringNotLike", "odps:DestinationProject", ["secret*"], {"destination_project": "public_bi"}, True),
        ("StringNotLike", "odps:DestinationProject", ["secret*"], {"destination_project": "secretgarden"}, False),
        ("StringEquals", "acs:SourceIp", ["10.0.0.1"], {"source_ip": "10.0.0.1"}, True),
        ("NumericEquals", "odps:InstanceId", ["42"], {"instance_id": "42.0"}, True),
        ("NumericEquals", "odps:InstanceId", [42], {"instance_id": "43"}, False),
        ("NumericNotEquals", "odps:InstanceId", ["42"], {"instance_id": "43"}, True),
        ("NumericNotEquals", "odps:InstanceId", ["42", "43"], {"instance_id": "43"}, False),
        ("NumericLessThan", "odps:InstanceId", ["10"], {"instance_id": "9.5"}, True),
        ("NumericLessThan", "odps:InstanceId", ["10"], {"instance_id": "10"}, False),
        ("NumericLessThanEquals", "odps:InstanceId", ["10"], {"instance_id": "10"}, True),
        ("NumericGreaterThan", "odps:InstanceId", ["10"], {"instance_id": "10"}, False),
        ("NumericGreaterThan", "odps:InstanceId", ["10", "5"], {"instance_id": "7"}, True),
        ("NumericGreaterThanEquals", "odps:InstanceId", ["10"], {"instance_id": "10"}, True),
        ("NumericGreaterThanEquals", "odps:InstanceId", ["10"], {"instance_id": "abc"}, False),
        ("DateEquals", "acs:CurrentTime", ["2024-06-01T20:00:00+08:00"], {"current_time": NOON_UTC}, True),
        ("DateNotEquals", "acs:CurrentTime", ["2024-06-01T12:00:00Z"], {"current_time": NOON_UTC}, False),
        ("DateNotEquals", "acs:CurrentTime", ["2024-06-01T12:00:01Z"], {"current_time": NOON_UTC}, True),
        ("DateLessThan", "acs:CurrentTime", ["2024-06-01T12:00:00Z"], {"current_time": NOON_UTC}, False),
        ("DateLessThan", "acs:CurrentTime", ["2024-06-01T20:00:01+08:00"], {"current_time": NOON_UTC}, True),
        ("DateLessThanEquals", "acs:CurrentTime", ["2024-06-01T12:00:00Z"], {"current_time": NOON_UTC}, True),
        ("DateGreaterThan", "acs:CurrentTime", ["2024-06-01T19:59:59+08:00"], {"current_time": NOON_UTC}, True),
        ("DateGreaterThan", "acs:CurrentTime", ["2024-06-01T12:00:00Z"], {"current_time": NOON_UTC}, False),
        ("DateGreaterThanEquals", "acs:CurrentTime", ["2024-06-01T12:00:00Z"],
         {"current_time": NOON_UTC.astimezone(SHANGHAI)}, True),
        ("Bool", "acs:SecureTransport", ["true"], {"secure_transport": True}, True),
        ("Bool", "acs:SecureTransport", [True], {"secure_transport": False}, False),
        ("Bool", "acs:SecureTransport", "false", {"secure_transport": False}, True),
        ("IpAddress", "acs:SourceIp", ["192.168.0.0/16", "172.12.0.0/16"], {"source_ip": "172.12.3.4"}, True),
        ("IpAddress", "acs:SourceIp", ["192.168.0.0/16"], {"source_ip": "10.0.0.1"}, False),
        ("IpAddress", "acs:SourceIp", ["10.0.0.1-10.0.0.9"], {"source_ip": "10.0.0.9"}, True),
        ("IpAddress", "acs:SourceIp", ["2001:db8::/32"], {"source_ip": "2001:db8::7"}, True),
        ("IpAddress", "acs:SourceIp", ["2001:db8::/32"], {"source_ip": "2001:db9::7"}, False),
        ("NotIpAddress", "acs:SourceIp", ["192.168.0.0/16"], {"source_ip": "10.0.0.1"}, True),
        ("NotIpAddress", "acs:SourceIp", ["192.168.0.0/16"], {"source_ip": "192.168.1.1"}, False),
    ],
)
def test_operator(operator, key, values, context, expected):
    assert holds(operator, key, values, **context) is expected


@pytest.mark.parametrize(
    "operator, key, values",
    [
        ("StringEquals", "odps:TaskType", ["SQL"]),
        ("StringLike", "acs:UserAgent", ["*"]),
        ("NumericLessThan", "odps:InstanceId", ["10"]),
        ("DateGreaterThan", "acs:CurrentTime", ["2000-01-01T00:00:00Z"]),
        ("Bool", "acs:SecureTransport", ["true"]),
        ("IpAddress", "acs:SourceIp", ["*"]),
    ],
)
def test_a_missing_key_makes_a_positive_operator_false(operator, key, values):
    assert holds(operator, key, values) is False


@pytest.mark.parametrize(
    "operator, key, values",
    [
        ("StringNotEquals", "odps:TaskType", ["SQL"]),
        ("StringNotLike", "acs:UserAgent", ["*"]),
        ("StringNotEqualsIgnoreCase", "acs:Referer", ["x"]),
        ("NumericNotEquals", "odps:InstanceId", ["1"]),
        ("DateNotEquals", "acs:CurrentTime", ["2000-01-01T00:00:00Z"]),
        ("NotIpAddress", "acs:SourceIp", ["10.0.0.0/8"]),
    ],
)
def test_a_missing_key_makes_a_negated_operator_true(operator, key, values):
    assert holds(operator, key, values) is True


def test_keys_and_operators_and_together_while_values_or():
    condition = condition_compile({
        "IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]},
        "StringEquals": {"odps:TaskType": ["SQL", "DT"], "acs:UserAgent": "odpscmd"},
    })
    allowed = RequestContext(source_ip="192.168.1.1", task_type="DT", user_agent="odpscmd")
    assert condition.matches(allowed)
    assert not condition.matches(RequestContext(source_ip="8.8.8.8", task_type="DT", user_agent="odpscmd"))
    assert not condition.matches(RequestContext(source_ip="10.0.0.1", task_type="MR", user_agent="odpscmd"))
    assert not condition.matches(RequestContext(source_ip="10.0.0.1", task_type="SQL"))


def test_a_time_window_reads_offsets_as_instants():
    window = condition_compile({
        "DateGreaterThanEquals": {"acs:CurrentTime": "2024-06-01T09:00:00+08:00"},
        "DateLessThan": {"acs:CurrentTime": "2024-06-01T18:00:00+08:00"},
    })
    assert window.matches(RequestContext(current_time=datetime(2024, 6, 1, 1, 0, tzinfo=UTC)))
    assert not window.matches(RequestContext(current_time=datetime(2024, 6, 1, 10, 0, tzinfo=UTC)))
    assert not window.matches(RequestContext(current_time=datetime(2024, 6, 1, 8, 59, tzinfo=SHANGHAI)))


def test_a_plain_mapping_keyed_by_condition_keys_is_a_context_too():
    condition = condition_compile({"StringEquals": {"odps:TaskType": "SQL"}, "Bool": {"acs:SecureTransport": "true"}})
    assert condition.matches({"odps:TaskType": "SQL", "acs:SecureTransport": "true"})
    assert not condition.matches({"odps:TaskType": "SQL"})


def test_operator_and_key_names_are_case_insensitive_and_come_out_canonical():
    condition = condition_compile({"stringequals": {"ODPS:TASKTYPE": "SQL"},
                                   "ipaddress": {"acs:sourceip": "10.1.0.0/8"}})
    assert condition.as_dict() == {"StringEquals": {"odps:TaskType": ["SQL"]},
                                   "IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}


def test_as_dict_spells_every_value_canonically_and_compiles_back_to_the_same_condition():
    condition = condition_compile({
        "DateLessThan": {"acs:CurrentTime": ["2024-06-01T12:00:00+00:00", "2024-06-01T20:00:00+08:00"]},
        "Bool": {"acs:SecureTransport": True},
        "NumericLessThan": {"odps:InstanceId": 7},
        "StringEquals": {"odps:TaskType": ["SQL", "SQL"]},
    })
    assert condition.as_dict() == {
        "DateLessThan": {"acs:CurrentTime": ["2024-06-01T12:00:00Z", "2024-06-01T20:00:00+08:00"]},
        "Bool": {"acs:SecureTransport": ["true"]},
        "NumericLessThan": {"odps:InstanceId": ["7"]},
        "StringEquals": {"odps:TaskType": ["SQL"]},
    }
    assert condition_compile(condition.as_dict()) == condition


def test_a_pattern_with_many_stars_does_not_backtrack_for_ever():
    condition = condition_compile({"StringLike": {"acs:UserAgent": "a*" * 25 + "b"}})
    started = time.perf_counter()
    assert not condition.matches(RequestContext(user_agent="a" * 200))
    assert condition.matches(RequestContext(user_agent="a" * 200 + "b"))
    assert time.perf_counter() - started < 0.5


def test_request_context_is_a_mapping_of_the_keys_it_knows():
    context = RequestContext(source_ip="10.0.0.1", task_type="SQL")
    assert dict(context) == {"acs:SourceIp": "10.0.0.1", "odps:TaskType": "SQL"}
    assert context.value_of("ACS:SOURCEIP") == "10.0.0.1"
    assert context.get("acs:CurrentTime", "unknown") == "unknown"
    assert "acs:UserAgent" not in context
    with pytest.raises(KeyError):
        context["acs:Referer"]


def test_request_context_refuses_a_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        RequestContext(current_time=datetime(2024, 6, 1, 12, 0))


@pytest.mark.parametrize(
    "condition, message",
    [
        ([], "Condition: a condition is an object of operators"),
        ({"StringIs": {"odps:TaskType": "SQL"}}, "Condition.StringIs: unknown condition operator; use one of: "),
        ({"StringEquals": []}, "Condition.StringEquals: give an object of keys and values"),
        ({"StringEquals": {"odps:Task": "SQL"}}, "Condition.StringEquals.odps:Task: unknown condition key"),
        ({"StringEquals": {"odps:TaskType": []}}, "Condition.StringEquals.odps:TaskType: give at least one value."),
        ({"StringEquals": {"odps:TaskType": [{"a": 1}]}},
         "Condition.StringEquals.odps:TaskType[0]: a condition value is a string, a number or true/false."),
        ({"StringEquals": {"odps:TaskType": ["SQL", True]}},
         "Condition.StringEquals.odps:TaskType[1]: use a string here, not true."),
        ({"DateLessThan": {"acs:CurrentTime": "2024-06-01T12:00:00"}},
         "Condition.DateLessThan.acs:CurrentTime[0]: '2024-06-01T12:00:00' is not an ISO 8601 date-time with a "
         "time zone"),
        ({"DateLessThan": {"acs:CurrentTime": "tomorrow"}},
         "Condition.DateLessThan.acs:CurrentTime[0]: 'tomorrow' is not an ISO 8601 date-time"),
        ({"NumericLessThan": {"odps:InstanceId": ["1", "ten"]}},
         "Condition.NumericLessThan.odps:InstanceId[1]: 'ten' is not a number."),
        ({"Bool": {"acs:SecureTransport": "yes"}},
         "Condition.Bool.acs:SecureTransport[0]: 'yes' is not true or false."),
        ({"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "10.0.0.300"]}},
         "Condition.IpAddress.acs:SourceIp: entry 2 '10.0.0.300' is not an IP address, a CIDR or a range"),
        ({"IpAddress": {"odps:TaskType": "10.0.0.0/8"}},
         "Condition.IpAddress.odps:TaskType: IpAddress does not apply to odps:TaskType, which is text; "
         "use a String or Numeric operator."),
        ({"DateEquals": {"acs:SourceIp": "2024-06-01T12:00:00Z"}},
         "Condition.DateEquals.acs:SourceIp: DateEquals does not apply to acs:SourceIp, which is an IP address"),
        ({"StringEquals": {"acs:SecureTransport": "true"}},
         "Condition.StringEquals.acs:SecureTransport: StringEquals does not apply to acs:SecureTransport, which is "
         "true or false; use Bool."),
        ({"NumericEquals": {"acs:CurrentTime": "1"}},
         "Condition.NumericEquals.acs:CurrentTime: NumericEquals does not apply to acs:CurrentTime, which is a "
         "date-time; use a Date operator."),
    ],
)
def test_bad_conditions_name_the_bad_part(condition, message):
    with pytest.raises(ValidationError) as caught:
        condition_compile(condition)
    assert len(caught.value.messages) == 1
    assert caught.value.messages[0].startswith(message)


def test_every_error_in_a_condition_is_reported_under_the_given_path():
    with pytest.raises(ValidationError) as caught:
        condition_compile({"Nope": {}, "Bool": {"acs:SecureTransport": "maybe"}}, path="Statement[3].Condition")
    assert [message.split(":")[0] for message in caught.value.messages] == [
        "Statement[3].Condition.Nope", "Statement[3].Condition.Bool.acs"]


# --- the inline form --------------------------------------------------------------------------

def test_the_reference_example_compiles_to_its_json_form():
    condition = inline_condition_compile(
        "acs:SourceIp in ('192.168.0.0/16','172.12.0.0/16') and 'odps:InstanceId'='aaaaaa'")
    assert condition.as_dict() == {
        "IpAddress": {"acs:SourceIp": ["192.168.0.0/16", "172.12.0.0/16"]},
        "StringEquals": {"odps:InstanceId": ["aaaaaa"]},
    }
    assert condition.matches(RequestContext(source_ip="172.12.0.9", instance_id="aaaaaa"))
    assert not condition.matches(RequestContext(source_ip="172.13.0.9", instance_id="aaaaaa"))


@pytest.mark.parametrize(
    "text, document",
    [
        ('"acs:SourceIp" = "10.0.0.0/8"', {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}),
        ("acs:SourceIp NOT IN ('10.0.0.0/8', '10.0.0.1-10.0.0.3')",
         {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8", "10.0.0.1-10.0.0.3"]}}),
        ("acs:SourceIp <> '10.0.0.1'", {"NotIpAddress": {"acs:SourceIp": ["10.0.0.1"]}}),
        ("acs:sourceip like '10.*'", {"StringLike": {"acs:SourceIp": ["10.*"]}}),
        ("odps:TaskType != 'DT' and odps:TaskType not in ('MR')", {"StringNotEquals": {"odps:TaskType": ["DT", "MR"]}}),
        ("acs:UserAgent not like '*curl*'", {"StringNotLike": {"acs:UserAgent": ["*curl*"]}}),
        ("acs:Referer = 'it''s'", {"StringEquals": {"acs:Referer": ["it's"]}}),
        ("odps:InstanceId >= 10 AND odps:InstanceId < 20.5",
         {"NumericGreaterThanEquals": {"odps:InstanceId": ["10"]}, "NumericLessThan": {"odps:InstanceId": ["20.5"]}}),
        ("odps:InstanceId = 42", {"StringEquals": {"odps:InstanceId": ["42"]}}),
        ("acs:CurrentTime >= '2024-06-01T09:00:00+08:00' and acs:CurrentTime <= '2024-06-01T18:00:00+08:00'",
         {"DateGreaterThanEquals": {"acs:CurrentTime": ["2024-06-01T09:00:00+08:00"]},
          "DateLessThanEquals": {"acs:CurrentTime": ["2024-06-01T18:00:00+08:00"]}}),
        ("acs:CurrentTime > '2024-06-01T00:00:00Z'",
         {"DateGreaterThan": {"acs:CurrentTime": ["2024-06-01T00:00:00Z"]}}),
        ("acs:SecureTransport = true", {"Bool": {"acs:SecureTransport": ["true"]}}),
        ("acs:SecureTransport != 'true'", {"Bool": {"acs:SecureTransport": ["false"]}}),
        ("odps:DestinationProject in ('bi', 'reports');", None),
    ],
)
def test_inline_grammar(text, document):
    if document is None:
        with pytest.raises(ValidationError):
            inline_condition_compile(text)
    else:
        assert inline_condition_compile(text).as_dict() == document


def test_inline_keywords_and_quoted_keys_are_case_insensitive():
    assert inline_condition_compile("'ODPS:TASKTYPE' IN ('SQL') And acs:useragent LIKE 'odps*'").as_dict() == {
        "StringEquals": {"odps:TaskType": ["SQL"]}, "StringLike": {"acs:UserAgent": ["odps*"]}}


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "conditions: the condition is empty."),
        ("acs:SourceIp in ('10.0.0.0/8'", "conditions: the condition ends where ',' or ')' should follow."),
        ("acs:SourceIp in '10.0.0.0/8'", "conditions at character 17: expected '(', found \"'10.0.0.0/8'\"."),
        ("acs:SourceIp = 10.0.0.1", "conditions at character 16: put the value '10.0.0.1' in quotes."),
        ("acs:Source = '10.0.0.1'", "conditions at character 1: unknown condition key 'acs:Source'"),
        ("odps:TaskType = 'SQL' or odps:TaskType = 'DT'",
         "conditions at character 23: conditions join with 'and' only"),
        ("odps:TaskType = 'SQL' and", "conditions: the condition ends where a condition key such as acs:SourceIp "
                                      "should follow."),
        ("odps:TaskType = 'SQL' odps:TaskType = 'DT'",
         "conditions at character 23: expected 'and' or the end of the condition, found 'odps:TaskType'."),
        ("odps:TaskType = 'SQL' and odps:TaskType = 'DT'",
         "conditions at character 27: odps:TaskType is compared with '=' twice; "
         "list the alternatives in one in (...)."),
        ("odps:TaskType = 'SQL", "conditions at character 17: unexpected \"'\" (an unclosed quote?)."),
        ("acs:CurrentTime like '2024*'", "conditions at character 1: acs:CurrentTime cannot be compared with 'like'."),
        ("acs:SourceIp < '10.0.0.1'", "conditions at character 1: acs:SourceIp cannot be compared with '<'."),
        ("odps:TaskType not = 'SQL'", "conditions at character 19: expected 'in' or 'like' after 'not', found '='."),
        ("odps:TaskType 'SQL'", "conditions at character 15: expected an operator"),
        ("odps:InstanceId < 'ten'", "conditions.NumericLessThan.odps:InstanceId[0]: 'ten' is not a number."),
        ("acs:CurrentTime < '2024-06-01'", "conditions.DateLessThan.acs:CurrentTime[0]: '2024-06-01' is not an ISO"),
        ("acs:SourceIp in ('10.0.0.300')",
         "conditions.IpAddress.acs:SourceIp: entry 1 '10.0.0.300' is not an IP address, a CIDR or a range"),
    ],
)
def test_inline_errors_name_the_bad_part(text, message):
    with pytest.raises(ValidationError) as caught:
        inline_condition_compile(text)
    assert caught.value.messages[0].startswith(message)


def test_inline_and_json_forms_compile_to_equal_conditions():
    inline = inline_condition_compile("acs:SourceIp in ('10.0.0.0/8') and odps:TaskType = 'SQL'")
    assert isinstance(inline, Condition)
    assert inline == condition_compile({"IpAddress": {"acs:SourceIp": "10.0.0.0/8"},
                                        "StringEquals": {"odps:TaskType": "SQL"}})
