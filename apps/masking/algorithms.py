"""Masking algorithms: one meaning, two implementations.

The gateway masks inside PostgreSQL with ``mask_sql`` (an expression over the column), exports,
previews and files mask in Python with ``mask_value``. Both follow the semantics below; the tests
in ``tests/masking`` run every case and random inputs through both and demand equal results.

Text form. Text algorithms work on the value's PostgreSQL text form (``value::text``), counted in
characters (code points, as ``char_length`` does): a ``character(n)`` value loses its trailing
spaces, a number is its integer/numeric/real/double output (``1.50``, ``1e+16``, ``NaN``), a date is
``2024-05-17``, a timestamp ``2024-05-17 08:30:00.25`` and a timestamp with time zone is written in
UTC, ``2024-05-17 08:30:00+00``, whatever the session's TimeZone (the SQL converts with
``AT TIME ZONE 'UTC'``). The SQL side relies on PostgreSQL's default DateStyle (ISO) and
extra_float_digits (1: shortest exact floats), which the gateway does not change.

NULL in gives NULL out for every algorithm ("replace" included: a constant would not hide more
than NULL does, and keeping NULL keeps IS NULL filters meaningful). "Masked by m" below means
every character replaced by the mask character m (default ``*``), so lengths are kept.

hash            ``function`` sha256 (default) or md5: lowercase hex of the digest of
                secret || UTF-8 text form. Text, numbers, dates. Result text.
pseudonym       Format-preserving pseudonym keyed by HMAC-SHA256(secret, UTF-8 text form) = D.
                Character i (0-based) takes the offset f = 256*K[2j] + K[2j+1], j = i mod 16, where
                K = D for i < 16 and K = SHA-256(D || (i div 16) as a 4-byte big-endian integer)
                after that. ASCII digits become (digit + f) mod 10, ASCII letters (letter + f) mod 26
                in the same case, CJK unified ideographs U+4E00..U+9FFF (ideograph + f) mod 20992
                within that block; every other character stays where it is. Same input and secret,
                same output, so joins still match. Text, numbers. Result text. The SQL needs one
                small correlated subquery per value (unnest of the characters, string_agg ordered
                by position): about 9 microseconds per 11-character value, some ten times the
                cost of hash; prefer the shapes where a pseudonym is not needed.
keep_ends       Keep the first ``first`` and last ``last`` characters and mask the rest; a value of
                first + last characters or fewer is masked entirely (nothing would be hidden
                otherwise). Text, numbers. Result text.
replace         The constant ``value`` (default ``******``). Text, numbers, dates. Result text.
substitute      ``translate(text, from_chars, to_chars)``: each character found in from_chars
                becomes the character at the same position of to_chars (the first occurrence in
                from_chars wins), or is removed when to_chars is shorter. Text, numbers. Text.
nullify         NULL of the column's own type. Text, numbers, dates.
email           Split at the last ``@``: the local part keeps its first character and is masked
                after it, the ``@`` and domain are kept (alice@example.com -> a****@example.com); a
                one-character local part is masked (a@x.cn -> *@x.cn). Without ``@`` the value is
                masked like a local part. Text.
mobile_phone    Keep the first 3 and last 4 characters, mask the rest; 7 characters or fewer are
                masked entirely (13812345678 -> 138****5678). Text, numbers.
national_id     15 characters or more (the 18- and 15-character Chinese resident ids): keep the
                first 6 (the region) and last 4, masking the birth date; 8 to 14 characters
                (passports, social security numbers): keep the last 4; fewer: masked entirely.
                Text, numbers.
bank_card       Keep the first 6 and last 4 characters; 10 or fewer are masked entirely. Text,
                numbers.
name            Keep the first character, mask the rest (张三丰 -> 张**); a one-character name is
                masked. Text.
address         Keep the first ``keep`` characters (default 6), mask the rest; a value of ``keep``
                characters or fewer is masked entirely. Text.
truncate_number ``trunc(value, places)`` toward zero; places < 0 truncates to a power of ten
                (places = -2: 1299 -> 1200). Numbers. The result is ``numeric`` with scale
                max(places, 0) for integer and numeric columns, ``double precision`` for real and
                double precision columns (computed on the value's exact text form, so 0.1 is 0.1).
                NaN and infinities stay as they are.
round_number    ``round(value, places)``, half away from zero (2.5 -> 3, -2.5 -> -3) for every
                column type, floats included (PostgreSQL's round(double precision) would round half
                to even, so floats go through numeric too). Result types as for truncate_number.
bucket          The interval of width ``width`` (default 10) holding the value, as text
                ``lower-upper`` with lower = the largest multiple of width <= value and upper =
                lower + width, both written with the width's decimal places: 37 -> 30-40, 40 ->
                40-50, -15 -> -20--10, 1.26 with width 0.25 -> 1.25-1.50. NaN and infinities
                have no interval: NULL. Numbers.
date_truncate   ``unit`` year or month (default month): the first day of the value's year or month,
                as a ``date``; a timestamp with time zone is taken in UTC. Dates and timestamps.

``mask_sql`` embeds every string parameter as a quoted literal (an ``E''`` literal when it holds a
backslash), the secret as ``decode('<hex>', 'hex')``, and writes ``chr(37)`` for any ``%`` and
``mod()`` for the modulo operator, so the expression never contains ``%`` and can be spliced into a
statement run with psycopg parameters. Names inside the pseudonym subquery start with
``__masking_``, so ``value_sql`` may name its column without a table.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import hmac
import math
import re
import struct
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    kind: str  # "int" | "str" | "char" | "choice" | "decimal"
    default: object
    choices: tuple = ()
    minimum: int | None = None  # for "str": the shortest length allowed
    maximum: int | None = None  # for "str": the longest length allowed
    help: str = ""


@dataclass(frozen=True)
class Algorithm:
    code: str
    name: str
    description: str
    parameters: tuple[Parameter, ...]
    applies_to: frozenset[str]


_MASK_CHAR = Parameter("mask_char", "Mask character", "char", "*", help="The character that replaces hidden ones.")
_TEXT = frozenset({"text"})
_TEXT_NUMBER = frozenset({"text", "number"})
_ALL_KINDS = frozenset({"text", "number", "date"})

ALGORITHMS: dict[str, Algorithm] = {
    algorithm.code: algorithm
    for algorithm in (
        Algorithm("mobile_phone", "Mobile phone", "Keep the first 3 and last 4 characters.",
                  (_MASK_CHAR,), _TEXT_NUMBER),
        Algorithm(
            "national_id", "National id",
            "Keep the first 6 and last 4 characters of long ids, the last 4 of shorter ones.",
            (_MASK_CHAR,), _TEXT_NUMBER,
        ),
        Algorithm("bank_card", "Bank card", "Keep the first 6 and last 4 characters.", (_MASK_CHAR,), _TEXT_NUMBER),
        Algorithm("email", "Email address", "Keep the first character of the local part and the domain.",
                  (_MASK_CHAR,), _TEXT),
        Algorithm("name", "Name", "Keep the first character.", (_MASK_CHAR,), _TEXT),
        Algorithm(
            "address", "Address", "Keep the first characters, mask the rest.",
            (Parameter("keep", "Characters kept", "int", 6, minimum=0, maximum=1000), _MASK_CHAR), _TEXT,
        ),
        Algorithm(
            "keep_ends", "Keep first and last characters", "Keep the first m and last n characters, mask the rest.",
            (
                Parameter("first", "First characters kept", "int", 1, minimum=0, maximum=1000),
                Parameter("last", "Last characters kept", "int", 1, minimum=0, maximum=1000),
                _MASK_CHAR,
            ),
            _TEXT_NUMBER,
        ),
        Algorithm(
            "hash", "Hash", "Salted hash of the value, in hex.",
            (Parameter("function", "Hash function", "choice", "sha256", choices=("sha256", "md5")),), _ALL_KINDS,
        ),
        Algorithm(
            "pseudonym", "Pseudonym",
            "Deterministic keyed pseudonym: digits stay digits, letters stay letters, separators stay.",
            (), _TEXT_NUMBER,
        ),
        Algorithm(
            "replace", "Replace with a constant", "Every value becomes the same constant.",
            (Parameter("value", "Constant", "str", "******", minimum=0, maximum=1000),), _ALL_KINDS,
        ),
        Algorithm(
            "substitute", "Substitute characters", "Replace characters one for one, like translate().",
            (
                Parameter("from_chars", "Characters to replace", "str", "0123456789", minimum=1, maximum=1000),
                Parameter("to_chars", "Replacements", "str", "**********", minimum=0, maximum=1000,
                          help="Characters of from_chars without a counterpart here are removed."),
            ),
            _TEXT_NUMBER,
        ),
        Algorithm(
            "truncate_number", "Truncate number", "Cut to a number of decimal places, or to a power of ten.",
            (Parameter("places", "Decimal places", "int", 0, minimum=-30, maximum=30,
                       help="Negative: truncate to tens (-1), hundreds (-2), ..."),),
            frozenset({"number"}),
        ),
        Algorithm(
            "round_number", "Round number", "Round half away from zero to a number of decimal places.",
            (Parameter("places", "Decimal places", "int", 0, minimum=-30, maximum=30,
                       help="Negative: round to tens (-1), hundreds (-2), ..."),),
            frozenset({"number"}),
        ),
        Algorithm(
            "bucket", "Interval", "The value becomes the interval of the given width that holds it, e.g. 30-40.",
            (Parameter("width", "Interval width", "decimal", "10", help="Greater than zero."),),
            frozenset({"number"}),
        ),
        Algorithm(
            "date_truncate", "Date to year or month", "The first day of the value's year or month.",
            (Parameter("unit", "Unit", "choice", "month", choices=("year", "month")),), frozenset({"date"}),
        ),
        Algorithm("nullify", "Null", "Every value becomes NULL.", (), _ALL_KINDS),
    )
}


# --- column types ------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ColumnType:
    kind: str  # text | number | date | other
    flavour: str  # the canonical type name without modifiers: how a value is written and computed


def _names(kind: str, flavour: str, *spellings: str) -> dict:
    return dict.fromkeys(spellings, (kind, flavour))


# Each spelling -> (kind, flavour); the flavour is also the canonical SQL type name.
_TYPE_NAMES = {
    **_names("text", "text", "text"),
    **_names("text", "character varying", "character varying", "varchar"),
    **_names("text", "name", "name"),
    **_names("text", "citext", "citext"),
    **_names("text", "character", "character", "char", "bpchar"),
    **_names("number", "smallint", "smallint", "int2", "smallserial", "serial2"),
    **_names("number", "integer", "integer", "int", "int4", "serial", "serial4"),
    **_names("number", "bigint", "bigint", "int8", "bigserial", "serial8"),
    **_names("number", "numeric", "numeric", "decimal"),
    **_names("number", "real", "real", "float4"),
    **_names("number", "double precision", "double precision", "float8"),
    **_names("date", "date", "date"),
    **_names("date", "timestamp without time zone", "timestamp", "timestamp without time zone"),
    **_names("date", "timestamp with time zone", "timestamptz", "timestamp with time zone"),
}
_TYPE_PATTERN = re.compile(
    r"(?P<base>[a-z][a-z0-9_ ]*?)\s*(?:\(\s*(?P<size>\d+)\s*(?:,\s*-?\d+\s*)?\))?\s*(?P<zone>with(?:out)? time zone)?"
)


def _column_type(data_type: str) -> _ColumnType:
    spelled = " ".join(str(data_type).lower().split()).removeprefix("pg_catalog.")
    match = _TYPE_PATTERN.fullmatch(spelled)
    if match is None:
        return _ColumnType("other", "other")
    base = match["base"] + (f" {match['zone']}" if match["zone"] else "")
    if base == "float":
        # float(1) .. float(24) is real, float and float(25) .. float(53) double precision.
        base = "real" if match["size"] and int(match["size"]) <= 24 else "double precision"
    if base not in _TYPE_NAMES:
        return _ColumnType("other", "other")
    kind, flavour = _TYPE_NAMES[base]
    return _ColumnType(kind, flavour)


def value_kind(data_type: str) -> str:
    """``"text"``, ``"number"``, ``"date"`` (dates and timestamps) or ``"other"``."""
    return _column_type(data_type).kind


# --- parameters --------------------------------------------------------------------------------

def _coerced(parameter: Parameter, raw):
    """The parameter's value in its kind's type; ValueError with the message for the user."""
    if parameter.kind == "int":
        if isinstance(raw, bool):
            raise ValueError("Enter a whole number.")
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        elif isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d{1,9}\s*", raw):
            raw = int(raw)
        if not isinstance(raw, int):
            raise ValueError("Enter a whole number.")
        _check_range(parameter, raw)
        return raw
    if parameter.kind in ("str", "char"):
        if not isinstance(raw, str):
            raise ValueError("Enter text.")
        if "\x00" in raw:
            raise ValueError("The NUL character is not allowed.")
        if parameter.kind == "char" and len(raw) != 1:
            raise ValueError("Enter exactly one character.")
        if parameter.minimum is not None and len(raw) < parameter.minimum:
            raise ValueError(f"Enter at least {parameter.minimum} character(s).")
        if parameter.maximum is not None and len(raw) > parameter.maximum:
            raise ValueError(f"Enter at most {parameter.maximum} characters.")
        return raw
    if parameter.kind == "choice":
        if raw not in parameter.choices:
            raise ValueError(f"Choose one of: {', '.join(parameter.choices)}.")
        return raw
    if parameter.kind == "decimal":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
            raise ValueError("Enter a number.")
        try:
            number = Decimal(repr(raw) if isinstance(raw, float) else str(raw).strip())
        except decimal.InvalidOperation:
            raise ValueError("Enter a number.") from None
        if not number.is_finite():
            raise ValueError("Enter a finite number.")
        if number and (number.adjusted() >= 30 or number.as_tuple().exponent < -30):
            raise ValueError("Use at most 30 digits before and 30 after the decimal point.")
        _check_range(parameter, number)
        # Returned as text: JSON-safe for rules that store their parameters, and exact.
        return _numeric_text(number)
    raise AssertionError(f"unknown parameter kind {parameter.kind}")


def _check_range(parameter: Parameter, number) -> None:
    if parameter.minimum is not None and number < parameter.minimum:
        raise ValueError(f"Must be at least {parameter.minimum}.")
    if parameter.maximum is not None and number > parameter.maximum:
        raise ValueError(f"Must be at most {parameter.maximum}.")


def _bucket_errors(params: dict) -> dict:
    if Decimal(params["width"]) <= 0:
        return {"params.width": ["Must be greater than zero."]}
    return {}


_CROSS_CHECKS = {"bucket": _bucket_errors}


def params_validated(code: str, params: dict | None) -> dict:
    """The algorithm's parameters with defaults filled in and values coerced (ints, strings, and
    decimals as canonical decimal strings). Raises ValidationError keyed ``algorithm`` for an
    unknown code and ``params.<name>`` for a bad or unknown parameter; a parameter given as None
    takes its default."""
    algorithm = ALGORITHMS.get(code) if isinstance(code, str) else None
    if algorithm is None:
        raise ValidationError({"algorithm": [f"Unknown masking algorithm {code!r}."]})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ValidationError({"params": ["Parameters must be an object."]})
    known = {parameter.name for parameter in algorithm.parameters}
    errors = {f"params.{name}": ["Unknown parameter."] for name in params if name not in known}
    validated = {}
    for parameter in algorithm.parameters:
        raw = params.get(parameter.name)
        try:
            validated[parameter.name] = _coerced(parameter, parameter.default if raw is None else raw)
        except ValueError as error:
            errors[f"params.{parameter.name}"] = [str(error)]
    if not errors and code in _CROSS_CHECKS:
        errors = _CROSS_CHECKS[code](validated)
    if errors:
        raise ValidationError(errors)
    return validated


# --- SQL building blocks -----------------------------------------------------------------------

def _literal(text: str) -> str:
    """A SQL string literal of ``text`` that reads the same whatever standard_conforming_strings
    says, with ``%`` written as chr(37) (see the module docstring)."""
    pieces = []
    for piece in text.split("%"):
        if "\\" in piece:
            pieces.append("E'" + piece.replace("\\", "\\\\").replace("'", "''") + "'")
        else:
            pieces.append("'" + piece.replace("'", "''") + "'")
    if len(pieces) == 1:
        return pieces[0]
    return "(" + " || chr(37) || ".join(pieces) + ")"


def _bytes_literal(data: bytes) -> str:
    return f"decode('{data.hex()}', 'hex')"


def _utf8(text_sql: str) -> str:
    return f"convert_to({text_sql}, 'UTF8')"


def _text_sql(value_sql: str, column: _ColumnType) -> str:
    # text and varchar values are text already: a cast per use would be paid on every row.
    # (char(n) is cast: the cast drops its padding, as the Python side does.)
    if column.flavour in ("text", "character varying"):
        return f"({value_sql})"
    if column.flavour == "timestamp with time zone":
        return f"(CAST({value_sql} AT TIME ZONE 'UTC' AS text) || '+00')"
    return f"CAST({value_sql} AS text)"


def _numeric_sql(value_sql: str, column: _ColumnType) -> str:
    if column.flavour in ("real", "double precision"):
        # Through the text form: the exact decimal a float prints as (and psycopg reads).
        return f"CAST(CAST({value_sql} AS text) AS numeric)"
    return f"CAST({value_sql} AS numeric)"


def _keep_sql(text_sql: str, first: int, last: int, mask_sql: str) -> str:
    first, last = int(first), int(last)
    length = f"char_length({text_sql})"
    kept = [f"left({text_sql}, {first})"] if first else []
    kept.append(f"repeat({mask_sql}, {length} - {first + last})")
    if last:
        kept.append(f"right({text_sql}, {last})")
    return (f"CASE WHEN {length} > {first + last} THEN {' || '.join(kept)} "
            f"ELSE repeat({mask_sql}, {length}) END")


# --- Python building blocks --------------------------------------------------------------------

# Wide enough for any numeric PostgreSQL stores (131072 digits before the point, 16383 after).
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def _numeric_text(number: Decimal) -> str:
    if number.is_nan():
        return "NaN"
    if number.is_infinite():
        return "-Infinity" if number.is_signed() else "Infinity"
    return format(number.copy_abs() if number.is_zero() else number, "f")


def _shortest_digits(number: float, *, single: bool) -> tuple[int, int]:
    """(d, k) with d * 10**k the decimal PostgreSQL prints for a positive finite float: its
    Ryu output takes the fewest digits strictly inside the interval of decimals that read back
    as the number (Ryu's acceptBounds is off there, unlike Python's repr), the closest to the
    number among those, ties to even."""
    if single:
        bits, mantissa_bits, exponent_bits, bias = struct.unpack("<I", struct.pack("<f", number))[0], 23, 8, 127
    else:
        bits, mantissa_bits, exponent_bits, bias = struct.unpack("<Q", struct.pack("<d", number))[0], 52, 11, 1023
    ieee_mantissa = bits & ((1 << mantissa_bits) - 1)
    ieee_exponent = (bits >> mantissa_bits) & ((1 << exponent_bits) - 1)
    mantissa = ieee_mantissa | (1 << mantissa_bits) if ieee_exponent else ieee_mantissa
    scale = Fraction(2) ** ((ieee_exponent or 1) - bias - mantissa_bits - 2)
    # Just above a power of two the gap below is half the gap above.
    lower_gap = 1 if ieee_mantissa == 0 and ieee_exponent > 1 else 2
    exact, low, high = 4 * mantissa * scale, (4 * mantissa - lower_gap) * scale, (4 * mantissa + 2) * scale
    # repr() has the fewest digits within the interval with its ends included when the mantissa
    # is even (and, for a real, gives back the digits psycopg read); strictly inside, it is the
    # answer, and only a value on an end needs the search below.
    _, repr_digits, repr_power = Decimal(repr(number)).normalize().as_tuple()
    if low < Fraction(repr(number)) < high:
        return int("".join(map(str, repr_digits))), repr_power
    power = math.floor(math.log10(number)) + 2
    while True:
        unit = Fraction(10) ** power
        smallest = math.floor(low / unit) + 1
        if smallest * unit < high:
            break
        power -= 1
    closest = round(exact / unit)
    if closest * unit <= low:
        closest = smallest
    elif closest * unit >= high:
        closest = math.ceil(high / unit) - 1
    while closest % 10 == 0:
        closest, power = closest // 10, power + 1
    return closest, power


def _float_text(number: float, *, single: bool) -> str:
    """PostgreSQL's float4out/float8out (extra_float_digits 1): positional for decimal
    exponents -4 .. 14 (-4 .. 5 for real), scientific with a two-digit exponent otherwise."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number == 0:
        return "-0" if math.copysign(1.0, number) < 0 else "0"
    digits, power = _shortest_digits(abs(number), single=single)
    sign = "-" if number < 0 else ""
    magnitude = len(str(digits)) + power - 1
    if -4 <= magnitude < (6 if single else 15):
        return sign + format(Decimal(digits).scaleb(power), "f")
    mantissa = str(digits)[0] + ("." + str(digits)[1:] if digits >= 10 else "")
    return f"{sign}{mantissa}e{'+' if magnitude >= 0 else '-'}{abs(magnitude):02d}"


def _timestamp_text(moment: datetime.datetime) -> str:
    zone = ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc)
        zone = "+00"
    text = (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d} "
            f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    return text + zone


def _text_form(value, column: _ColumnType) -> str:
    if isinstance(value, bool):
        raise TypeError("booleans have no masking text form")
    if isinstance(value, str):
        # Casting character(n) to text drops the padding, as char_length does.
        return value.rstrip(" ") if column.flavour == "character" else value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return _numeric_text(value)
    if isinstance(value, float):
        return _float_text(value, single=column.flavour == "real")
    if isinstance(value, datetime.datetime):
        return _timestamp_text(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise TypeError(f"cannot mask a {type(value).__name__}")


def _as_numeric(value, column: _ColumnType) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(_float_text(value, single=column.flavour == "real"))
    raise TypeError(f"cannot mask a {type(value).__name__} as a number")


def _keep(text: str, first: int, last: int, mask: str) -> str:
    if len(text) <= first + last:
        return mask * len(text)
    return text[:first] + mask * (len(text) - first - last) + text[len(text) - last:]


# --- text algorithms: (SQL over a text expression, Python over a str) ---------------------------

def _hash_sql(params, text_sql, secret):
    salted = f"{_bytes_literal(secret)} || {_utf8(text_sql)}"
    if params["function"] == "md5":
        return f"md5({salted})"
    return f"encode(sha256({salted}), 'hex')"


def _hash_py(params, text, secret):
    function = hashlib.md5 if params["function"] == "md5" else hashlib.sha256
    return function(secret + text.encode()).hexdigest()


_BLOCK_CHARS = 16  # characters covered by one 32-byte key block: two bytes each
# (first code point, size) of the character ranges a pseudonym shifts within.
_PSEUDONYM_RANGES = ((48, 10), (65, 26), (97, 26), (0x4E00, 20992))


def _hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    key = hashlib.sha256(secret).digest() if len(secret) > 64 else secret
    key = key.ljust(64, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def _pseudonym_sql(params, text_sql, secret):
    inner, outer = _hmac_pads(secret)
    digest = f"sha256({_bytes_literal(outer)} || sha256({_bytes_literal(inner)} || {_utf8(text_sql)}))"
    # Every name inside the subquery starts with __masking_: the value's SQL may name its column
    # without a table, and a column of the user's table must not be captured by an inner name.
    key, char, position, code, offset = (
        "__masking_key.__masking_digest", "__masking_chars.__masking_char", "__masking_chars.__masking_position",
        "__masking_shift.__masking_code", "__masking_shift.__masking_offset",
    )
    block = (f"(CASE WHEN {position} <= {_BLOCK_CHARS} THEN {key} ELSE sha256({key} || "
             f"int4send(CAST(({position} - 1) / {_BLOCK_CHARS} AS integer))) END)")
    at = f"2 * CAST(mod({position} - 1, {_BLOCK_CHARS}) AS integer)"
    shifts = " ".join(
        f"WHEN {code} BETWEEN {start} AND {start + size - 1} "
        f"THEN chr({start} + mod({code} - {start} + {offset}, {size}))"
        for start, size in _PSEUDONYM_RANGES
    )
    # OFFSET 0 keeps the digest one value per row instead of an expression inlined per character.
    return (
        f"CASE WHEN {text_sql} IS NULL THEN NULL ELSE coalesce(("
        f"SELECT string_agg(CASE {shifts} ELSE {char} END, '' ORDER BY {position}) "
        f"FROM (SELECT {digest} AS __masking_digest OFFSET 0) AS __masking_key "
        f"CROSS JOIN LATERAL unnest(string_to_array({text_sql}, NULL)) WITH ORDINALITY "
        f"AS __masking_chars(__masking_char, __masking_position) "
        f"CROSS JOIN LATERAL (SELECT ascii({char}) AS __masking_code, "
        f"get_byte({block}, {at}) * 256 + get_byte({block}, {at} + 1) AS __masking_offset) AS __masking_shift"
        f"), '') END"
    )


def _pseudonym_py(params, text, secret):
    digest = hmac.new(secret, text.encode(), hashlib.sha256).digest()
    shifted = []
    block = digest
    for index, character in enumerate(text):
        position = index % _BLOCK_CHARS
        if index and not position:
            block = hashlib.sha256(digest + (index // _BLOCK_CHARS).to_bytes(4, "big")).digest()
        offset = block[2 * position] * 256 + block[2 * position + 1]
        code = ord(character)
        for start, size in _PSEUDONYM_RANGES:
            if start <= code < start + size:
                character = chr(start + (code - start + offset) % size)
                break
        shifted.append(character)
    return "".join(shifted)


def _keep_ends_sql(params, text_sql, secret):
    return _keep_sql(text_sql, params["first"], params["last"], _literal(params["mask_char"]))


def _keep_ends_py(params, text, secret):
    return _keep(text, params["first"], params["last"], params["mask_char"])


def _substitute_sql(params, text_sql, secret):
    return f"translate({text_sql}, {_literal(params['from_chars'])}, {_literal(params['to_chars'])})"


def _substitute_py(params, text, secret):
    table = {}
    for index, character in enumerate(params["from_chars"]):
        table.setdefault(character, params["to_chars"][index] if index < len(params["to_chars"]) else "")
    return "".join(table.get(character, character) for character in text)


def _email_sql(params, text_sql, secret):
    mask = _literal(params["mask_char"])
    local_length = f"(char_length({text_sql}) - char_length(split_part({text_sql}, '@', -1)) - 1)"
    return (
        f"CASE WHEN strpos({text_sql}, '@') = 0 THEN {_keep_sql(text_sql, 1, 0, mask)} "
        f"WHEN {local_length} > 1 THEN left({text_sql}, 1) || repeat({mask}, {local_length} - 1) "
        f"|| substr({text_sql}, {local_length} + 1) "
        f"ELSE repeat({mask}, {local_length}) || substr({text_sql}, {local_length} + 1) END"
    )


def _email_py(params, text, secret):
    local, at, domain = text.rpartition("@")
    if not at:
        return _keep(text, 1, 0, params["mask_char"])
    return _keep(local, 1, 0, params["mask_char"]) + at + domain


def _national_id_sql(params, text_sql, secret):
    mask = _literal(params["mask_char"])
    return (f"CASE WHEN char_length({text_sql}) >= 15 THEN {_keep_sql(text_sql, 6, 4, mask)} "
            f"WHEN char_length({text_sql}) >= 8 THEN {_keep_sql(text_sql, 0, 4, mask)} "
            f"ELSE repeat({mask}, char_length({text_sql})) END")


def _national_id_py(params, text, secret):
    if len(text) >= 15:
        return _keep(text, 6, 4, params["mask_char"])
    # Ids of 5 to 7 characters would keep all but one character: masked entirely instead.
    return _keep(text, 0, 4, params["mask_char"]) if len(text) >= 8 else params["mask_char"] * len(text)


def _preset(first: int, last: int):
    """The SQL and Python of a shape that keeps fixed ends (see keep_ends)."""
    def sql(params, text_sql, secret):
        return _keep_sql(text_sql, first, last, _literal(params["mask_char"]))

    def py(params, text, secret):
        return _keep(text, first, last, params["mask_char"])

    return sql, py


def _address_sql(params, text_sql, secret):
    return _keep_sql(text_sql, params["keep"], 0, _literal(params["mask_char"]))


def _address_py(params, text, secret):
    return _keep(text, params["keep"], 0, params["mask_char"])


_TEXT_ALGORITHMS = {
    "hash": (_hash_sql, _hash_py),
    "pseudonym": (_pseudonym_sql, _pseudonym_py),
    "keep_ends": (_keep_ends_sql, _keep_ends_py),
    "substitute": (_substitute_sql, _substitute_py),
    "email": (_email_sql, _email_py),
    "mobile_phone": _preset(3, 4),
    "national_id": (_national_id_sql, _national_id_py),
    "bank_card": _preset(6, 4),
    "name": _preset(1, 0),
    "address": (_address_sql, _address_py),
}


# --- number and date algorithms ----------------------------------------------------------------

def _is_float(column: _ColumnType) -> bool:
    return column.flavour in ("real", "double precision")


def _rounded_sql(function: str):
    def sql(params, value_sql, column):
        rounded = f"{function}({_numeric_sql(value_sql, column)}, {int(params['places'])})"
        return f"CAST({rounded} AS double precision)" if _is_float(column) else rounded

    return sql


def _rounded_py(rounding: str):
    def py(params, value, column):
        number = _as_numeric(value, column)
        if number.is_finite():
            places = params["places"]
            number = number.quantize(Decimal(1).scaleb(-places), rounding=rounding, context=_EXACT)
            if places < 0:
                # PostgreSQL writes trunc(1299, -2) as 1200, not 1.2E+3: scale 0.
                number = number.quantize(Decimal(1), context=_EXACT)
            if number.is_zero():
                number = number.copy_abs()
        return float(number) if _is_float(column) else number

    return py


def _bucket_sql(params, value_sql, column):
    width = Decimal(str(params["width"]))
    width_sql = f"CAST('{_numeric_text(width)}' AS numeric)"
    number = _numeric_sql(value_sql, column)
    remainder = f"mod({number}, {width_sql})"
    lower = (f"round({number} - {remainder} - CASE WHEN {remainder} < 0 THEN {width_sql} ELSE 0 END, "
             f"{max(-width.as_tuple().exponent, 0)})")
    text = f"CAST({lower} AS text) || '-' || CAST({lower} + {width_sql} AS text)"
    if column.flavour in ("smallint", "integer", "bigint"):
        return text
    return f"CASE WHEN {number} IN ('NaN', 'Infinity', '-Infinity') THEN NULL ELSE {text} END"


def _bucket_py(params, value, column):
    number = _as_numeric(value, column)
    if not number.is_finite():
        return None
    width = Decimal(str(params["width"]))
    with decimal.localcontext(_EXACT):
        remainder = number % width
        lower = number - remainder - (width if remainder < 0 else 0)
        lower = lower.quantize(Decimal(1).scaleb(min(width.as_tuple().exponent, 0)))
        return f"{_numeric_text(lower)}-{_numeric_text(lower + width)}"


def _date_truncate_sql(params, value_sql, column):
    if column.flavour == "timestamp with time zone":
        moment = f"({value_sql} AT TIME ZONE 'UTC')"
    else:
        moment = f"CAST({value_sql} AS timestamp without time zone)"
    return f"CAST(date_trunc({_literal(params['unit'])}, {moment}) AS date)"


def _date_truncate_py(params, value, column):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
        value = value.date()
    if not isinstance(value, datetime.date):
        raise TypeError(f"cannot mask a {type(value).__name__} as a date")
    return value.replace(month=1, day=1) if params["unit"] == "year" else value.replace(day=1)


def _replace_sql(params, value_sql, column):
    return f"CASE WHEN {value_sql} IS NULL THEN NULL ELSE CAST({_literal(params['value'])} AS text) END"


def _nullify_sql(params, value_sql, column):
    return f"CAST(NULL AS {column.flavour})"


_VALUE_ALGORITHMS = {
    "truncate_number": (_rounded_sql("trunc"), _rounded_py(decimal.ROUND_DOWN)),
    "round_number": (_rounded_sql("round"), _rounded_py(decimal.ROUND_HALF_UP)),
    "bucket": (_bucket_sql, _bucket_py),
    "date_truncate": (_date_truncate_sql, _date_truncate_py),
    "replace": (_replace_sql, lambda params, value, column: params["value"]),
    "nullify": (_nullify_sql, lambda params, value, column: None),
}


# --- the interface -----------------------------------------------------------------------------

def _column_for(code: str, data_type: str) -> _ColumnType:
    algorithm = ALGORITHMS.get(code)
    if algorithm is None:
        raise ValidationError({"algorithm": [f"Unknown masking algorithm {code!r}."]})
    column = _column_type(data_type)
    if column.kind not in algorithm.applies_to:
        raise ValidationError({"algorithm": [f"{algorithm.name} cannot mask a column of type {data_type}."]})
    return column


def mask_sql(code: str, params: dict, value_sql: str, *, data_type: str, secret: bytes) -> str:
    """A PostgreSQL expression for the masked value of ``value_sql`` (safe SQL) of ``data_type``."""
    column = _column_for(code, data_type)
    value_sql = f"({value_sql})"
    if code in _TEXT_ALGORITHMS:
        return _TEXT_ALGORITHMS[code][0](params, _text_sql(value_sql, column), secret)
    return _VALUE_ALGORITHMS[code][0](params, value_sql, column)


def mask_value(code: str, params: dict, value, *, data_type: str, secret: bytes):
    """The masked ``value`` (as psycopg returns ``data_type``), as psycopg would return the
    result of ``mask_sql``."""
    column = _column_for(code, data_type)
    if value is None:
        return None
    if code in _TEXT_ALGORITHMS:
        return _TEXT_ALGORITHMS[code][1](params, _text_form(value, column), secret)
    return _VALUE_ALGORITHMS[code][1](params, value, column)


def algorithm_result_type(code: str, params: dict, data_type: str) -> str:
    """The SQL type of ``mask_sql``'s result."""
    column = _column_for(code, data_type)
    if code in ("truncate_number", "round_number"):
        return "double precision" if _is_float(column) else "numeric"
    if code == "date_truncate":
        return "date"
    if code == "nullify":
        return column.flavour
    return "text"
