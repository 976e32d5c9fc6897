"""The tokenizer of the security statement language.

The parser pulls one token at a time (``next_token``), so the first bad character ends the
work: a long run of garbage costs no more than reading up to it. Two parts of the language
are not made of tokens and are read raw when the parser gets there: an inline JSON policy
document (``json_object_token``) and the address list of ``setproject`` (``raw_token``).

A character the language has no use for does not raise here: it becomes an ``ERROR`` token
carrying the message, so that the parser, which knows what it expected at that point, can
say so instead.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class StatementError(Exception):
    """A statement that does not parse; ``position`` is the 0-based offset where it went wrong."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message = message
        self.position = position


class TokenKind(enum.Enum):
    WORD = "word"  # a keyword or a name; compared lowercase, kept as written
    QUOTED_NAME = "quoted name"  # `anything`, a doubled backquote stands for one
    STRING = "string"  # '...' or "...", with backslash escapes
    INTEGER = "integer"
    PRINCIPAL = "principal"  # ALIYUN$account, RAM$[owner:]user
    PUNCTUATION = "punctuation"
    RAW = "raw"  # a policy document or an address list, read as is
    ERROR = "error"  # ``value`` is the message
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    value: str
    position: int
    end: int

    def is_word(self, *words: str) -> bool:
        return self.kind is TokenKind.WORD and self.value.lower() in words

    def is_punctuation(self, char: str) -> bool:
        return self.kind is TokenKind.PUNCTUATION and self.value == char


PUNCTUATION = frozenset("(),;=.*{}")
UNEXPECTED_CHARACTER = "unexpected character"
PRINCIPAL_KINDS = ("ALIYUN", "RAM")
_WORD_RUN = re.compile(r"[A-Za-z0-9_]*")
_DIGITS = frozenset("0123456789")
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_SPACE = re.compile(r"\s*")
# Account and user names: what MaxCompute's examples use (bob@aliyun.com, 5527xxxx5788, ram_test).
_ACCOUNT_RUN = re.compile(r"[A-Za-z0-9_@.\-]*")
_PRINCIPAL_RUN = re.compile(r"[A-Za-z0-9_@.\-:]*")
# Escapes a MaxCompute string literal knows; any other backslash is kept with its character,
# so that a JSON policy in quotes keeps its own escapes such as \u00e9.
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def next_token(text: str, position: int) -> Token:
    """The token starting at or after ``position`` (whitespace skipped)."""
    position = _SPACE.match(text, position).end()
    if position >= len(text):
        return Token(TokenKind.END, "", len(text), len(text))
    char = text[position]
    if char in _WORD_START:
        return _word_or_principal(text, position)
    if char in _DIGITS:
        return _integer(text, position)
    if char in "'\"":
        return _string(text, position)
    if char == "`":
        return _quoted_name(text, position)
    if char in PUNCTUATION:
        return Token(TokenKind.PUNCTUATION, char, position, position + 1)
    return Token(TokenKind.ERROR, f"{UNEXPECTED_CHARACTER} {char!r}", position, position + 1)


def tokenize(text: str) -> list[Token]:
    """Every token of ``text``, ending with END or the first ERROR."""
    tokens = [next_token(text, 0)]
    while tokens[-1].kind not in (TokenKind.END, TokenKind.ERROR):
        tokens.append(next_token(text, tokens[-1].end))
    return tokens


def _word_or_principal(text: str, start: int) -> Token:
    end = _WORD_RUN.match(text, start).end()
    if end < len(text) and text[end] == "$":
        return _principal(text, start, dollar=end)
    return Token(TokenKind.WORD, text[start:end], start, end)


def _principal(text: str, start: int, dollar: int) -> Token:
    end = _PRINCIPAL_RUN.match(text, dollar + 1).end()
    if end < len(text) and text[end] == "/":
        end = _SPACE.match(text, end).end()
        return Token(TokenKind.ERROR, "a RAM role is written in backquotes: `RAM$<owner>:role/<role>`", start, end)
    try:
        value = principal_canonical(text[start:end], start, quoted=False)
    except StatementError as error:
        return Token(TokenKind.ERROR, error.message, error.position, end)
    return Token(TokenKind.PRINCIPAL, value, start, end)


def principal_canonical(value: str, position: int, *, quoted: bool) -> str:
    """``value`` with its ALIYUN$ / RAM$ prefix in capitals, or StatementError at the bad part.

    ``position`` is where ``value`` starts in the statement; a backquoted principal (the only
    way to write a RAM role) starts one character after its backquote.
    """
    prefix, _, body = value.partition("$")
    kind = prefix.upper()
    if kind not in PRINCIPAL_KINDS:
        raise StatementError(f"unknown principal kind '{prefix}$'; a principal starts with ALIYUN$ or RAM$", position)
    body_start = position + len(prefix) + 1
    if not body:
        raise StatementError(f"expected an account name after {kind}$", body_start)
    if kind == "ALIYUN":
        _require_account_name(body, body_start, "an Alibaba Cloud account")
        return f"{kind}${body}"
    owner, colon, user = body.rpartition(":")
    if colon:
        _require_account_name(owner, body_start, "the owner account before ':'")
    user_start = body_start + len(owner) + len(colon)
    if user[:5].lower() == "role/":
        if not colon:
            raise StatementError("a RAM role names its owner account: `RAM$<owner>:role/<role>`", user_start)
        if not quoted:
            raise StatementError("a RAM role is written in backquotes: `RAM$<owner>:role/<role>`", position)
        _require_account_name(user[5:], user_start + 5, "a role name after 'role/'")
    else:
        _require_account_name(user, user_start, "a RAM user name")
    return f"{kind}${body}"


def _require_account_name(name: str, position: int, what: str) -> None:
    if not name:
        raise StatementError(f"expected {what}", position)
    valid_end = _ACCOUNT_RUN.match(name).end()
    if valid_end < len(name):
        raise StatementError(
            f"{name[valid_end]!r} cannot appear in {what}: use letters, digits, '_', '@', '.' or '-'",
            position + valid_end,
        )


def _integer(text: str, start: int) -> Token:
    end = _WORD_RUN.match(text, start).end()
    word = text[start:end]
    if not word.isdigit():
        return Token(TokenKind.ERROR, f"'{shortened(word)}' is not a name: a name starts with a letter or '_' "
                                      f"(put any other name in backquotes)", start, end)
    return Token(TokenKind.INTEGER, word, start, end)


def _string(text: str, start: int) -> Token:
    quote = text[start]
    chunks = []
    index = chunk_start = start + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            chunks.append(text[chunk_start:index])
            return Token(TokenKind.STRING, "".join(chunks), start, index + 1)
        if char == "\\" and index + 1 < len(text):
            chunks.append(text[chunk_start:index])
            escaped = text[index + 1]
            chunks.append(_ESCAPES.get(escaped, "\\" + escaped))
            index += 2
            chunk_start = index
            continue
        index += 1
    return Token(TokenKind.ERROR, f"unterminated string: the {quote} opened here is never closed", start, len(text))


def _quoted_name(text: str, start: int) -> Token:
    chunks = []
    index = chunk_start = start + 1
    while True:
        close = text.find("`", index)
        if close < 0:
            return Token(TokenKind.ERROR, "unterminated name: the ` opened here is never closed", start, len(text))
        if text.startswith("``", close):
            chunks.append(text[chunk_start:close + 1])
            index = chunk_start = close + 2
            continue
        chunks.append(text[chunk_start:close])
        name = "".join(chunks)
        if not name.strip():
            return Token(TokenKind.ERROR, "empty name between backquotes", start, close + 1)
        return Token(TokenKind.QUOTED_NAME, name, start, close + 1)


def json_object_token(text: str, start: int) -> Token:
    """The JSON object opening at ``text[start]`` ("{"), balanced to its closing brace.

    Only braces and JSON strings are followed here; whether the document is valid JSON and a
    valid policy is for the policy validator, which points at the bad part itself.
    """
    depth = 0
    index = start
    in_string = False
    while index < len(text):
        char = text[index]
        if in_string:
            if char == "\\":
                index += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return Token(TokenKind.RAW, text[start:index + 1], start, index + 1)
        index += 1
    return Token(TokenKind.ERROR, "the policy document opened here has no closing '}'", start, len(text))


def raw_token(text: str, start: int) -> Token:
    """The text from ``start`` up to the next ';' or the end, as written."""
    stop = text.find(";", start)
    stop = len(text) if stop < 0 else stop
    return Token(TokenKind.RAW, text[start:stop], start, stop)


def shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
