"""Hooks that higher apps register into (design.md: a lower app that must react to a higher
one offers a hook, not an import).

``on_security_changed``: callables ``hook(*, project, actor, summary)``, called by
``services.security_version_bump`` inside the transaction of any change to who may do what
in ``project``, after the project's ``security_version`` is bumped. The permissions app
records the change as a version of the project's security state here. A hook that raises
rolls the change back.
"""

from collections.abc import Callable

on_security_changed: list[Callable[..., None]] = []


def security_changed(*, project, actor, summary: str) -> None:
    for hook in list(on_security_changed):
        hook(project=project, actor=actor, summary=summary)
