"""What ``authorize`` is asked and what it answers (shared/design.md "Access decisions").

The rules themselves are written out in ``apps.permissions.reference``; the fast engine that
applies them is ``apps.permissions.engine``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from apps.permissions.actions import action_canonical, object_type_canonical
from apps.permissions.conditions import RequestContext


class Step(StrEnum):
    """The steps of a decision, in the order they run."""

    AUTHENTICATION = "authentication"
    IP_WHITELIST = "ip_whitelist"
    PROJECT_PROTECTION = "project_protection"
    LABEL_SECURITY = "label_security"
    POLICY = "policy"
    ACL = "acl"
    PACKAGE = "package"
    DEFAULT = "default"


class Outcome(StrEnum):
    PASS = "pass"
    SKIP = "skip"
    ALLOW = "allow"
    DENY = "deny"


NETWORKS = ("ip", "vpc")
# Label Security reads these actions' columns (No-ReadUp) and checks writes of Update (No-WriteDown).
READ_ACTIONS = frozenset({"Select", "Download"})
WRITE_ACTIONS = frozenset({"Update"})


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One access to decide. ``project`` owns the object; ``via_project`` is the project the
    request runs in when that is another one (reading a provider's table through an installed
    package); ``destination_project`` is where the data goes when it leaves ``project``;
    ``read_level`` is, for a write, the highest label of the data the statement read."""

    principal: str
    project: str
    action: str
    object_type: str
    object_name: str
    context: RequestContext
    columns: tuple[str, ...] = ()
    network: str = "ip"
    destination_project: str | None = None
    via_project: str | None = None
    read_level: int | None = None

    def __post_init__(self):
        object_type = object_type_canonical(self.object_type)
        set_field = object.__setattr__
        set_field(self, "object_type", object_type)
        set_field(self, "action", action_canonical(object_type, self.action, field="action"))
        # Columns are stored lowercase (facts); a column asked for twice is checked once.
        set_field(self, "columns", tuple(dict.fromkeys(column.lower() for column in self.columns)))
        if self.context.current_time is None:
            raise ValueError("An access request needs context.current_time: grants and labels expire.")
        if self.network not in NETWORKS:
            raise ValueError(f"network is one of {', '.join(NETWORKS)}, not {self.network!r}.")
        if self.via_project == self.project:
            set_field(self, "via_project", None)
        # Exception policies may test the destination (odps:DestinationProject) in a condition.
        if self.destination_project is not None and self.context.destination_project is None:
            set_field(self, "context", dataclasses.replace(self.context,
                                                           destination_project=self.destination_project))

    @property
    def crosses_projects(self) -> bool:
        """The principal works in another project than the one owning the object."""
        return self.via_project is not None

    @property
    def object_label(self) -> str:
        return f"{self.object_type} {self.project}.{self.object_name}"


class TraceStep(NamedTuple):
    """One step that ran: its outcome, why, and the rule it matched (grant id, policy
    statement, label levels, package, protection exception...)."""

    step: Step
    outcome: Outcome
    detail: str
    rule: dict | None = None

    def as_dict(self) -> dict:
        # The engine shares its rule dicts between decisions; what leaves it is a copy.
        return {"step": str(self.step), "outcome": str(self.outcome), "detail": self.detail,
                "rule": copy.deepcopy(self.rule)}


@dataclass(frozen=True, slots=True)
class Decision:
    """``step`` is the step that decided; ``trace`` holds every step that ran, in order, each
    with the rule it matched; ``denied_columns`` the columns a label or the ACL refused."""

    allowed: bool
    step: Step
    reason: str
    trace: tuple[TraceStep, ...]
    denied_columns: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {
            "allowed": self.allowed,
            "step": str(self.step),
            "reason": self.reason,
            "denied_columns": list(self.denied_columns),
            "trace": [step.as_dict() for step in self.trace],
        }
