"""Policy conditions (shared/reference/maxcompute-security.md §3): the operators and keys of
Alibaba RAM as MaxCompute policies use them, compiled once into checks that cost a few dict
and set look-ups per decision.

A condition is ``{"<Operator>": {"<key>": ["<value>", ...]}}``. How it evaluates, following RAM:

- several operators AND together, and within one operator every key must match (AND);
- a key with several values matches when any value matches (OR); a negated operator
  (``StringNotEquals``, ``StringNotLike``, ``StringNotEqualsIgnoreCase``, ``NumericNotEquals``,
  ``DateNotEquals``, ``NotIpAddress``) matches when none does;
- a key the request does not carry makes a positive operator false and a negated one true
  (RAM's and IAM's rule). So ``Deny ... NotIpAddress acs:SourceIp [office]`` also denies a
  request whose address is unknown, and an Allow guarded by a positive operator never opens
  on a missing key;
- operator names and keys are case-insensitive and come out in their canonical spelling;
  a key Warden does not know is refused rather than silently never matching;
- ``StringLike`` / ``StringNotLike``: ``*`` is any run of characters, ``?`` exactly one,
  case-sensitive; ``StringEqualsIgnoreCase`` compares case-folded;
- ``Date*`` values are ISO 8601 date-times with ``Z`` or an offset (a time without a zone is
  refused: it would mean a different instant on every server); ``Numeric*`` values are
  decimal numbers, and a request value that is not a number matches nothing;
- ``IpAddress`` takes addresses, CIDRs and ranges, as the IP whitelist does.

The GRANT form writes conditions inline (``"conditions"="acs:SourceIp in ('192.168.0.0/16')
and 'odps:InstanceId'='aaaaaa'"``); ``inline_condition_compile`` reads that form into the same
compiled ``Condition``, whose ``as_dict()`` is the JSON form that is stored and shown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from apps.permissions.ipaddress_lists import IpList


class ConditionKey:
    CURRENT_TIME = "acs:CurrentTime"
    SECURE_TRANSPORT = "acs:SecureTransport"
    SOURCE_IP = "acs:SourceIp"
    USER_AGENT = "acs:UserAgent"
    REFERER = "acs:Referer"
    INSTANCE_ID = "odps:InstanceId"
    TASK_TYPE = "odps:TaskType"
    # Warden's own: the project data would flow into, for ProjectProtection exception policies.
    DESTINATION_PROJECT = "odps:DestinationProject"


# key -> (RequestContext field, kind of value)
_KEYS: dict[str, tuple[str, str]] = {
    ConditionKey.CURRENT_TIME: ("current_time", "date"),
    ConditionKey.SECURE_TRANSPORT: ("secure_transport", "bool"),
    ConditionKey.SOURCE_IP: ("source_ip", "ip"),
    ConditionKey.USER_AGENT: ("user_agent", "string"),
    ConditionKey.REFERER: ("referer", "string"),
    ConditionKey.INSTANCE_ID: ("instance_id", "string"),
    ConditionKey.TASK_TYPE: ("task_type", "string"),
    ConditionKey.DESTINATION_PROJECT: ("destination_project", "string"),
}
CONDITION_KEYS = tuple(_KEYS)
_KEY_CANONICAL = {key.lower(): key for key in _KEYS}
_FIELD_OF = {key: field for key, (field, _kind) in _KEYS.items()}

# operator -> (family, comparison, negated)
_OPERATORS: dict[str, tuple[str, str, bool]] = {
    "StringEquals": ("string", "eq", False),
    "StringNotEquals": ("string", "eq", True),
    "StringEqualsIgnoreCase": ("string", "ieq", False),
    "StringNotEqualsIgnoreCase": ("string", "ieq", True),
    "StringLike": ("string", "like", False),
    "StringNotLike": ("string", "like", True),
    "NumericEquals": ("numeric", "eq", False),
    "NumericNotEquals": ("numeric", "eq", True),
    "NumericLessThan": ("numeric", "lt", False),
    "NumericLessThanEquals": ("numeric", "le", False),
    "NumericGreaterThan": ("numeric", "gt", False),
    "NumericGreaterThanEquals": ("numeric", "ge", False),
    "DateEquals": ("date", "eq", False),
    "DateNotEquals": ("date", "eq", True),
    "DateLessThan": ("date", "lt", False),
    "DateLessThanEquals": ("date", "le", False),
    "DateGreaterThan": ("date", "gt", False),
    "DateGreaterThanEquals": ("date", "ge", False),
    "Bool": ("bool", "eq", False),
    "IpAddress": ("ip", "in", False),
    "NotIpAddress": ("ip", "in", True),
}
CONDITION_OPERATORS = tuple(_OPERATORS)
_OPERATOR_CANONICAL = {operator.lower(): operator for operator in _OPERATORS}
# Which kinds of key each operator family reads. A source IP is also text, so the String
# operators take it; Numeric operators read the text keys (an instance id may be a number).
_FAMILY_READS = {"string": {"string", "ip"}, "numeric": {"string"}, "date": {"date"}, "bool": {"bool"},
                 "ip": {"ip"}}
_KIND_NAMES = {"date": "a date-time", "bool": "true or false", "ip": "an IP address", "string": "text"}
_KIND_OPERATORS = {
    "date": "a Date operator",
    "bool": "Bool",
    "ip": "IpAddress, NotIpAddress or a String operator",
    "string": "a String or Numeric operator",
}


@dataclass(frozen=True)
class RequestContext(Mapping):
    """What a request carries for conditions. It is a read-only mapping from condition key
    (``acs:SourceIp``...) to value, holding only the keys whose value is known."""

    source_ip: str | None = None
    current_time: datetime | None = None
    secure_transport: bool | None = None
    user_agent: str | None = None
    referer: str | None = None
    instance_id: str | None = None
    task_type: str | None = None
    destination_project: str | None = None

    def __post_init__(self):
        if self.current_time is not None and self.current_time.utcoffset() is None:
            raise ValueError("RequestContext.current_time must be timezone-aware.")

    def value_of(self, key: str) -> object | None:
        """The value of a condition key (any spelling), None when the request lacks it."""
        field = _FIELD_OF.get(key)
        if field is None:
            field = _FIELD_OF.get(_KEY_CANONICAL.get(key.lower(), ""))
        return None if field is None else getattr(self, field)

    def get(self, key, default=None):
        value = self.value_of(key)
        return default if value is None else value

    def __getitem__(self, key: str) -> object:
        value = self.value_of(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return (key for key, field in _FIELD_OF.items() if getattr(self, field) is not None)

    def __len__(self) -> int:
        return sum(1 for _key in self)


def wildcard_regex_source(pattern: str, *, within_segment: bool = False) -> str:
    """Regex source for a ``*``/``?`` pattern, for ``fullmatch``. ``within_segment`` keeps the
    wildcards from crossing ``/`` (resource names). Each run between stars sits in an atomic
    group matched at its earliest place, which is always a correct choice for glob patterns,
    so a pattern with many stars cannot make the regex backtrack exponentially."""
    run = one = "[^/]" if within_segment else "."

    def literal(part: str) -> str:
        return "".join(one if char == "?" else re.escape(char) for char in part)

    parts = re.split(r"\*+", pattern)
    if len(parts) == 1:
        return literal(pattern)
    source = literal(parts[0])
    for part in parts[1:-1]:
        source += f"(?>{run}*?{literal(part)})"
    return source + f"{run}*" + literal(parts[-1])


def wildcard_regex(patterns, *, within_segment: bool = False, ignore_case: bool = False) -> re.Pattern:
    """One compiled regex that fullmatches any of ``patterns``."""
    source = "|".join(f"(?:{wildcard_regex_source(pattern, within_segment=within_segment)})"
                      for pattern in patterns)
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def datetime_parse(value: str) -> datetime:
    """An ISO 8601 date-time with a zone; ValueError otherwise."""
    parsed = datetime.fromisoformat(value.strip())
    if parsed.utcoffset() is None:
        raise ValueError("no time zone")
    return parsed


def _datetime_text(value: datetime) -> str:
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _as_text(value: object) -> str:
    return value if type(value) is str else str(value)


def _as_number(value: object) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(value) if isinstance(value, (str, int, Decimal)) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.utcoffset() is not None else None
    try:
        return datetime_parse(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _as_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _ordered(comparison: str, bounds, convert):
    """A predicate comparing a converted request value with the listed bounds; "any bound
    satisfied" reduces to one comparison with the loosest bound."""
    if comparison == "eq":
        accepted = frozenset(bounds)
        return lambda value: (converted := convert(value)) is not None and converted in accepted
    loosest = max(bounds) if comparison in ("lt", "le") else min(bounds)
    compare = {"lt": loosest.__gt__, "le": loosest.__ge__, "gt": loosest.__lt__, "ge": loosest.__le__}[comparison]
    return lambda value: (converted := convert(value)) is not None and compare(converted)


class ConditionCheck:
    """One ``operator``/``key`` pair of a condition with its values, compiled."""

    __slots__ = ("operator", "key", "values", "negated", "test")

    def __init__(self, operator: str, key: str, values: tuple[str, ...], negated: bool, test):
        self.operator = operator
        self.key = key
        self.values = values
        self.negated = negated
        # test(value) -> whether any listed value matches the request's value
        self.test = test

    def __repr__(self) -> str:
        return f"ConditionCheck({self.operator} {self.key} {list(self.values)})"


class Condition:
    """A compiled condition: ``matches(context)`` is true when every check holds."""

    __slots__ = ("checks",)

    def __init__(self, checks: tuple[ConditionCheck, ...]):
        self.checks = checks

    def matches(self, context: Mapping[str, object]) -> bool:
        """``context`` is a RequestContext or any mapping keyed by canonical condition keys."""
        for check in self.checks:
            value = context.get(check.key)
            if value is None:
                if not check.negated:
                    return False
            elif check.test(value) is check.negated:
                return False
        return True

    def as_dict(self) -> dict[str, dict[str, list[str]]]:
        """The JSON form, canonically spelt: every value a string in a list."""
        document: dict[str, dict[str, list[str]]] = {}
        for check in self.checks:
            document.setdefault(check.operator, {})[check.key] = list(check.values)
        return document

    def __eq__(self, other) -> bool:
        return isinstance(other, Condition) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"Condition({self.as_dict()})"


def _values_compile(family: str, comparison: str, raw_values: list, path: str, errors: list[str]):
    """``(canonical values, test)``, or None after appending to ``errors``."""
    if family == "ip":
        try:
            addresses = IpList.parse([str(value) for value in raw_values], field=path)
        except ValidationError as error:
            errors.extend(f"{field}: {message}" for field, messages in error.message_dict.items()
                          for message in messages)
            return None
        return addresses.entries, lambda value: addresses.contains(_as_text(value))

    errors_before = len(errors)
    canonical: list[str] = []
    parsed: list = []
    for position, raw in enumerate(raw_values):
        where = f"{path}[{position}]"
        if isinstance(raw, (dict, list)) or raw is None:
            errors.append(f"{where}: a condition value is a string, a number or true/false.")
            continue
        if family == "string":
            if isinstance(raw, bool):
                errors.append(f"{where}: use a string here, not {str(raw).lower()}.")
                continue
            value, text = _as_text(raw), _as_text(raw)
        elif family == "numeric":
            value = _as_number(raw)
            if value is None:
                errors.append(f"{where}: {raw!r} is not a number.")
                continue
            text = _as_text(raw)
        elif family == "date":
            value = _as_datetime(raw) if isinstance(raw, str) else None
            if value is None:
                errors.append(f"{where}: {raw!r} is not an ISO 8601 date-time with a time zone "
                              f"(e.g. 2017-11-11T23:59:59Z or 2017-11-11T23:59:59+08:00).")
                continue
            text = _datetime_text(value)
        else:
            value = _as_bool(raw)
            if value is None:
                errors.append(f"{where}: {raw!r} is not true or false.")
                continue
            text = "true" if value else "false"
        if text not in canonical:
            canonical.append(text)
            parsed.append(value)
    if len(errors) > errors_before:
        return None
    if family == "string":
        if comparison == "eq":
            accepted = frozenset(parsed)
            return tuple(canonical), lambda value: _as_text(value) in accepted
        if comparison == "ieq":
            folded = frozenset(text.casefold() for text in parsed)
            return tuple(canonical), lambda value: _as_text(value).casefold() in folded
        like = wildcard_regex(parsed)
        return tuple(canonical), lambda value: like.fullmatch(_as_text(value)) is not None
    if family == "numeric":
        return tuple(canonical), _ordered(comparison, parsed, _as_number)
    if family == "date":
        return tuple(canonical), _ordered(comparison, parsed, _as_datetime)
    accepted_bools = frozenset(parsed)
    return tuple(canonical), lambda value: _as_bool(value) in accepted_bools


def condition_compile(condition: Mapping, *, path: str = "Condition") -> Condition:
    """Compile the JSON form. Errors name the bad part as a path below ``path``, e.g.
    ``Condition.IpAddress.acs:SourceIp: entry 1 '10.0.0.300' is not an IP address...``;
    every error found is reported at once."""
    if not isinstance(condition, Mapping):
        raise ValidationError(f'{path}: a condition is an object of operators, e.g. '
                              f'{{"IpAddress": {{"acs:SourceIp": ["10.0.0.0/8"]}}}}.')
    errors: list[str] = []
    checks: list[ConditionCheck] = []
    for operator_name, block in condition.items():
        operator = _OPERATOR_CANONICAL.get(str(operator_name).lower())
        if operator is None:
            errors.append(f"{path}.{operator_name}: unknown condition operator; use one of: "
                          f"{', '.join(CONDITION_OPERATORS)}.")
            continue
        family, comparison, negated = _OPERATORS[operator]
        if not isinstance(block, Mapping) or not block:
            errors.append(f'{path}.{operator}: give an object of keys and values, e.g. '
                          f'{{"acs:SourceIp": ["10.0.0.0/8"]}}.')
            continue
        for key_name, raw_values in block.items():
            key = _KEY_CANONICAL.get(str(key_name).lower())
            where = f"{path}.{operator}.{key or key_name}"
            if key is None:
                errors.append(f"{where}: unknown condition key; use one of: {', '.join(CONDITION_KEYS)}.")
                continue
            kind = _KEYS[key][1]
            if kind not in _FAMILY_READS[family]:
                errors.append(f"{where}: {operator} does not apply to {key}, which is "
                              f"{_KIND_NAMES[kind]}; use {_KIND_OPERATORS[kind]}.")
                continue
            values = raw_values if isinstance(raw_values, list) else [raw_values]
            if not values:
                errors.append(f"{where}: give at least one value.")
                continue
            compiled = _values_compile(family, comparison, values, where, errors)
            if compiled is not None:
                checks.append(ConditionCheck(operator, key, compiled[0], negated, compiled[1]))
    if errors:
        raise ValidationError(errors)
    return Condition(tuple(checks))



# --- the inline form of GRANT ... privilegeproperties("conditions"="...") ------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<operator><=|>=|!=|<>|=|<|>)
  | (?P<punctuation>[(),])
  | (?P<word>[^\s(),'"=<>!]+)
""", re.VERBOSE)

# (key kind, written operator) -> policy operator; "in" and "=" read alike, as do "not in" and "!=".
_INLINE_OPERATORS = {
    ("ip", "="): "IpAddress", ("ip", "!="): "NotIpAddress",
    ("ip", "like"): "StringLike", ("ip", "not like"): "StringNotLike",
    ("string", "="): "StringEquals", ("string", "!="): "StringNotEquals",
    ("string", "like"): "StringLike", ("string", "not like"): "StringNotLike",
    ("string", "<"): "NumericLessThan", ("string", "<="): "NumericLessThanEquals",
    ("string", ">"): "NumericGreaterThan", ("string", ">="): "NumericGreaterThanEquals",
    ("date", "="): "DateEquals", ("date", "!="): "DateNotEquals",
    ("date", "<"): "DateLessThan", ("date", "<="): "DateLessThanEquals",
    ("date", ">"): "DateGreaterThan", ("date", ">="): "DateGreaterThanEquals",
    ("bool", "="): "Bool", ("bool", "!="): "Bool",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: object
    position: int


def _tokens(text: str, path: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValidationError(f"{path} at character {position + 1}: unexpected {text[position]!r} "
                                  f"(an unclosed quote?).")
        kind, raw = match.lastgroup, match.group()
        if kind == "string":
            tokens.append(_Token("string", raw, raw[1:-1].replace(raw[0] * 2, raw[0]), position))
        elif kind == "operator":
            tokens.append(_Token("operator", raw, "!=" if raw == "<>" else raw, position))
        elif kind != "space":
            tokens.append(_Token(kind, raw, raw, position))
        position = match.end()
    return tokens


class _InlineParser:
    def __init__(self, text: str, path: str):
        self.text = text
        self.path = path
        self.tokens = _tokens(text, path)
        self.index = 0

    def fail(self, expected: str):
        if self.index < len(self.tokens):
            token = self.tokens[self.index]
            raise ValidationError(f"{self.path} at character {token.position + 1}: expected {expected}, "
                                  f"found {token.text!r}.")
        raise ValidationError(f"{self.path}: the condition ends where {expected} should follow.")

    def peek_word(self, *words: str) -> bool:
        token = self.tokens[self.index] if self.index < len(self.tokens) else None
        return token is not None and token.kind == "word" and token.text.lower() in words

    def take(self, kind: str, expected: str, text: str | None = None) -> _Token:
        token = self.tokens[self.index] if self.index < len(self.tokens) else None
        if token is None or token.kind != kind or (text is not None and token.value != text):
            self.fail(expected)
        self.index += 1
        return token

    def value(self) -> object:
        token = self.tokens[self.index] if self.index < len(self.tokens) else None
        if token is None or token.kind not in ("string", "word"):
            self.fail("a value")
        self.index += 1
        if token.kind == "string":
            return token.value
        if token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        if _as_number(token.text) is not None:
            return token.text
        raise ValidationError(f"{self.path} at character {token.position + 1}: put the value {token.text!r} "
                              f"in quotes.")

    def comparison(self) -> tuple[str, str, list, int]:
        start = self.tokens[self.index].position if self.index < len(self.tokens) else len(self.text)
        key_token = self.tokens[self.index] if self.index < len(self.tokens) else None
        if key_token is None or key_token.kind not in ("string", "word"):
            self.fail("a condition key such as acs:SourceIp")
        self.index += 1
        key = _KEY_CANONICAL.get(str(key_token.value).lower())
        if key is None:
            raise ValidationError(f"{self.path} at character {start + 1}: unknown condition key "
                                  f"{key_token.value!r}; use one of: {', '.join(CONDITION_KEYS)}.")
        negated = False
        if self.peek_word("not"):
            self.index += 1
            negated = True
            if not self.peek_word("in", "like"):
                self.fail("'in' or 'like' after 'not'")
        if self.peek_word("in"):
            self.index += 1
            self.take("punctuation", "'('", "(")
            values = [self.value()]
            while self.index < len(self.tokens) and self.tokens[self.index].kind == "punctuation" \
                    and self.tokens[self.index].value == ",":
                self.index += 1
                values.append(self.value())
            self.take("punctuation", "',' or ')'", ")")
            written = "!=" if negated else "="
        elif self.peek_word("like"):
            self.index += 1
            values = [self.value()]
            written = "not like" if negated else "like"
        else:
            written = self.take("operator", "an operator (=, !=, <, <=, >, >=, in, like)").value
            values = [self.value()]
        return key, written, values, start

    def parse(self) -> dict[str, dict[str, list]]:
        document: dict[str, dict[str, list]] = {}
        while True:
            key, written, values, start = self.comparison()
            kind = _KEYS[key][1]
            operator = _INLINE_OPERATORS.get((kind, written))
            if operator is None:
                raise ValidationError(f"{self.path} at character {start + 1}: {key} cannot be compared "
                                      f"with {written!r}.")
            if operator == "Bool" and written == "!=":
                values = [flag if _as_bool(flag) is None else not _as_bool(flag) for flag in values]
            block = document.setdefault(operator, {})
            if key in block and not _OPERATORS[operator][2]:
                # "k = a and k = b" asks for both at once; the JSON form can only say either.
                raise ValidationError(f"{self.path} at character {start + 1}: {key} is compared with "
                                      f"{written!r} twice; list the alternatives in one in (...).")
            block.setdefault(key, []).extend(values)
            if self.index == len(self.tokens):
                return document
            if self.peek_word("or"):
                raise ValidationError(
                    f"{self.path} at character {self.tokens[self.index].position + 1}: conditions join "
                    f"with 'and' only; list alternatives of one key in in (...).")
            if not self.peek_word("and"):
                self.fail("'and' or the end of the condition")
            self.index += 1


def _inline_condition_document(text: str, path: str) -> dict[str, dict[str, list]]:
    """The (not yet validated) JSON form of an inline condition such as
    ``acs:SourceIp in ('192.168.0.0/16','172.12.0.0/16') and 'odps:InstanceId'='aaaaaa'``.
    Keys may be quoted or bare; keywords are case-insensitive; ``<>`` means ``!=``."""
    if not (text or "").strip():
        raise ValidationError(f"{path}: the condition is empty.")
    return _InlineParser(text, path).parse()


def inline_condition_compile(text: str, *, path: str = "conditions") -> Condition:
    """Compile the inline form; ``as_dict()`` of the result is its JSON form, to store and show."""
    return condition_compile(_inline_condition_document(text, path), path=path)
