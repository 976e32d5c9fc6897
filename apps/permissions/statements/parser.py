"""The parser of MaxCompute's security statements (shared/reference/maxcompute-security.md §0-§7).

``parse(text)`` reads one statement and returns its ``ast`` dataclass, or raises
``StatementError(message, position)`` at the first place the text stops making sense, saying
what was expected there. Keywords are case-insensitive; no keyword is reserved, so a table
may be called ``table``. The parser reads left to right with one token of lookahead (two in a
few places noted below) and never backtracks, so its time grows with the length of the text.

Grammar ([R]: not confirmed by the reference, or Warden's own choice; see the notes below)::

    statement   ::= <one of the forms below> [";"]          -- nothing may follow the ";"
    name        ::= word | `backquoted`                     -- word: [A-Za-z_][A-Za-z0-9_]*
    qualified   ::= [name "."] name
    object      ::= [name "."] ("*" | name ["*"])          -- [R] t_app_*: no space before the "*"
    principal   ::= ALIYUN$<account> | RAM$[<owner>:]<user> | `RAM$<owner>:role/<role>`
                  | name                                    -- [R] a user of this tenant by name
    subject     ::= USER principal | ROLE name
    columns     ::= "(" name {"," name} ")"
    actions     ::= word {"," word}                         -- canonical per object type
    object_type ::= PROJECT | TABLE | FUNCTION | RESOURCE | INSTANCE | PACKAGE
    properties  ::= PRIVILEGEPROPERTIES "(" key "=" value {"," key "=" value} ")"
    document    ::= 'string' | "string" | { json object }  -- [R] the policy itself, inline
    level       ::= 0-9

    ADD USER principal | REMOVE USER principal | LIST USERS | WHOAMI
    CREATE ROLE name [PRIVILEGEPROPERTIES("type"="admin"|"resource")] | DROP ROLE name | LIST ROLES
    GRANT name TO principal | REVOKE name FROM principal | DESCRIBE ROLE name
    SHOW GRANTS [FOR principal | FOR ROLE name] [ON object_type qualified] [properties]
    SHOW ACL FOR qualified [ON TYPE object_type]
    PURGE PRIVS FROM USER principal
    GRANT actions [columns] ON object_type object [columns] TO subject [properties]
    REVOKE actions [columns] ON object_type object [columns] FROM subject [properties]
    GET POLICY [ON ROLE name] | PUT POLICY document [ON ROLE name]
    SHOW SECURITYCONFIGURATION
    SET flag "=" (TRUE | FALSE)     -- LabelSecurity, CheckPermissionUsingACL, CheckPermissionUsingPolicy,
                                    -- ObjectCreatorHasAccessPermission, ObjectCreatorHasGrantPermission,
                                    -- NoWriteDown [R]
    SET PROJECTPROTECTION "=" (TRUE | FALSE) [WITH EXCEPTION document]
    SET LABEL level TO (TABLE name [columns] | USER principal | ROLE name)
    GRANT LABEL level ON TABLE name [columns] TO subject [WITH EXP days]
    REVOKE LABEL ON TABLE name [columns] FROM subject
    CLEAR EXPIRED GRANTS
    SHOW LABEL [level] GRANTS [ON TABLE name] [FOR USER principal] [properties]
    (DESCRIBE | DESC [R]) qualified
    CREATE PACKAGE name | (DROP | DELETE) PACKAGE name | SHOW PACKAGES | DESCRIBE PACKAGE qualified
    ADD (TABLE | FUNCTION | RESOURCE | INSTANCE) name TO PACKAGE name [WITH PRIVILEGES actions]
    REMOVE (TABLE | FUNCTION | RESOURCE | INSTANCE) name FROM PACKAGE name
    ALLOW PROJECT name TO INSTALL PACKAGE name [USING LABEL level] [WITH EXP days]
    DISALLOW PROJECT name TO INSTALL PACKAGE name
    INSTALL PACKAGE name "." name | UNINSTALL PACKAGE name "." name
    ADD TRUSTEDPROJECT name | REMOVE TRUSTEDPROJECT name | LIST TRUSTEDPROJECTS
    SETPROJECT [ODPS.SECURITY.(IP | VPC).WHITELIST "=" [entry {"," entry}]]
                                    -- entry: IPv4/IPv6 address, CIDR block, <ip>-<ip>, "*"

Choices beyond the reference:

- The policy document is written inline, quoted or as a raw JSON object balanced to its
  closing brace (MaxCompute names a file). Only the braces and JSON strings are followed here;
  the policy validator judges the document and points at its bad part.
- A principal may be a bare user name, resolved by the executor in the caller's tenant; a
  name with '.' or '-' in it (as usernames may have) goes in backquotes. ALIYUN$ / RAM$
  prefixes are written in capitals in the result.
- Column lists may follow the actions (``grant select (c1, c2) on table t``, as the issue
  writes it) or the table name (as the reference writes it), not both; they apply to tables
  only. ``*`` as the object name parses for users too: whether it is allowed is the
  executor's call (the reference allows it for roles only). So does a name ending in ``*``
  (``t_app_*``), written straight after the name: policies know such patterns; whether an
  ACL grant takes one is also the executor's call.
- ``whoami``, ``purge privs from user``, ``set label ... to user|role``, ``revoke label``,
  ``grant/revoke Read on package``, ``setproject`` with an empty list and bare ``setproject``
  are [R] in the reference and parse as written above. ``desc`` is accepted for ``describe``.
- ``set NoWriteDown`` is Warden's project setting; ``allow project ... with exp <days>`` is
  Warden's expiry of an install permission (the issue asks for it; MaxCompute has none).
- ``describe role`` or ``describe package`` with nothing after them describe a table of that
  name (two tokens of lookahead tell them apart, as for ``show grants for role``).
- Privilege properties: only the keys a statement knows (lowercased; each at most once):
  "type" for CREATE ROLE; for grants "policy", "allow", "deny" and "refobject" (true/false,
  kept lowercase), "conditions", "expires" (a number of days), "refproject" and "package".
- Strings know the escapes \\\\ \\' \\" \\n \\t \\r; any other backslash stays with its
  character, so a quoted JSON policy keeps its own escapes.
- ``model`` objects (reference §2) are refused: Warden has no such object type.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from typing import NoReturn

from django.core.exceptions import ValidationError

from apps.permissions.actions import ACTIONS, ALL, OBJECT_TYPES, ObjectType, action_canonical, object_type_canonical
from apps.permissions.statements import ast
from apps.permissions.statements.lexer import (
    UNEXPECTED_CHARACTER,
    StatementError,
    Token,
    TokenKind,
    json_object_token,
    next_token,
    principal_canonical,
    raw_token,
    shortened,
)

__all__ = ["StatementError", "parse"]

FLAGS = {name.lower(): name for name in ("LabelSecurity", "CheckPermissionUsingACL", "CheckPermissionUsingPolicy",
                                         "ObjectCreatorHasAccessPermission", "ObjectCreatorHasGrantPermission",
                                         "NoWriteDown")}
PACKAGE_MEMBER_TYPES = (ObjectType.TABLE, ObjectType.FUNCTION, ObjectType.RESOURCE, ObjectType.INSTANCE)
ROLE_TYPES = ("resource", "admin")
WHITELISTS = {"odps.security.ip.whitelist": "ip", "odps.security.vpc.whitelist": "vpc"}
MAX_LEVEL = 9
MAX_DAYS = 2**63 - 1  # the range MaxCompute documents for "with exp"

# Privilege properties each statement knows, and the values they take.
REFERENCE_PROPERTIES = ("refobject", "refproject", "package")
GRANT_PROPERTIES = ("policy", "allow", "deny", "conditions", "expires") + REFERENCE_PROPERTIES
BOOLEAN_PROPERTIES = ("policy", "allow", "deny", "refobject")

_NAMES = (TokenKind.WORD, TokenKind.QUOTED_NAME)
_NON_SPACE = re.compile(r"\S")


def parse(text: str) -> ast.Statement:
    """The one statement in ``text`` (a trailing ';' is optional), or StatementError."""
    return _Parser(text).statement()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.token = next_token(text, 0)
        self.consumed_end = 0

    # --- tokens ---------------------------------------------------------------------------

    def advance(self) -> Token:
        token = self.token
        self.consumed_end = token.end
        self.token = next_token(self.text, token.end)
        return token

    def resume_after(self, raw: Token) -> None:
        """Continue with ordinary tokens after a part read raw."""
        if raw.kind is TokenKind.ERROR:
            raise StatementError(raw.value, raw.position)
        self.consumed_end = raw.end
        self.token = next_token(self.text, raw.end)

    def peek(self) -> Token:
        return next_token(self.text, self.token.end)

    def at(self, *words: str) -> bool:
        return self.token.is_word(*words)

    def accept(self, word: str) -> bool:
        if self.at(word):
            self.advance()
            return True
        return False

    def fail(self, expected: str, choices: tuple[str, ...] = ()) -> NoReturn:
        token = self.token
        if token.kind is TokenKind.ERROR:
            # A stray character says nothing of what belonged there; the lexer's other messages do.
            message = f"{token.value}: {expected}" if token.value.startswith(UNEXPECTED_CHARACTER) else token.value
            raise StatementError(message, token.position)
        message = f"{expected}, found {_described(token)}"
        if token.kind is TokenKind.WORD:
            message += _suggestion(token.value, choices)
        raise StatementError(message, token.position)

    def keyword(self, choices: str | tuple[str, ...], after: str) -> str:
        choices = (choices,) if isinstance(choices, str) else choices
        if self.at(*choices):
            return self.advance().value.lower()
        self.fail(f"expected {_alternatives(choices)} {after}", choices)

    def punctuation(self, char: str, after: str) -> None:
        if self.token.is_punctuation(char):
            self.advance()
            return
        self.fail(f"expected '{char}' {after}")

    # --- the parts of statements ----------------------------------------------------------

    def name(self, what: str, after: str) -> str:
        if self.token.kind in _NAMES:
            return self.advance().value
        self.fail(f"expected {what} {after}")

    def qualified_name(self, what: str, after: str, *, wildcard: bool = False) -> tuple[str | None, str]:
        """``(project, name)`` for ``name`` or ``project.name``; with ``wildcard``, the name may
        also be ``*`` or end in ``*`` (``t_app_*``, the pattern policies know)."""
        project = None
        if not (wildcard and self.token.is_punctuation("*")):
            name = self.name(what, after)
            if not self.token.is_punctuation("."):
                return None, self.pattern_end(name, wildcard)
            self.advance()
            project = name
            if not (wildcard and self.token.is_punctuation("*")):
                return project, self.pattern_end(self.name(what, f"after '{project}.'"), wildcard)
        self.advance()  # the "*"
        return project, "*"

    def pattern_end(self, name: str, wildcard: bool) -> str:
        """``name``, with the ``*`` written straight after it if patterns are allowed here."""
        if wildcard and self.token.is_punctuation("*") and self.token.position == self.consumed_end:
            self.advance()
            return name + "*"
        return name

    def local_name(self, what: str, after: str, why: str) -> str:
        position = self.token.position
        project, name = self.qualified_name(what, after)
        if project is not None:
            raise StatementError(f"{why}: write {name} without '{project}.'", position)
        return name

    def principal(self, after: str) -> str:
        token = self.token
        if token.kind is TokenKind.PRINCIPAL or token.kind is TokenKind.WORD:
            return self.advance().value
        if token.kind is TokenKind.QUOTED_NAME:
            self.advance()
            if "$" in token.value:
                return principal_canonical(token.value, token.position + 1, quoted=True)
            return token.value
        self.fail(f"expected a user (ALIYUN$<account>, RAM$[<owner>:]<user> or a user name) {after}")

    def subject(self, after: str) -> tuple[str, str]:
        kind = self.keyword(("user", "role"), after)
        if kind == "user":
            return kind, self.principal("after USER")
        return kind, self.name("a role name", "after ROLE")

    def columns(self) -> tuple[str, ...]:
        self.punctuation("(", "before the column names")
        columns = [self.name("a column name", "after '('")]
        while self.token.is_punctuation(","):
            self.advance()
            columns.append(self.name("a column name", "after ','"))
        if not self.token.is_punctuation(")"):
            self.fail("expected ',' or ')' after a column name")
        self.advance()
        return tuple(columns)

    def optional_columns(self) -> tuple[str, ...]:
        return self.columns() if self.token.is_punctuation("(") else ()

    def object_type(self, after: str) -> str:
        token = self.token
        if token.kind is not TokenKind.WORD:
            self.fail(f"expected an object type ({', '.join(OBJECT_TYPES)}) {after}")
        try:
            object_type = object_type_canonical(token.value)
        except ValidationError as error:
            raise StatementError(_sentence(error) + _suggestion(token.value, OBJECT_TYPES), token.position) from None
        self.advance()
        return object_type

    def action_tokens(self, after: str) -> list[Token]:
        tokens = [self.name_token("an action", after)]
        while self.token.is_punctuation(","):
            self.advance()
            tokens.append(self.name_token("an action", "after ','"))
        return tokens

    def name_token(self, what: str, after: str) -> Token:
        if self.token.kind in _NAMES:
            return self.advance()
        self.fail(f"expected {what} {after}")

    def level(self, after: str) -> int:
        token = self.token
        if token.kind is TokenKind.INTEGER and _integer_value(token) <= MAX_LEVEL:
            self.advance()
            return int(token.value)
        if token.kind is TokenKind.END:
            raise StatementError(f"expected a label level (0-9) {after}", token.position)
        raise StatementError(f"label level must be 0-9, found {_described(token)}", token.position)

    def days(self, after: str) -> int:
        token = self.token
        if token.kind is not TokenKind.INTEGER:
            self.fail(f"expected a number of days {after}")
        if _integer_value(token) > MAX_DAYS:
            raise StatementError(f"a number of days is at most {MAX_DAYS}", token.position)
        self.advance()
        return int(token.value)

    def boolean(self, after: str) -> bool:
        return self.keyword(("true", "false"), after) == "true"

    def properties(self, known: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """What follows PRIVILEGEPROPERTIES: ``("key"="value", ...)``, keys lowercased."""
        self.punctuation("(", "after PRIVILEGEPROPERTIES")
        pairs: dict[str, str] = {}
        while True:
            key_token = self.token
            if key_token.kind not in (TokenKind.STRING, TokenKind.WORD):
                self.fail(f"expected a property name ({', '.join(known)})")
            key = key_token.value.lower()
            if key not in known:
                raise StatementError(f"unknown property '{shortened(key_token.value)}'; use one of: {', '.join(known)}"
                                     + _suggestion(key, known), key_token.position)
            if key in pairs:
                raise StatementError(f"property '{key}' is given twice", key_token.position)
            self.advance()
            self.punctuation("=", f"after \"{key}\"")
            pairs[key] = self.property_value(key)
            if not self.token.is_punctuation(","):
                break
            self.advance()
        if not self.token.is_punctuation(")"):
            self.fail("expected ',' or ')' after a property")
        self.advance()
        return tuple(pairs.items())

    def property_value(self, key: str) -> str:
        token = self.token
        if token.kind not in (TokenKind.STRING, TokenKind.INTEGER, TokenKind.WORD):
            self.fail(f"expected a value for \"{key}\"")
        value = token.value.strip()
        if key in BOOLEAN_PROPERTIES:
            if value.lower() not in ("true", "false"):
                raise StatementError(f"\"{key}\" is \"true\" or \"false\", not '{shortened(value)}'", token.position)
            value = value.lower()
        elif key == "expires" and not (value.isascii() and value.isdigit() and len(value) <= len(str(MAX_DAYS))):
            raise StatementError(f"\"expires\" is a number of days, not '{shortened(value)}'", token.position)
        elif key == "type" and value.lower() not in ROLE_TYPES:
            raise StatementError(f"a role's type is \"resource\" or \"admin\", not '{shortened(value)}'",
                                 token.position)
        self.advance()
        return value

    def policy_document(self, after: str) -> str:
        token = self.token
        if token.kind is TokenKind.STRING:
            self.advance()
            return token.value
        if token.is_punctuation("{"):
            document = json_object_token(self.text, token.position)
            self.resume_after(document)
            return document.value
        self.fail(f"expected the policy document {after}: a JSON object, in quotes or as it is")

    # --- statements -----------------------------------------------------------------------

    def statement(self) -> ast.Statement:
        start = self.token
        if start.kind is TokenKind.END or start.is_punctuation(";"):
            raise StatementError("empty statement: expected one such as GRANT, ADD USER or SHOW GRANTS",
                                 start.position)
        if start.kind is not TokenKind.WORD:
            self.fail("expected a statement such as GRANT, ADD USER or SHOW GRANTS")
        parse_rest = _STATEMENTS.get(start.value.lower())
        if parse_rest is None:
            suggestion = _suggestion(start.value, tuple(_STATEMENTS))
            raise StatementError(f"unknown statement '{shortened(start.value)}'"
                                 + (suggestion or f"; statements start with {_alternatives(tuple(_STATEMENTS))}"),
                                 start.position)
        self.advance()
        statement = parse_rest(self)
        self.finish()
        return dataclasses.replace(statement, text=self.text[start.position:self.consumed_end].rstrip())

    def finish(self) -> None:
        if self.token.kind is TokenKind.END:
            return
        if not self.token.is_punctuation(";"):
            self.fail("expected the end of the statement")
        following = _NON_SPACE.search(self.text, self.token.end)
        if following is not None:
            raise StatementError("one statement at a time: nothing may follow the ';'", following.start())

    def parse_add(self) -> ast.Statement:
        what = self.keyword(("user", "trustedproject") + PACKAGE_MEMBER_TYPES, "after ADD")
        if what == "user":
            return ast.AddUser(self.principal("after ADD USER"))
        if what == "trustedproject":
            return ast.AddTrustedProject(self.name("a project name", "after ADD TRUSTEDPROJECT"))
        name = self.package_member_name(what, "ADD")
        self.keyword("to", f"after the {what} name")
        self.keyword("package", "after TO")
        package = self.name("a package name", "after TO PACKAGE")
        actions = ()
        if self.accept("with"):
            self.keyword("privileges", "after WITH")
            actions = _canonical_actions(what, self.action_tokens("after WITH PRIVILEGES"))
        return ast.AddToPackage(what, name, package, actions)

    def parse_remove(self) -> ast.Statement:
        what = self.keyword(("user", "trustedproject") + PACKAGE_MEMBER_TYPES, "after REMOVE")
        if what == "user":
            return ast.RemoveUser(self.principal("after REMOVE USER"))
        if what == "trustedproject":
            return ast.RemoveTrustedProject(self.name("a project name", "after REMOVE TRUSTEDPROJECT"))
        name = self.package_member_name(what, "REMOVE")
        self.keyword("from", f"after the {what} name")
        self.keyword("package", "after FROM")
        return ast.RemoveFromPackage(what, name, self.name("a package name", "after FROM PACKAGE"))

    def package_member_name(self, object_type: str, verb: str) -> str:
        return self.local_name(f"a {object_type} name", f"after {verb} {object_type.upper()}",
                               "a package holds objects of its own project")

    def parse_list(self) -> ast.Statement:
        what = self.keyword(("users", "roles", "trustedprojects"), "after LIST")
        return {"users": ast.ListUsers, "roles": ast.ListRoles, "trustedprojects": ast.ListTrustedProjects}[what]()

    def parse_create(self) -> ast.Statement:
        what = self.keyword(("role", "package"), "after CREATE")
        if what == "package":
            return ast.CreatePackage(self.name("a package name", "after CREATE PACKAGE"))
        name = self.name("a role name", "after CREATE ROLE")
        if not self.accept("privilegeproperties"):
            return ast.CreateRole(name)
        properties = dict(self.properties(("type",)))
        return ast.CreateRole(name, properties["type"].lower())

    def parse_drop(self) -> ast.Statement:
        what = self.keyword(("role", "package"), "after DROP")
        if what == "role":
            return ast.DropRole(self.name("a role name", "after DROP ROLE"))
        return ast.DropPackage(self.name("a package name", "after DROP PACKAGE"))

    def parse_delete(self) -> ast.Statement:
        self.keyword("package", "after DELETE")
        return ast.DropPackage(self.name("a package name", "after DELETE PACKAGE"))

    def parse_grant(self) -> ast.Statement:
        # "grant label to x" grants a role called label; a level (or anything else) makes it a label grant.
        if self.at("label") and not (self.peek().is_word("to") or self.peek().is_punctuation(",")):
            self.advance()
            return self.grant_label()
        return self.grant_or_revoke(granting=True)

    def parse_revoke(self) -> ast.Statement:
        if self.at("label") and self.peek().is_word("on"):
            self.advance()
            return self.revoke_label()
        return self.grant_or_revoke(granting=False)

    def grant_or_revoke(self, *, granting: bool) -> ast.Statement:
        verb, preposition = ("GRANT", "to") if granting else ("REVOKE", "from")
        items = self.action_tokens(f"or a role name after {verb}")
        columns_position = self.token.position
        columns = self.optional_columns()
        if not columns and self.at(preposition):
            if len(items) > 1:
                raise StatementError(f"{verb} takes one role at a time; actions need ON <object type> <name> "
                                     f"before {preposition.upper()}", self.token.position)
            self.advance()
            principal = self.principal(f"after {preposition.upper()}")
            return (ast.GrantRole if granting else ast.RevokeRole)(items[0].value, principal)
        self.keyword("on", "after the column names" if columns else "after the actions")
        object_type = self.object_type("after ON")
        actions = _canonical_actions(object_type, items)
        object_project, object_name = self.qualified_name(f"a {object_type} name or '*'",
                                                          f"after {object_type.upper()}", wildcard=True)
        if self.token.is_punctuation("("):
            if columns:
                raise StatementError("the column names come once: after the actions or after the table name",
                                     self.token.position)
            columns_position = self.token.position
            columns = self.columns()
        if columns and object_type != ObjectType.TABLE:
            raise StatementError(f"column names apply to tables only, not to a {object_type}", columns_position)
        self.keyword(preposition, "after the column names" if columns else "after the object name")
        subject_kind, subject = self.subject(f"after {preposition.upper()}")
        properties = self.properties(GRANT_PROPERTIES) if self.accept("privilegeproperties") else ()
        return (ast.Grant if granting else ast.Revoke)(actions, object_type, object_project, object_name, columns,
                                                       subject_kind, subject, properties)

    def grant_label(self) -> ast.Statement:
        level = self.level("after GRANT LABEL")
        self.keyword("on", "after the label level")
        table, columns = self.label_table("ON")
        self.keyword("to", "after the column names" if columns else "after the table name")
        subject_kind, subject = self.subject("after TO")
        days = None
        if self.accept("with"):
            self.keyword("exp", "after WITH")
            days = self.days("after WITH EXP")
        return ast.GrantLabel(level, table, columns, subject_kind, subject, days)

    def revoke_label(self) -> ast.Statement:
        self.keyword("on", "after REVOKE LABEL")
        table, columns = self.label_table("ON")
        self.keyword("from", "after the column names" if columns else "after the table name")
        subject_kind, subject = self.subject("after FROM")
        return ast.RevokeLabel(table, columns, subject_kind, subject)

    def label_table(self, after: str) -> tuple[str, tuple[str, ...]]:
        self.keyword("table", f"after {after}")
        table = self.local_name("a table name", "after TABLE", "labels are set on tables of this project")
        return table, self.optional_columns()

    def parse_describe(self) -> ast.Statement:
        # "describe role" alone describes a table called role.
        if self.at("role") and self.peek().kind in _NAMES:
            self.advance()
            return ast.DescribeRole(self.name("a role name", "after DESCRIBE ROLE"))
        if self.at("package") and self.peek().kind in _NAMES:
            self.advance()
            project, name = self.qualified_name("a package name", "after DESCRIBE PACKAGE")
            return ast.DescribePackage(name, project)
        project, name = self.qualified_name("a table name, ROLE or PACKAGE", "after DESCRIBE")
        return ast.DescribeTable(name, project)

    def parse_show(self) -> ast.Statement:
        what = self.keyword(("grants", "acl", "label", "packages", "securityconfiguration"), "after SHOW")
        if what == "grants":
            return self.show_grants()
        if what == "acl":
            return self.show_acl()
        if what == "label":
            return self.show_label_grants()
        if what == "packages":
            return ast.ShowPackages()
        return ast.ShowSecurityConfiguration()

    def show_grants(self) -> ast.Statement:
        principal = role = None
        if self.accept("for"):
            if self.at("role") and self.peek().kind in _NAMES:
                self.advance()
                role = self.name("a role name", "after FOR ROLE")
            else:
                principal = self.principal("after FOR")
        object_type = object_project = object_name = None
        if self.accept("on"):
            object_type = self.object_type("after ON")
            object_project, object_name = self.qualified_name(f"a {object_type} name", f"after {object_type.upper()}")
        properties = self.properties(REFERENCE_PROPERTIES) if self.accept("privilegeproperties") else ()
        return ast.ShowGrants(principal, role, object_type, object_project, object_name, properties)

    def show_acl(self) -> ast.Statement:
        self.keyword("for", "after SHOW ACL")
        object_project, object_name = self.qualified_name("an object name", "after SHOW ACL FOR")
        object_type = None
        if self.accept("on"):
            self.keyword("type", "after ON")
            object_type = self.object_type("after ON TYPE")
        return ast.ShowAcl(object_project, object_name, object_type)

    def show_label_grants(self) -> ast.Statement:
        level = self.level("after SHOW LABEL") if self.token.kind is TokenKind.INTEGER else None
        self.keyword("grants", "after the label level" if level is not None else "after SHOW LABEL")
        table = principal = None
        properties = ()
        # The reference writes ON TABLE before FOR USER; either order reads the same.
        while True:
            if table is None and self.accept("on"):
                self.keyword("table", "after ON")
                table = self.local_name("a table name", "after ON TABLE", "label grants are on tables of this project")
            elif principal is None and self.accept("for"):
                self.keyword("user", "after FOR")
                principal = self.principal("after FOR USER")
            elif not properties and self.accept("privilegeproperties"):
                properties = self.properties(REFERENCE_PROPERTIES)
            else:
                return ast.ShowLabelGrants(level, table, principal, properties)

    def parse_whoami(self) -> ast.Statement:
        return ast.WhoAmI()

    def parse_purge(self) -> ast.Statement:
        self.keyword("privs", "after PURGE")
        self.keyword("from", "after PURGE PRIVS")
        self.keyword("user", "after PURGE PRIVS FROM")
        return ast.PurgePrivs(self.principal("after PURGE PRIVS FROM USER"))

    def parse_get(self) -> ast.Statement:
        self.keyword("policy", "after GET")
        return ast.GetPolicy(self.optional_policy_role())

    def parse_put(self) -> ast.Statement:
        self.keyword("policy", "after PUT")
        document = self.policy_document("after PUT POLICY")
        return ast.PutPolicy(document, self.optional_policy_role())

    def optional_policy_role(self) -> str | None:
        if not self.accept("on"):
            return None
        self.keyword("role", "after ON")
        return self.name("a role name", "after ON ROLE")

    def parse_set(self) -> ast.Statement:
        if self.at("label") and not self.peek().is_punctuation("="):
            self.advance()
            return self.set_label()
        setting = self.token
        if setting.is_word("projectprotection"):
            self.advance()
            self.punctuation("=", "after ProjectProtection")
            enabled = self.boolean("after ProjectProtection=")
            exception = None
            if self.at("with"):
                if not enabled:
                    raise StatementError("an exception policy goes with ProjectProtection=true", self.token.position)
                self.advance()
                self.keyword("exception", "after WITH")
                exception = self.policy_document("after WITH EXCEPTION")
            return ast.SetProjectProtection(enabled, exception)
        if setting.kind is TokenKind.WORD and setting.value.lower() in FLAGS:
            self.advance()
            name = FLAGS[setting.value.lower()]
            self.punctuation("=", f"after {name}")
            return ast.SetFlag(name, self.boolean(f"after {name}="))
        self.fail(f"expected LABEL, ProjectProtection or one of {', '.join(FLAGS.values())} after SET",
                  ("label", "ProjectProtection") + tuple(FLAGS.values()))

    def set_label(self) -> ast.Statement:
        level = self.level("after SET LABEL")
        self.keyword("to", "after the label level")
        target_kind = self.keyword(("table", "user", "role"), "after TO")
        if target_kind == "user":
            return ast.SetLabel(level, target_kind, self.principal("after TO USER"))
        if target_kind == "role":
            return ast.SetLabel(level, target_kind, self.name("a role name", "after TO ROLE"))
        table = self.local_name("a table name", "after TO TABLE", "labels are set on tables of this project")
        return ast.SetLabel(level, target_kind, table, self.optional_columns())

    def parse_clear(self) -> ast.Statement:
        self.keyword("expired", "after CLEAR")
        self.keyword("grants", "after CLEAR EXPIRED")
        return ast.ClearExpiredGrants()

    def parse_allow(self) -> ast.Statement:
        project, package = self.install_permission("ALLOW")
        label = days = None
        if self.accept("using"):
            self.keyword("label", "after USING")
            label = self.level("after USING LABEL")
        if self.accept("with"):
            self.keyword("exp", "after WITH")
            days = self.days("after WITH EXP")
        return ast.AllowInstall(project, package, label, days)

    def parse_disallow(self) -> ast.Statement:
        return ast.DisallowInstall(*self.install_permission("DISALLOW"))

    def install_permission(self, verb: str) -> tuple[str, str]:
        self.keyword("project", f"after {verb}")
        project = self.name("a project name", f"after {verb} PROJECT")
        self.keyword("to", "after the project name")
        self.keyword("install", "after TO")
        self.keyword("package", "after INSTALL")
        return project, self.name("a package name", "after INSTALL PACKAGE")

    def parse_install(self) -> ast.Statement:
        return ast.InstallPackage(*self.provider_package("INSTALL"))

    def parse_uninstall(self) -> ast.Statement:
        return ast.UninstallPackage(*self.provider_package("UNINSTALL"))

    def provider_package(self, verb: str) -> tuple[str, str]:
        self.keyword("package", f"after {verb}")
        position = self.token.position
        project, package = self.qualified_name("the provider's package, <project>.<package>,",
                                               f"after {verb} PACKAGE")
        if project is None:
            raise StatementError(f"name the provider's package as <project>.{package}", position)
        return project, package

    def parse_setproject(self) -> ast.Statement:
        if self.token.kind is TokenKind.END or self.token.is_punctuation(";"):
            return ast.ShowProjectProperties()
        position = self.token.position
        parts = [self.name("a project property", "after SETPROJECT")]
        while self.token.is_punctuation("."):
            self.advance()
            parts.append(self.name("the rest of the property name", "after '.'"))
        prop = ".".join(parts).lower()
        if prop not in WHITELISTS:
            raise StatementError(f"unknown project property '{shortened(prop)}'; Warden sets "
                                 f"{' or '.join(WHITELISTS)}" + _suggestion(prop, tuple(WHITELISTS)),
                                 position)
        self.punctuation("=", f"after {prop}")
        entries = raw_token(self.text, self.consumed_end)
        self.resume_after(entries)
        return ast.SetIpWhitelist(WHITELISTS[prop], _whitelist_entries(entries))


# The first word of each statement form, and what parses the rest of it.
_STATEMENTS = {
    "add": _Parser.parse_add, "remove": _Parser.parse_remove, "list": _Parser.parse_list,
    "create": _Parser.parse_create, "drop": _Parser.parse_drop, "delete": _Parser.parse_delete,
    "grant": _Parser.parse_grant, "revoke": _Parser.parse_revoke, "describe": _Parser.parse_describe,
    "desc": _Parser.parse_describe, "show": _Parser.parse_show, "whoami": _Parser.parse_whoami,
    "purge": _Parser.parse_purge, "get": _Parser.parse_get, "put": _Parser.parse_put, "set": _Parser.parse_set,
    "clear": _Parser.parse_clear, "allow": _Parser.parse_allow, "disallow": _Parser.parse_disallow,
    "install": _Parser.parse_install, "uninstall": _Parser.parse_uninstall, "setproject": _Parser.parse_setproject,
}


def _canonical_actions(object_type: str, tokens: list[Token]) -> tuple[str, ...]:
    actions = []
    for token in tokens:
        try:
            actions.append(action_canonical(object_type, token.value))
        except ValidationError:
            choices = ACTIONS[object_type] + (ALL,)
            raise StatementError(f"unknown action '{shortened(token.value)}' for {object_type}; use one of: "
                                 f"{', '.join(choices)}" + _suggestion(token.value, choices), token.position) from None
    return tuple(dict.fromkeys(actions))


def _whitelist_entries(raw: Token) -> tuple[str, ...]:
    if not raw.value.strip():
        return ()
    entries = []
    position = raw.position
    for piece in raw.value.split(","):
        entry = piece.strip()
        if not entry:
            raise StatementError("expected an address between the commas", position + len(piece))
        if not _is_whitelist_entry(entry):
            raise StatementError(f"'{shortened(entry)}' is not an IP address, a CIDR block, a range <ip>-<ip> or '*'",
                                 position + len(piece) - len(piece.lstrip()))
        entries.append(entry)
        position += len(piece) + 1
    return tuple(entries)


def _is_whitelist_entry(entry: str) -> bool:
    if entry == "*":
        return True
    try:
        if "/" in entry:
            ipaddress.ip_network(entry, strict=False)
        elif "-" in entry:
            first, last = (ipaddress.ip_address(part.strip()) for part in entry.split("-", 1))
            return first.version == last.version and first <= last
        else:
            ipaddress.ip_address(entry)
    except ValueError:
        return False
    return True


def _integer_value(token: Token) -> int:
    digits = token.value.lstrip("0") or "0"
    # Python refuses to convert very long digit strings; anything this long is out of range anyway.
    return int(digits) if len(digits) <= 20 else MAX_DAYS + 1


def _described(token: Token) -> str:
    if token.kind is TokenKind.END:
        return "the end of the statement"
    if token.kind is TokenKind.STRING:
        return f"the string '{shortened(token.value)}'"
    if token.kind is TokenKind.QUOTED_NAME:
        return f"`{shortened(token.value)}`"
    return f"'{shortened(token.value)}'"


def _alternatives(choices: tuple[str, ...]) -> str:
    spelled = [choice.upper() if choice.islower() else choice for choice in choices]
    return spelled[0] if len(spelled) == 1 else f"{', '.join(spelled[:-1])} or {spelled[-1]}"


def _suggestion(word: str, choices: tuple[str, ...]) -> str:
    """"; did you mean 'x'?" for a near miss among ``choices``, else ""."""
    if not choices or len(word) > 40:  # a long run of garbage resembles nothing; spare difflib the work
        return ""
    by_lowercase = {choice.lower(): choice for choice in choices}
    matches = difflib.get_close_matches(word.lower(), by_lowercase, n=1, cutoff=0.7)
    return f"; did you mean '{by_lowercase[matches[0]]}'?" if matches else ""


def _sentence(error: ValidationError) -> str:
    """A ValidationError's message in the parser's style: lowercase start, no full stop."""
    message = " ".join(error.messages).rstrip(".")
    return message[:1].lower() + message[1:]
