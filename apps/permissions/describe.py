"""Facts (``apps.permissions.facts``) as lines in the statement language's words, for
version histories, diffs and rollback reports: ``grant Select on table customers (id) to
user RAM$acme:bob``, ``set LabelSecurity=true``, ``put policy on role analysts``.

A line names what a fact says, not how to type it again: a policy's document is summed up
by its statements, a grant's condition is shown as its JSON. The kinds of the higher apps'
facts are described by what they register in ``hooks.fact_describers``.
"""

from __future__ import annotations

import json

from apps.permissions import hooks

WHITELIST_PROPERTIES = {"ip": "odps.security.ip.whitelist", "vpc": "odps.security.vpc.whitelist"}


def _subject(subject: dict) -> str:
    return f"user {subject['user']}" if subject.get("user") else f"role {subject['role']}"


def _columns(columns) -> str:
    return f" ({', '.join(columns)})" if columns else ""


def _until(expires: str | None) -> str:
    return f" until {expires}" if expires else ""


def _statements(document: str) -> str:
    try:
        count = len(json.loads(document).get("Statement", []))
    except (ValueError, AttributeError, TypeError):
        return ""
    return f" ({count} statement{'' if count == 1 else 's'})"


def _grant(fact: dict) -> str:
    line = (f"grant {', '.join(fact['actions'])} on {fact['object_type']} {fact['object']}{_columns(fact['columns'])}"
            f" to {_subject(fact['subject'])}")
    if fact.get("package") and fact["object_type"] != "package":
        line += f" of package {fact['package']}"
    if fact.get("condition"):
        line += f" when {json.dumps(fact['condition'], sort_keys=True, separators=(',', ':'))}"
    return line + _until(fact.get("expires"))


def _label(fact: dict) -> str:
    column = f"({fact['column']})" if fact.get("column") else ""
    return f"set label {fact['level']} to table {fact['table']}{column}"


def _allowance(fact: dict) -> str:
    label = f" using label {fact['label']}" if fact.get("label") else ""
    return f"allow project {fact['project']} to install package {fact['package']}{label}{_until(fact.get('expires'))}"


def _role(fact: dict) -> str:
    if fact.get("builtin"):
        return f"role {fact['name']} (built-in)"
    kind = ' with privilegeproperties("type"="admin")' if fact.get("type") == "admin" else ""
    return f"create role {fact['name']}{kind}"


def _whitelist(fact: dict) -> str:
    scope = "tenant " if fact["scope"] == "tenant" else ""
    return f"setproject {scope}{WHITELIST_PROPERTIES[fact['network']]}={','.join(fact['entries'])}"


_LINES = {
    "project": lambda fact: f"project {fact['name']} of tenant {fact['tenant']}, owner {fact['owner']} "
                            f"({fact['environment']})",
    "setting": lambda fact: f"set {fact['name']}={'true' if fact['value'] else 'false'}",
    "protection_exception": lambda fact: f"set ProjectProtection exception policy{_statements(fact['document'])}",
    "ip_whitelist": _whitelist,
    "trusted_project": lambda fact: f"add trustedproject {fact['project']}",
    "member": lambda fact: f"add user {fact['principal']}",
    "role": _role,
    "role_member": lambda fact: f"grant role {fact['role']} to {fact['principal']}",
    "object": lambda fact: f"table {fact['name']}{_columns(fact['columns'])}",
    "grant": _grant,
    "policy": lambda fact: (f"put policy on {'role ' + fact['role'] if fact.get('role') else 'project'}"
                            f"{_statements(fact['document'])}"),
    "clearance": lambda fact: f"set label {fact['level']} to {_subject(fact['subject'])}",
    "label": _label,
    "label_grant": lambda fact: (f"grant label {fact['level']} on table {fact['table']}{_columns(fact['columns'])} "
                                 f"to {_subject(fact['subject'])}{_until(fact.get('expires'))}"),
    "package": lambda fact: f"create package {fact['name']}",
    "package_object": lambda fact: (f"add {fact['object_type']} {fact['object']} to package {fact['package']} "
                                    f"with privileges {', '.join(fact['actions'])}"),
    "package_allowance": _allowance,
    "package_install": lambda fact: f"install package {fact['provider']}.{fact['package']}",
}


def fact_line(fact: dict) -> str:
    """One fact as one line: a higher app's kind as its ``hooks.fact_describers`` says, a kind
    nobody describes as its JSON, so nothing is ever hidden."""
    describe = _LINES.get(fact.get("kind")) or hooks.fact_describers.get(fact.get("kind"))
    if describe is None:
        return json.dumps(fact, sort_keys=True)
    return describe(fact)


def fact_lines(facts: list[dict]) -> list[str]:
    """Lines of ``facts``, sorted so two lists of lines read side by side."""
    return sorted(fact_line(fact) for fact in facts)
