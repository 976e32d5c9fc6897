"""The SQL Warden runs on someone's behalf may call these functions and cast to these types,
nothing else.

Masking happens inside a subquery, so a function over a masked column only ever sees the
masked value; the list is not about masking. It keeps out what reaches beyond the data a
statement names or has side effects: reading files (``pg_read_file``, ``lo_import``),
other databases (``dblink``), settings (``set_config``, ``current_setting``), sequences
(``nextval``), SQL run from a string (``query_to_xml``), sleeping (``pg_sleep``), and casts
to object identifiers (``::regclass``), which look objects up in the system catalogs. It is an
allow-list: a function PostgreSQL adds tomorrow is refused until someone decides otherwise.

Both the gateway (every statement) and row filters (every filter expression) check with
``expression_refusal``. The names Warden writes into such SQL itself (tables, columns) are
quoted with ``quoted_identifier`` / ``quoted_table``.
"""

from __future__ import annotations

from sqlglot import exp

# sqlglot parses most built-ins into their own expression classes (``UPPER`` -> ``exp.Upper``)
# and the rest into ``exp.Anonymous``; both lists are needed.
_ALLOWED_FUNCTION_CLASSES = (
    # operators and syntax that sqlglot models as functions
    "And", "Or", "Xor", "Collate", "ArrayContainedBy", "ArrayPosition", "JSONArrayContains",
    "JSONBContainsAllTopKeys", "JSONBContainsAnyTopKeys", "JSONBContainsTopKey", "JSONBPathExists",
    "RegexpFullMatch", "Any", "All", "Case", "If", "Cast", "TryCast", "Coalesce", "Nullif", "Greatest", "Least", "Extract", "Exists",
    "Array", "Bracket", "Interval", "AtTimeZone",
    # text
    "Upper", "Lower", "Length", "Substring", "Trim", "Concat", "ConcatWs", "Replace", "Left", "Right",
    "StrPosition", "SplitPart", "Pad", "Initcap", "Reverse", "RegexpReplace", "RegexpLike", "RegexpILike",
    "RegexpExtract", "Translate", "Ascii", "Chr", "Repeat", "Format", "StartsWith", "Overlay", "MD5", "SHA2",
    "SHA2Digest", "SHA", "Encode", "Decode", "Hex", "Unhex", "ToNumber", "ToChar", "StringToArray",
    "ArrayToString", "ArraySize", "ArrayContains", "ArrayContainsAll", "ArrayOverlaps", "Lower", "Upper",
    # numbers
    "Abs", "Round", "Floor", "Ceil", "Mod", "Pow", "Sqrt", "Ln", "Log", "Exp", "Sign", "Trunc", "WidthBucket",
    "SafeDivide", "Rand",
    # dates
    "CurrentDate", "CurrentTimestamp", "CurrentTime", "DateTrunc", "TimestampTrunc", "TimeToStr", "StrToDate",
    "StrToTime", "Date", "DateAdd", "DateSub", "DateDiff", "JustifyDays", "JustifyHours", "JustifyInterval",
    "UnixToTime", "TimeStrToTime", "TsOrDsToDate", "MakeInterval",
    # JSON
    "JSONExtract", "JSONExtractScalar", "JSONBExtract", "JSONBExtractScalar", "JSONBContains", "JSONFormat",
    "JSONObject", "JSONArrayAgg", "JSONObjectAgg", "ParseJSON",
    # aggregates
    "Count", "Sum", "Avg", "Min", "Max", "Stddev", "StddevPop", "StddevSamp", "Variance", "VariancePop",
    "GroupConcat", "ArrayAgg", "LogicalAnd", "LogicalOr", "AnyValue", "PercentileCont", "PercentileDisc",
    "Median", "Mode", "Corr", "CovarPop", "CovarSamp", "ApproxDistinct", "CountIf",
    # windows
    "RowNumber", "Rank", "DenseRank", "PercentRank", "CumeDist", "Ntile", "Lag", "Lead", "FirstValue",
    "LastValue", "NthValue",
    # set-returning, over values the statement already has
    "Uuid", "Explode", "Unnest", "GenerateSeries", "ExplodingGenerateSeries",
)
ALLOWED_FUNCTION_CLASSES: frozenset[type] = frozenset(
    getattr(exp, name) for name in _ALLOWED_FUNCTION_CLASSES if hasattr(exp, name))

ALLOWED_FUNCTION_NAMES = frozenset({
    "age", "cardinality", "convert_to", "convert_from", "get_byte", "make_date", "make_timestamp",
    "octet_length", "char_length", "character_length", "bit_length", "btrim", "ltrim", "rtrim", "lpad", "rpad",
    "strpos", "position", "substr", "to_hex", "to_date", "to_timestamp", "to_char", "to_number", "date_part",
    "date_trunc", "date_bin", "isfinite", "jsonb_extract_path_text", "json_extract_path_text",
    "jsonb_extract_path", "json_extract_path", "jsonb_array_length", "json_array_length", "jsonb_typeof",
    "json_typeof", "jsonb_build_object", "json_build_object", "jsonb_build_array", "json_build_array",
    "array_length", "array_position", "array_positions", "array_remove", "array_append", "array_prepend",
    "array_cat", "regexp_matches", "regexp_match", "regexp_split_to_array", "regexp_count", "regexp_substr",
    "regexp_instr", "quote_literal", "quote_ident", "quote_nullable", "sha224", "sha256", "sha384", "sha512",
    "row", "all", "any", "div", "log10", "cbrt", "degrees", "radians", "pi", "sin", "cos", "tan", "asin", "acos", "atan",
    "atan2", "gcd", "lcm", "factorial", "scale", "trim_scale", "min_scale", "num_nonnulls", "num_nulls",
    "string_agg", "bool_and", "bool_or", "every", "bit_and", "bit_or", "regr_slope", "regr_intercept",
    "regr_count", "regr_r2", "var_pop", "var_samp", "stddev_pop", "stddev_samp", "normalize", "unistr",
    "initcap", "timezone", "localtime", "localtimestamp", "clock_timestamp", "statement_timestamp",
    "transaction_timestamp", "extract", "justify_days", "justify_hours", "justify_interval",
    "percentile_cont", "percentile_disc", "mode", "nth_value", "to_json", "to_jsonb", "jsonb_agg", "json_agg",
    "jsonb_object_agg", "json_object_agg", "array_to_json", "row_to_json", "jsonb_each_text", "jsonb_array_elements",
    "jsonb_array_elements_text", "json_array_elements", "json_array_elements_text", "string_to_table",
    "uuid_extract_timestamp", "length", "md5", "encode", "decode", "split_part", "left", "right", "reverse",
    "replace", "translate", "upper", "lower", "concat", "concat_ws", "format", "repeat", "chr", "ascii",
})

# Casts may name data types, never object identifiers (regclass, regproc, oid, ...): those
# turn strings into catalog look-ups.
ALLOWED_CAST_TYPES = frozenset({
    exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR, exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR,
    exp.DataType.Type.NVARCHAR, exp.DataType.Type.BPCHAR, exp.DataType.Type.NAME,
    exp.DataType.Type.SMALLINT, exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.DECIMAL,
    exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.BOOLEAN, exp.DataType.Type.DATE,
    exp.DataType.Type.TIME, exp.DataType.Type.TIMETZ, exp.DataType.Type.TIMESTAMP,
    exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.INTERVAL, exp.DataType.Type.JSON, exp.DataType.Type.JSONB,
    exp.DataType.Type.UUID, exp.DataType.Type.VARBINARY, exp.DataType.Type.ARRAY, exp.DataType.Type.SERIAL,
    exp.DataType.Type.BIGSERIAL, exp.DataType.Type.SMALLSERIAL, exp.DataType.Type.MONEY,
    exp.DataType.Type.INET,
})


def quoted_identifier(name: str) -> str:
    """``name`` as a PostgreSQL quoted identifier, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def quoted_table(schema: str, name: str) -> str:
    return f"{quoted_identifier(schema)}.{quoted_identifier(name)}"


def function_name(node: exp.Func) -> str:
    """The function's name as PostgreSQL spells it (sqlglot's class names are its own)."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return node.sql(dialect="postgres").split("(", 1)[0].strip().lower()


def expression_refusal(tree: exp.Expression) -> str | None:
    """Why ``tree`` may not run (the first function or type off the allow-lists), or None."""
    for node in tree.walk():
        if isinstance(node, exp.Anonymous):
            if node.name.lower() not in ALLOWED_FUNCTION_NAMES:
                return f"function {node.name} is not allowed"
        elif isinstance(node, exp.Func) and type(node) not in ALLOWED_FUNCTION_CLASSES:
            return f"function {function_name(node)} is not allowed"
        elif isinstance(node, exp.ObjectIdentifier):
            return f"type {node.name.lower()} is not allowed: it looks objects up in the system catalogs"
        elif isinstance(node, exp.DataType) and node.this not in ALLOWED_CAST_TYPES:
            if node.this == exp.DataType.Type.USERDEFINED:
                return f"type {node.sql(dialect='postgres').lower()} is not allowed"
            return f"type {node.this.value.lower()} is not allowed"
    return None
