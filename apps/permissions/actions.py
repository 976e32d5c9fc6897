"""MaxCompute's object types and the actions each one has
(shared/reference/maxcompute-security.md §2).

Actions are matched case-insensitively everywhere (statements, policies, the API); this
module gives each its one canonical spelling. ``All`` expands to every action of its object
type; ``Download`` is the Tunnel-download action tables also have.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError


class ObjectType:
    PROJECT = "project"
    TABLE = "table"
    FUNCTION = "function"
    RESOURCE = "resource"
    INSTANCE = "instance"
    PACKAGE = "package"


OBJECT_TYPES = (ObjectType.PROJECT, ObjectType.TABLE, ObjectType.FUNCTION, ObjectType.RESOURCE,
                ObjectType.INSTANCE, ObjectType.PACKAGE)

ALL = "All"

ACTIONS: dict[str, tuple[str, ...]] = {
    ObjectType.PROJECT: ("Read", "Write", "List", "CreateTable", "CreateInstance", "CreateFunction",
                         "CreateResource"),
    ObjectType.TABLE: ("Describe", "Select", "Alter", "Update", "Drop", "ShowHistory", "Download"),
    ObjectType.FUNCTION: ("Read", "Write", "Delete", "Execute"),
    ObjectType.RESOURCE: ("Read", "Write", "Delete"),
    ObjectType.INSTANCE: ("Read", "Write"),
    ObjectType.PACKAGE: ("Read",),
}

# "All" on a table means every action but Download, which MaxCompute grants on its own.
_ALL_EXCLUDES = {ObjectType.TABLE: {"Download"}}

# Project Write is the owner's alone: granting it is refused.
NOT_GRANTABLE = {ObjectType.PROJECT: {"Write"}}

# What package members give when added without "with privileges".
PACKAGE_DEFAULT_ACTIONS = {ObjectType.TABLE: ("Describe", "Select"), ObjectType.FUNCTION: ("Read", "Execute"),
                           ObjectType.RESOURCE: ("Read",), ObjectType.INSTANCE: ("Read",)}

_CANONICAL = {
    object_type: {action.lower(): action for action in actions + (ALL,)} for object_type, actions in ACTIONS.items()
}
# Every action of any object type, for policies, whose actions name no object type.
EVERY_ACTION = {action.lower(): action for actions in ACTIONS.values() for action in actions}


def object_type_canonical(value: str, field: str = "object_type") -> str:
    lowered = (value or "").strip().lower()
    if lowered not in ACTIONS:
        raise ValidationError({field: f"Unknown object type {value!r}; use one of: {', '.join(OBJECT_TYPES)}."})
    return lowered


def action_canonical(object_type: str, action: str, field: str = "actions") -> str:
    """The canonical spelling of ``action`` on ``object_type`` (``All`` stays ``All``)."""
    canonical = _CANONICAL[object_type].get((action or "").strip().lower())
    if canonical is None:
        raise ValidationError({field: f"{action!r} is no {object_type} action; use one of: "
                                      f"{', '.join(ACTIONS[object_type] + (ALL,))}."})
    return canonical


def actions_expand(object_type: str, actions) -> frozenset[str]:
    """The canonical actions ``actions`` stand for, with ``All`` expanded."""
    expanded = set()
    for action in actions:
        canonical = action_canonical(object_type, action)
        if canonical == ALL:
            expanded |= set(ACTIONS[object_type]) - _ALL_EXCLUDES.get(object_type, set())
        else:
            expanded.add(canonical)
    return frozenset(expanded)
