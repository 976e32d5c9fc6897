"""The masking algorithms' table of cases (cases/algorithms.json), each run through both
implementations: mask_value in Python and mask_sql executed by PostgreSQL."""

import datetime
import json
import math
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.masking.algorithms import (
    ALGORITHMS,
    algorithm_result_type,
    mask_sql,
    mask_value,
    params_validated,
    value_kind,
)

SECRET = b"tenant-7-salt"
CASES = json.loads((Path(__file__).parent / "cases" / "algorithms.json").read_text(encoding="utf-8"))
MASKING_CASES = [case for case in CASES if "error" not in case]
ERROR_CASES = [case for case in CASES if "error" in case]


def decoded(value, sql_type: str):
    """A case's JSON value as psycopg returns a value of ``sql_type``."""
    if value is None:
        return None
    if sql_type.startswith("numeric"):
        return Decimal(str(value))
    if sql_type in ("smallint", "integer", "bigint"):
        return int(value)
    if sql_type in ("real", "double precision"):
        return float(value)
    if sql_type == "date":
        return datetime.date.fromisoformat(value)
    if sql_type.startswith("timestamp"):
        return datetime.datetime.fromisoformat(value)
    return value


def same(got, expected) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(expected, Decimal) and expected.is_nan():
        return isinstance(got, Decimal) and got.is_nan()
    # Decimals compare by their text too: the scale is part of the result (1200 vs 1.2E+3).
    return type(got) is type(expected) and got == expected and str(got) == str(expected)


def masked_in_database(code, params, value, data_type):
    expression = mask_sql(code, params, '"u"."v"', data_type=data_type, secret=SECRET)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {expression} FROM (SELECT CAST(%s AS {data_type}) AS v) AS "u"', [value])
        return cursor.fetchone()[0]


def test_cases_cover_every_algorithm_and_null():
    assert len({case["name"] for case in CASES}) == len(CASES)
    assert {case["code"] for case in MASKING_CASES} == set(ALGORITHMS)
    assert {case["code"] for case in MASKING_CASES if case["input"] is None} >= {"hash", "replace", "pseudonym"}
    assert len(MASKING_CASES) >= 60


@pytest.mark.django_db
@pytest.mark.parametrize("case", MASKING_CASES, ids=[case["name"] for case in MASKING_CASES])
def test_both_implementations_give_the_expected_value(case):
    params = params_validated(case["code"], case["params"])
    value = decoded(case["input"], case["data_type"])
    result_type = algorithm_result_type(case["code"], params, case["data_type"])
    expected = decoded(case["expected"], result_type)

    in_python = mask_value(case["code"], params, value, data_type=case["data_type"], secret=SECRET)
    in_database = masked_in_database(case["code"], params, value, case["data_type"])

    assert same(in_python, expected), f"Python gave {in_python!r}, expected {expected!r}"
    assert same(in_database, expected), f"PostgreSQL gave {in_database!r}, expected {expected!r}"


@pytest.mark.parametrize("case", ERROR_CASES, ids=[case["name"] for case in ERROR_CASES])
def test_invalid_parameters_are_refused_by_field(case):
    with pytest.raises(ValidationError) as raised:
        params_validated(case["code"], case["params"])
    assert sorted(raised.value.message_dict) == sorted(case["error"])


def test_validation_fills_defaults_and_coerces_types():
    assert params_validated("keep_ends", {"first": "3", "last": 2.0}) == {"first": 3, "last": 2, "mask_char": "*"}
    assert params_validated("bucket", {"width": Decimal("2.50")}) == {"width": "2.50"}
    assert params_validated("address", None) == {"keep": 6, "mask_char": "*"}
    assert params_validated("nullify", {}) == {}


def test_validated_parameters_survive_json():
    params = params_validated("bucket", {"width": 0.5})
    assert json.loads(json.dumps(params)) == params == {"width": "0.5"}


def test_algorithm_refuses_a_column_kind_it_does_not_apply_to():
    for call in (
        lambda: mask_sql("date_truncate", {"unit": "month"}, '"t"."c"', data_type="integer", secret=SECRET),
        lambda: mask_value("bucket", {"width": "10"}, "x", data_type="text", secret=SECRET),
        lambda: algorithm_result_type("hash", {"function": "sha256"}, "jsonb"),
    ):
        with pytest.raises(ValidationError) as raised:
            call()
        assert list(raised.value.message_dict) == ["algorithm"]


@pytest.mark.parametrize(
    ("data_type", "kind"),
    [
        ("character varying(20)", "text"), ("text", "text"), ("character(18)", "text"), ("bpchar", "text"),
        ("integer", "number"), ("bigint", "number"), ("numeric(10,2)", "number"), ("double precision", "number"),
        ("real", "number"), ("float(10)", "number"), ("date", "date"), ("timestamp with time zone", "date"),
        ("timestamp(3) without time zone", "date"), ("boolean", "other"), ("jsonb", "other"),
        ("integer[]", "other"), ("time with time zone", "other"), ("uuid", "other"),
    ],
)
def test_value_kind_of_postgresql_types(data_type, kind):
    assert value_kind(data_type) == kind


@pytest.mark.parametrize(
    ("code", "data_type", "result_type"),
    [
        ("round_number", "integer", "numeric"), ("round_number", "real", "double precision"),
        ("truncate_number", "numeric(10,2)", "numeric"), ("date_truncate", "timestamp with time zone", "date"),
        ("nullify", "character varying(20)", "character varying"), ("nullify", "int4", "integer"),
        ("bucket", "bigint", "text"), ("hash", "date", "text"),
    ],
)
def test_result_types(code, data_type, result_type):
    assert algorithm_result_type(code, params_validated(code, {}), data_type) == result_type


@pytest.mark.django_db
def test_result_type_is_the_type_postgresql_computes():
    with connection.cursor() as cursor:
        for code in ALGORITHMS:
            params = params_validated(code, {})
            for data_type in ("text", "integer", "real", "timestamp with time zone"):
                if value_kind(data_type) not in ALGORITHMS[code].applies_to:
                    continue
                expression = mask_sql(code, params, '"u"."v"', data_type=data_type, secret=SECRET)
                cursor.execute(f'SELECT pg_typeof({expression})::text '
                               f'FROM (SELECT CAST(NULL AS {data_type}) AS v) AS "u"')
                assert cursor.fetchone()[0] == algorithm_result_type(code, params, data_type), (code, data_type)


def test_sql_never_contains_a_percent_sign():
    params = params_validated("replace", {"value": "100%"})
    assert "%" not in mask_sql("replace", params, '"t"."c"', data_type="text", secret=SECRET)
    assert "%" not in mask_sql("pseudonym", {}, '"t"."c"', data_type="text", secret=b"%%")


@pytest.mark.django_db
def test_pseudonym_sql_reads_an_unqualified_column_whatever_its_name():
    params = params_validated("pseudonym", {})
    with connection.cursor() as cursor:
        for name in ("c", "ch", "o", "d", "f", "k", "x"):
            expression = mask_sql("pseudonym", params, f'"{name}"', data_type="text", secret=SECRET)
            cursor.execute(f'SELECT {expression} FROM (SELECT %s AS "{name}", 1 AS "n") AS "t"', ["138-1234-5678"])
            assert cursor.fetchone()[0] == mask_value("pseudonym", params, "138-1234-5678", data_type="text",
                                                      secret=SECRET)
