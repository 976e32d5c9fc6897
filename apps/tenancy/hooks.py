"""Hooks that higher apps register into (design.md: a lower app that must react to a higher
one offers a hook, not an import).

``on_security_changed``: callables ``hook(*, project, actor, summary)``, called by
``services.security_version_bump`` inside the transaction of any change to who may do what
in ``project``, after the project's ``security_version`` is bumped. The permissions app
records the change as a version of the project's security state here. A hook that raises
rolls the change back.

``member_badges``: callables ``hook(*, project, users) -> {user_id: (text, url)}``, called by
the project page for its member list; the permissions app shows each member's LabelSecurity
clearance there.
"""

from collections.abc import Callable

on_security_changed: list[Callable[..., None]] = []
member_badges: list[Callable[..., dict]] = []


def security_changed(*, project, actor, summary: str) -> None:
    for hook in list(on_security_changed):
        hook(project=project, actor=actor, summary=summary)


def badges_of_members(*, project, users) -> dict[int, list[tuple[str, str]]]:
    badges: dict[int, list[tuple[str, str]]] = {}
    for hook in list(member_badges):
        for user_id, badge in hook(project=project, users=users).items():
            badges.setdefault(user_id, []).append(badge)
    return badges
