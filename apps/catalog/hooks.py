"""Hooks that higher apps register into; the catalog imports none of them (design.md: a
lower app that must react to a higher one offers a hook, not an import).

``on_objects_dropped``: callables ``hook(*, data_source, tables, columns)``, called inside
the transaction that marks catalog objects dropped (a harvest that no longer finds them, or
the deletion of their data source). ``tables`` are the Table rows newly marked dropped;
``columns`` are every Column row newly marked dropped, including the columns of those
tables. The permissions app registers the removal of grants and labels here, as MaxCompute
drops them with the object. A hook that raises rolls the whole harvest back.

``table_access_panels``: callables ``panel(request, table) -> str | None``, each returning
rendered HTML for the table page's "who has access" section (None: nothing to show). The
permissions app registers the engine's answer, column by column.
"""

from collections.abc import Callable

on_objects_dropped: list[Callable[..., None]] = []
table_access_panels: list[Callable[..., str | None]] = []


def objects_dropped(*, data_source, tables, columns) -> None:
    if not tables and not columns:
        return
    for hook in list(on_objects_dropped):
        hook(data_source=data_source, tables=list(tables), columns=list(columns))


def table_access_html(request, table) -> list[str]:
    return [html for panel in list(table_access_panels) if (html := panel(request, table))]
