"""What the permissions app hooks into lower apps: when the catalog drops objects, as in
MaxCompute, every ACL grant and label grant on them goes (a new table of the same name starts
with none; policies stay, they may name objects that do not exist); and the project page's
member list shows each member's clearance.

And the hook higher apps register into, ``statement_extensions``: statements of their own for
the security console (the masking app's ``CREATE ROW FILTER``). Each is an object with

- ``matches(text) -> bool``: whether the statement is one of its own; the first extension
  that claims a text runs it, before the console's own parser sees it;
- ``kind(text) -> str``: the statement's kind for the audit log (``create_row_filter``);
- ``run(*, actor, project, text, request=None) -> str``: runs it and returns the console's
  output. It raises ``statements.StatementError`` (with a position) for text that does not
  parse, ``ValidationError`` for invalid input and ``PermissionDenied`` for a refusal, which
  the console reports as it does its own; any of them rolls the statement's changes back.

And the hooks through which higher apps put their own security state into the project's facts
(``apps.permissions.facts``), so that the versions, their diffs and the rollback report show
it (the masking app's rules, unmask grants and row filters):

- ``security_fact_providers``: callables ``provider(project) -> list[dict]``, each dict a fact
  with a ``kind`` of the provider's own (never one of the permissions app's). They are called
  in the order registered, after the permissions app's own facts, and must return their facts
  in a stable order, without volatile fields (update times), in a constant number of queries.
  The engine and the reference evaluator ignore these kinds; a rollback does not restore them;
- ``fact_describers``: kind -> ``describe(fact) -> str``, the fact as one line for version
  histories and diffs (without one, a fact shows as its JSON);
- ``fact_rollback_reasons``: kind -> why a rollback leaves facts of that kind as they are,
  for the rollback report (for instance where they are changed instead).
"""

from collections.abc import Callable

from django.urls import reverse

from apps import audit
from apps.permissions import selectors
from apps.permissions.models import Grant, LabelGrant

statement_extensions: list = []
security_fact_providers: list[Callable[..., list[dict]]] = []
fact_describers: dict[str, Callable[[dict], str]] = {}
fact_rollback_reasons: dict[str, str] = {}


def statement_extension(text: str):
    """The extension that runs ``text``, or None: the console's own language."""
    return next((extension for extension in list(statement_extensions) if extension.matches(text)), None)


def objects_dropped(*, data_source, tables, columns) -> None:
    project = data_source.project
    table_ids = [table.pk for table in tables]
    removed = Grant.objects.filter(table_id__in=table_ids).delete()[0]
    removed += LabelGrant.objects.filter(table_id__in=table_ids).delete()[0]
    dropped_columns = {}
    for column in columns:
        if column.table_id not in table_ids:
            dropped_columns.setdefault(column.table_id, set()).add(column.name)
    for table_id, names in dropped_columns.items():
        for model in (Grant, LabelGrant):
            for grant in model.objects.filter(table_id=table_id, columns__overlap=sorted(names)):
                remaining = [name for name in grant.columns if name not in names]
                if remaining:
                    grant.columns = remaining
                    grant.save(update_fields=["columns"])
                else:
                    grant.delete()
                removed += 1
    if removed:
        # The harvest that dropped the objects bumps the project's security version.
        audit.record(None, "permissions.grants_dropped_with_objects", data_source, project=project,
                     details={"tables": sorted(table.name for table in tables)[:100],
                              "columns": len(columns),
                              "grants_removed": removed})


def member_clearance_badges(*, project, users) -> dict:
    """The project page's member list shows each member's LabelSecurity clearance, linking to
    the labels page where it is set."""
    url = reverse("permissions:security-labels", kwargs={"name": project.name})
    levels = selectors.clearances_of(project=project, users=users)
    return {user_id: (f"clearance L{level}", url) for user_id, level in levels.items()}
