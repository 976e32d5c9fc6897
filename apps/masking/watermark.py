"""Export watermarks and leak tracing.

Every CSV or JSON export carries two traces, so that a leaked file (or a few cells pasted
from it) can be traced back to the export it came from:

**The mark** (``rows_watermarked`` / ``marks_found``). Each text cell gets 24 invisible
characters appended, drawn from an alphabet of eight default-ignorable code points
(U+200B, U+200C, U+200D, U+2060..U+2064, three bits each). Together they spell 72 bits: the
export's serial (40 bits) followed by a 32-bit tag, HMAC-SHA256 of the serial under a key
derived from the installation's key. Any single text cell is enough to name the export. The
tag means random text, a hand-edited mark, or an export from another installation (another
key) is accepted with probability 2**-32 per mark. The serial is readable by anyone who
knows the scheme, but cannot be altered or forged without the key, so nobody can frame
another export. Cost: 72 bytes of UTF-8 per text cell (144 bytes in JSON written with
``ensure_ascii``, whose ``\\u200b`` escapes ``marks_found`` reads as well).

Left unmarked: numbers, dates, booleans and None (the gateway writes them as they are),
empty strings, and strings a spreadsheet would read as a number, a boolean, a date or a time
("02134", "TRUE", "2024-05-01"): an invisible suffix turns those into text, and a
left-aligned number is visible.

**The fingerprint** (``fingerprint`` / ``fingerprint_score``), for files whose invisible
characters are gone. It is the sorted set of 4-byte keyed hashes (BLAKE2b under a derived
key) of the export's normalised, informative cell values, stored with the export: at most
``FINGERPRINT_MAX_HASHES`` (16,384) hashes, 64 KiB. An export with more distinct values keeps
the 16,384 smallest hashes (a bottom-k sample, deterministic and unpredictable without the
key); scoring then only judges the values whose hash falls in the sampled range, so a
sampled export still scores 1.0 on its own content but needs more leaked values (about
``distinct values / 16,384`` times more) to reach the thresholds.

Normalisation, the same for exported Python values and for tokens read back from text:
zero-width characters removed, NFKC, surrounding whitespace, quotes and brackets stripped,
inner whitespace collapsed, casefolded; numbers written canonically (``12.50``, ``12.5`` and
``Decimal('12.50')`` all become ``12.5``). Values are assumed serialised as the gateway does:
CSV with Python's csv module and ``str()`` of each value; JSON with int, float, bool and None
as JSON scalars and everything else as ``str()``. None and booleans are not fingerprinted,
nor values shorter than four characters after normalisation ("M", "yes", "42") or
"true"/"false"/"none"/"null": they occur in any data and identify nothing.

Text read back is split into values by its shape: JSON (whole or a pasted fragment: string
literals and scalars between JSON punctuation), else delimited text (tab, comma, pipe or
semicolon, whichever most lines contain; parsed with the csv module), else whitespace-
separated words, where runs of up to six words are matched as one value ("Ada Lovelace").

**Ranking** (``leak_candidates``): serials found by marks first, most marked cells first;
then exports whose fingerprint holds at least ``CONTENT_MIN_SCORE`` (0.3) of the text's
distinct values, and at least ``CONTENT_MIN_VALUES`` (4) of them, highest score first. Data
of the same kind from elsewhere (other people's names, dates, amounts) shares a few values
with an export by chance: over 134 unrelated files against 50 exports in the tests, the best
chance match was 0.05. A true copy scores below 1.0 mostly because of its header row or JSON
keys, which are not in the fingerprint: a single row of six values with its header scores
about 0.5, hence a threshold well below that and well above chance.

What defeats it: the mark is lost when the invisible characters are stripped (a "clean"
function, some copy paths, retyping, OCR of a screenshot) or when no text cell survives.
Saving the file from a spreadsheet in a legacy code page turns each mark into 24 question
marks: the mark is lost, and content tracing drops those question marks. Content tracing is
lost when values are rewritten (dates re-formatted, numbers rounded, names abbreviated;
case, spacing, quoting and Unicode width do not matter), when too few informative values
survive (a few cells; columns of flags, small integers or a handful of categories), or when
the same values were in more than one export: each export holding the leaked rows scores
high, and only a mark tells them apart.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import hmac
import io
import json
import re
import sys
import unicodedata
from array import array
from collections import Counter
from dataclasses import dataclass
from decimal import Context, Decimal

SERIAL_BITS = 40
TAG_BITS = 32
ALPHABET = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064"
_SYMBOL_BITS = 3
MARK_LENGTH = (SERIAL_BITS + TAG_BITS) // _SYMBOL_BITS

FINGERPRINT_HASH_BYTES = 4
FINGERPRINT_MAX_HASHES = 16_384
CONTENT_MIN_SCORE = 0.3
CONTENT_MIN_VALUES = 4

_MIN_INFORMATIVE_LENGTH = 4
_UNINFORMATIVE = frozenset({"true", "false", "none", "null"})
_MAX_SPAN_WORDS = 6

_SYMBOL_VALUE = {symbol: value for value, symbol in enumerate(ALPHABET)}
_ZERO_WIDTH = dict.fromkeys(map(ord, ALPHABET + "\ufeff"))
_MARK_RUN = re.compile(f"[{ALPHABET}]{{{MARK_LENGTH},}}")
# A mark written in a code page without these characters, as a spreadsheet's legacy "CSV" does.
_MARK_AS_QUESTION_MARKS = re.compile(rf"\?{{{MARK_LENGTH}}}\Z")
_ESCAPED_SYMBOL = re.compile(r"\\u(200[bcd]|206[0-4])", re.IGNORECASE)

_MAX_NUMBER_DIGITS = 40
_NUMBER_CONTEXT = Context(prec=_MAX_NUMBER_DIGITS)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?")
_SPREADSHEET_TYPED = re.compile(
    r"""\s*(?:
        [+-]?[$€£¥]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?%?
      | true | false
      | \d{4}-\d{1,2}-\d{1,2}(?:[ t]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?
      | \d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}
      | \d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[ap]m)?
    )\s*""",
    re.IGNORECASE | re.VERBOSE,
)
_JSON_LINE = re.compile(r'^\s*[\[{]|"\s*:\s*(?:["\[{\-\d]|true|false|null)')
_JSON_SCALAR = re.compile(
    r'(?:^|(?<=[\[{,:]))\s*("(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)\s*(?=[,:\]}]|$)',
    re.MULTILINE,
)
_DELIMITERS = ("\t", ",", "|", ";")
_STRIPPED_AROUND = " \t\r\n\"'[]{}"

_UINT32 = next(code for code in "IL" if array(code).itemsize == FINGERPRINT_HASH_BYTES)


@dataclass(frozen=True)
class LeakMatch:
    """One candidate export. ``method`` "mark": ``cells`` authenticated marks carried this
    serial, ``score`` is their share of all marks found. ``method`` "content": ``cells``
    distinct values of the text were found in the export's fingerprint, ``score`` is
    ``fingerprint_score``."""

    serial: int
    method: str
    score: float
    cells: int


def rows_watermarked(rows: list[list], *, serial: int, key: bytes) -> list[list]:
    """The rows with the export's mark appended to every markable text cell (see the module
    docstring); other values are returned as they are. Deterministic for (rows, serial, key)."""
    if not 0 < serial < 2**SERIAL_BITS:
        raise ValueError(f"an export serial must be a positive integer below 2**{SERIAL_BITS}, not {serial!r}")
    mark = _mark(serial, _derived_key(key, "mark"))
    return [[cell + mark if _markable(cell) else cell for cell in row] for row in rows]


def marks_found(text: str, *, key: bytes) -> dict[int, int]:
    """Serials whose authenticated marks appear in ``text``, each with how many marks carried it."""
    mark_key = _derived_key(key, "mark")
    text = _ESCAPED_SYMBOL.sub(lambda escape: chr(int(escape.group(1), 16)), text)
    counts: Counter[int] = Counter()
    tags: dict[int, bytes] = {}
    for run in _MARK_RUN.finditer(text):
        symbols = run.group()
        # Scanning every offset keeps a mark readable after a cell that itself ended with
        # one of the alphabet's characters (a ZWJ in an emoji sequence).
        start = 0
        while start + MARK_LENGTH <= len(symbols):
            serial = _authenticated_serial(symbols[start:start + MARK_LENGTH], mark_key, tags)
            if serial is None:
                start += 1
            else:
                counts[serial] += 1
                start += MARK_LENGTH
    return dict(counts)


def fingerprint(rows: list[list], *, key: bytes) -> bytes:
    """Sorted 4-byte big-endian keyed hashes of the rows' informative values, at most
    ``FINGERPRINT_MAX_HASHES`` of them (64 KiB): the smallest hashes when there are more.
    Pass the rows before or after watermarking: marks are removed before hashing."""
    fingerprint_key = _derived_key(key, "fingerprint")
    hashes = {
        _value_hash(value, fingerprint_key)
        for row in rows
        for cell in row
        if (value := _normalised_cell(cell)) is not None
    }
    kept = sorted(hashes)[:FINGERPRINT_MAX_HASHES]
    packed = array(_UINT32, kept)
    if sys.byteorder == "little":
        packed.byteswap()
    return packed.tobytes()


def fingerprint_score(text: str, fingerprint: bytes, *, key: bytes) -> float:
    """The fraction, 0..1, of the distinct informative values in ``text`` that the fingerprint
    holds (only values in its sampled range count when it was sampled)."""
    matched, judged = _TextValues(text, _derived_key(key, "fingerprint")).matched(_hash_array(fingerprint))
    return matched / judged if judged else 0.0


def leak_candidates(text: str, *, key: bytes, fingerprints: dict[int, bytes]) -> list[LeakMatch]:
    """Exports ``text`` may have come from, most likely first: serials found by marks, then
    serials of ``fingerprints`` whose content match passes the thresholds (see the module
    docstring). A serial already named by a mark is not repeated as a content match."""
    marks = marks_found(text, key=key)
    total_marks = sum(marks.values())
    candidates = [
        LeakMatch(serial=serial, method="mark", score=count / total_marks, cells=count)
        for serial, count in sorted(marks.items(), key=lambda item: (-item[1], item[0]))
    ]
    values = _TextValues(text, _derived_key(key, "fingerprint"))
    by_content = []
    for serial, export_fingerprint in fingerprints.items():
        if serial in marks:
            continue
        matched, judged = values.matched(_hash_array(export_fingerprint))
        score = matched / judged if judged else 0.0
        if matched >= CONTENT_MIN_VALUES and score >= CONTENT_MIN_SCORE:
            by_content.append(LeakMatch(serial=serial, method="content", score=score, cells=matched))
    by_content.sort(key=lambda match: (-match.score, -match.cells, match.serial))
    return candidates + by_content


def _derived_key(key: bytes, purpose: str) -> bytes:
    if not key:
        raise ValueError("a watermark key is required")
    return hmac.digest(key, f"warden/watermark/{purpose}".encode(), "sha256")


def _tag(serial: int, mark_key: bytes) -> bytes:
    return hmac.digest(mark_key, serial.to_bytes(SERIAL_BITS // 8, "big"), "sha256")[: TAG_BITS // 8]


def _mark(serial: int, mark_key: bytes) -> str:
    payload = serial << TAG_BITS | int.from_bytes(_tag(serial, mark_key), "big")
    return "".join(
        ALPHABET[payload >> shift & (len(ALPHABET) - 1)]
        for shift in range((MARK_LENGTH - 1) * _SYMBOL_BITS, -1, -_SYMBOL_BITS)
    )


def _authenticated_serial(symbols: str, mark_key: bytes, tags: dict[int, bytes]) -> int | None:
    payload = 0
    for symbol in symbols:
        payload = payload << _SYMBOL_BITS | _SYMBOL_VALUE[symbol]
    serial, tag = payload >> TAG_BITS, payload & (2**TAG_BITS - 1)
    if serial == 0:
        return None
    if serial not in tags:
        tags[serial] = _tag(serial, mark_key)
    if hmac.compare_digest(tags[serial], tag.to_bytes(TAG_BITS // 8, "big")):
        return serial
    return None


def _markable(cell) -> bool:
    return isinstance(cell, str) and bool(cell.strip()) and not _SPREADSHEET_TYPED.fullmatch(cell)


def _normalised_cell(cell) -> str | None:
    if cell is None or isinstance(cell, bool):
        return None
    return _normalised(str(cell))


def _normalised(text: str) -> str | None:
    text = _MARK_AS_QUESTION_MARKS.sub("", text.translate(_ZERO_WIDTH))
    text = unicodedata.normalize("NFKC", text)
    text = " ".join(text.strip(_STRIPPED_AROUND).split()).casefold()
    if _NUMBER.fullmatch(text):
        text = _canonical_number(text)
    if len(text) < _MIN_INFORMATIVE_LENGTH or text in _UNINFORMATIVE:
        return None
    return text


def _canonical_number(text: str) -> str:
    number = Decimal(text)
    if number == 0:
        return "0"
    # Far out of this range a number is an identifier or noise, not something written in two
    # ways, and its plain form would be a long run of zeros.
    if abs(number.adjusted()) > _MAX_NUMBER_DIGITS or len(number.as_tuple().digits) > _MAX_NUMBER_DIGITS:
        return text
    return format(number.normalize(_NUMBER_CONTEXT), "f")


def _value_hash(value: str, fingerprint_key: bytes) -> int:
    digest = hashlib.blake2b(value.encode(), key=fingerprint_key, digest_size=FINGERPRINT_HASH_BYTES).digest()
    return int.from_bytes(digest, "big")


def _hash_array(export_fingerprint: bytes) -> array:
    if len(export_fingerprint) % FINGERPRINT_HASH_BYTES:
        raise ValueError("a fingerprint is a whole number of 4-byte hashes")
    hashes = array(_UINT32)
    hashes.frombytes(export_fingerprint)
    if sys.byteorder == "little":
        hashes.byteswap()
    return hashes


def _holds(hashes: array, value_hash: int) -> bool:
    index = bisect.bisect_left(hashes, value_hash)
    return index < len(hashes) and hashes[index] == value_hash


class _TextValues:
    """The values of a leaked text, hashed once and matched against many fingerprints."""

    def __init__(self, text: str, fingerprint_key: bytes):
        self.key = fingerprint_key
        self.values: set[int] = set()
        # Whitespace-separated lines: per line, the hash of each run of words (or None).
        self.word_lines: list[list[list[int | None]]] = []
        text = text.translate(_ZERO_WIDTH)
        if _json_shaped(text):
            self._read_json(text)
        else:
            delimiter = _delimiter(text)
            if delimiter is None:
                self._read_words(text)
            else:
                self._read_delimited(text, delimiter)

    def matched(self, hashes: array) -> tuple[int, int]:
        """(distinct values found in ``hashes``, distinct values judged)."""
        # A full fingerprint is a bottom-k sample: a value hashing above its largest hash may
        # have been in the export and dropped, so it is not judged either way.
        ceiling = hashes[-1] if len(hashes) == FINGERPRINT_MAX_HASHES else None
        values = self.values.union(*(_segmented(spans, hashes) for spans in self.word_lines))
        if ceiling is not None:
            values = {value for value in values if value <= ceiling}
        # Binary search for a few pasted values, a set for a whole file.
        if len(values) * 16 < len(hashes):
            return sum(_holds(hashes, value) for value in values), len(values)
        return len(values.intersection(hashes)), len(values)

    def _add(self, raw: str) -> None:
        value = _normalised(raw)
        if value is not None:
            self.values.add(_value_hash(value, self.key))

    def _read_json(self, text: str) -> None:
        for scalar in _JSON_SCALAR.finditer(text):
            token = scalar.group(1)
            if token.startswith('"'):
                try:
                    token = json.loads(token)
                except ValueError:
                    token = token[1:-1]
            self._add(token)

    def _read_delimited(self, text: str, delimiter: str) -> None:
        # Tab-separated text is what a spreadsheet copies: its quotes are literal characters.
        quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
        try:
            rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting, skipinitialspace=True))
        except csv.Error:
            # A paste that starts inside a quoted field can swallow the rest of the text into
            # one oversized field; split naively instead, quotes are stripped per value anyway.
            rows = [line.split(delimiter) for line in text.splitlines()]
        for row in rows:
            for field in row:
                self._add(field)

    def _read_words(self, text: str) -> None:
        for line in text.splitlines():
            words = line.split()
            spans = []
            for start in range(len(words)):
                spans.append([
                    self._hash_or_none(" ".join(words[start:end]))
                    for end in range(start + 1, min(len(words), start + _MAX_SPAN_WORDS) + 1)
                ])
            if spans:
                self.word_lines.append(spans)

    def _hash_or_none(self, raw: str) -> int | None:
        value = _normalised(raw)
        return None if value is None else _value_hash(value, self.key)


def _segmented(spans: list[list[int | None]], hashes: array) -> set[int]:
    """One line of words cut into values: at each word, the longest run of words the
    fingerprint holds, else the word alone."""
    values = set()
    start = 0
    while start < len(spans):
        length = next(
            (
                length
                for length in range(len(spans[start]), 0, -1)
                if spans[start][length - 1] is not None and _holds(hashes, spans[start][length - 1])
            ),
            None,
        )
        if length is None:
            if spans[start][0] is not None:
                values.add(spans[start][0])
            start += 1
        else:
            values.add(spans[start][length - 1])
            start += length
    return values


def _json_shaped(text: str) -> bool:
    """A JSON document, or a pasted piece of one: most lines open an array or object or hold
    an object member."""
    try:
        json.loads(text)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        return sum(bool(_JSON_LINE.search(line)) for line in lines) * 2 >= len(lines) > 0
    return True


def _delimiter(text: str) -> str | None:
    lines = [line for line in text.splitlines() if line.strip()]
    counts = {delimiter: sum(delimiter in line for line in lines) for delimiter in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else None
