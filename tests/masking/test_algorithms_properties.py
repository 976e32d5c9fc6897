"""Property tests: on random values and parameters, mask_sql executed by PostgreSQL and
mask_value in Python give the same results. Each example masks a list of values in one query."""

import datetime
import math
import string
from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.masking.algorithms import ALGORITHMS, mask_sql, mask_value, params_validated, value_kind

SECRET = b"tenant-7-salt"
OTHER_SECRET = b"tenant-8-salt"

EXAMPLES = settings(max_examples=20, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# PostgreSQL text holds any code point but NUL and the surrogates.
characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
tricky = st.sampled_from(["'", "\\", "%", '"', "--", "\\'); select 1; --", "%s", "E'\\\\'"])

texts = st.one_of(
    st.text(characters, max_size=40),
    st.lists(st.one_of(characters, tricky), max_size=12).map("".join),
    st.from_regex(r"\+?[0-9][0-9 -]{0,20}", fullmatch=True),
    st.from_regex(r"[a-z0-9.]{0,8}@[a-z]{1,8}\.[a-z]{2,3}", fullmatch=True),
    st.text(cjk, min_size=1, max_size=4),
    st.text(string.digits + string.ascii_letters + "-", min_size=17, max_size=60),
)
VALUES = {
    "text": texts,
    "character(12)": st.text(characters, max_size=12),
    "integer": st.integers(-2**31, 2**31 - 1),
    "bigint": st.integers(-2**63, 2**63 - 1),
    "numeric": st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.decimals(min_value=-10**6, max_value=10**6, places=4),
        st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")]),
    ),
    "double precision": st.floats(),
    "real": st.floats(width=32),
    "date": st.dates(),
    "timestamp without time zone": st.datetimes(),
    "timestamp with time zone": st.datetimes(
        min_value=datetime.datetime(2, 1, 1), max_value=datetime.datetime(9998, 12, 31),
        timezones=st.builds(lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes)),
                            st.integers(-14 * 60, 14 * 60)),
    ),
}

mask_chars = st.one_of(st.sampled_from(["*", "'", "\\", "%", "＊", "😀"]), characters)
constants = st.one_of(st.text(characters, max_size=20), tricky)
PARAMS = {
    "hash": st.fixed_dictionaries({"function": st.sampled_from(["sha256", "md5"])}),
    "pseudonym": st.just({}),
    "keep_ends": st.fixed_dictionaries({"first": st.integers(0, 6), "last": st.integers(0, 6),
                                        "mask_char": mask_chars}),
    "replace": st.fixed_dictionaries({"value": constants}),
    "substitute": st.fixed_dictionaries({"from_chars": st.text(st.one_of(characters, st.sampled_from("0123-'\\%")),
                                                               min_size=1, max_size=8),
                                         "to_chars": st.text(characters, max_size=8)}),
    "email": st.fixed_dictionaries({"mask_char": mask_chars}),
    "mobile_phone": st.fixed_dictionaries({"mask_char": mask_chars}),
    "national_id": st.fixed_dictionaries({"mask_char": mask_chars}),
    "bank_card": st.fixed_dictionaries({"mask_char": mask_chars}),
    "name": st.fixed_dictionaries({"mask_char": mask_chars}),
    "address": st.fixed_dictionaries({"keep": st.integers(0, 10), "mask_char": mask_chars}),
    "truncate_number": st.fixed_dictionaries({"places": st.integers(-6, 6)}),
    "round_number": st.fixed_dictionaries({"places": st.integers(-6, 6)}),
    "bucket": st.fixed_dictionaries({"width": st.one_of(
        st.sampled_from(["10", "1", "0.25", "0.001", "7", "1000000"]),
        st.decimals(min_value=Decimal("0.01"), max_value=10**6, places=2).filter(lambda width: width > 0),
    )}),
    "date_truncate": st.fixed_dictionaries({"unit": st.sampled_from(["year", "month"])}),
    "nullify": st.just({}),
}

COMBINATIONS = [
    (code, data_type)
    for code, algorithm in ALGORITHMS.items()
    for data_type in VALUES
    if value_kind(data_type) in algorithm.applies_to
]


def masked_in_database(code, params, values, data_type, secret=SECRET):
    """(value as psycopg returns it, masked value) for each of ``values``, in one query."""
    expression = mask_sql(code, params, '"u"."v"', data_type=data_type, secret=secret)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "u"."v", {expression} FROM unnest(CAST(%s AS {data_type}[])) '
                       f'WITH ORDINALITY AS "u"("v", "i") ORDER BY "u"."i"', [values])
        return cursor.fetchall()


def same(got, expected) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(expected, Decimal) and expected.is_nan():
        return isinstance(got, Decimal) and got.is_nan()
    return type(got) is type(expected) and got == expected and str(got) == str(expected)


def test_every_algorithm_is_tested_on_every_kind_it_applies_to():
    assert set(PARAMS) == set(ALGORITHMS)
    tested = {(code, value_kind(data_type)) for code, data_type in COMBINATIONS}
    assert tested == {(code, kind) for code, algorithm in ALGORITHMS.items() for kind in algorithm.applies_to}


@pytest.mark.django_db
@pytest.mark.parametrize(("code", "data_type"), COMBINATIONS)
def test_sql_and_python_agree_on_random_values(code, data_type):
    @EXAMPLES
    @given(params=PARAMS[code], values=st.lists(st.one_of(st.none(), VALUES[data_type]), min_size=1, max_size=8))
    def agree(params, values):
        params = params_validated(code, params)
        for stored, in_database in masked_in_database(code, params, values, data_type):
            in_python = mask_value(code, params, stored, data_type=data_type, secret=SECRET)
            assert same(in_python, in_database), (stored, in_python, in_database)

    agree()


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["hash", "pseudonym"])
@EXAMPLES
@given(value=texts)
def test_keyed_algorithms_are_deterministic_and_depend_on_the_secret(code, value):
    params = params_validated(code, {})
    rows = masked_in_database(code, params, [value, value], "text")
    assert rows[0][1] == rows[1][1] == mask_value(code, params, value, data_type="text", secret=SECRET)
    assert [masked for _, masked in masked_in_database(code, params, [value], "text", secret=OTHER_SECRET)] == [
        mask_value(code, params, value, data_type="text", secret=OTHER_SECRET)]


@pytest.mark.parametrize("code", ["hash", "pseudonym"])
def test_keyed_algorithms_give_different_output_for_another_secret(code):
    params = params_validated(code, {})
    for value in ("alice@example.com", "13812345678", "张三丰李四"):
        assert (mask_value(code, params, value, data_type="text", secret=SECRET)
                != mask_value(code, params, value, data_type="text", secret=OTHER_SECRET))


def _character_class(character: str) -> str:
    for name, members in (("digit", string.digits), ("lower", string.ascii_lowercase),
                          ("upper", string.ascii_uppercase)):
        if character in members:
            return name
    return "cjk" if "\u4e00" <= character <= "\u9fff" else character


@EXAMPLES
@given(value=texts)
def test_pseudonym_keeps_every_character_class_and_position(value):
    masked = mask_value("pseudonym", {}, value, data_type="text", secret=SECRET)
    assert [_character_class(character) for character in masked] == [_character_class(c) for c in value]


def test_pseudonym_of_a_phone_is_another_phone_of_the_same_shape():
    masked = mask_value("pseudonym", {}, "138-1234-5678", data_type="text", secret=SECRET)
    assert len(masked) == 13 and masked[3] == masked[8] == "-"
    assert masked.replace("-", "").isdigit() and masked != "138-1234-5678"


@pytest.mark.django_db
def test_pseudonym_lets_equal_values_join_in_sql():
    params = params_validated("pseudonym", {})
    left = masked_in_database("pseudonym", params, ["13812345678", "13912345678"], "text")
    right = masked_in_database("pseudonym", params, ["13912345678", "13812345678"], "text")
    assert {row[1] for row in left} == {row[1] for row in right}
    assert left[0][1] != left[1][1]
