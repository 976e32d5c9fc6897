"""What a security statement says, one frozen dataclass per statement form.

Fields are plain values (strings, ints, bools, tuples, None) so that the executor, the tests
and the audit log can use them as they are. Names keep the case they were written in; object
types and actions are canonical (``apps.permissions.actions``); principals keep their name
with the ALIYUN$ / RAM$ prefix in capitals, and a bare name stands for a user of this tenant.
``object_project`` is None when a name has no ``project.`` prefix.

``kind`` is the class name in snake_case (``AddUser`` → ``add_user``); ``reads_only`` marks
the statements that change nothing (list, show, describe, get, whoami). ``text`` is the
statement as written, without its semicolon; it takes no part in equality.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True)
class Statement:
    kind: ClassVar[str] = "statement"
    reads_only: ClassVar[bool] = False
    text: str = field(default="", compare=False, repr=False, kw_only=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.kind = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


# --- users and roles (reference §1) -------------------------------------------------------

@dataclass(frozen=True)
class AddUser(Statement):
    principal: str


@dataclass(frozen=True)
class RemoveUser(Statement):
    principal: str


@dataclass(frozen=True)
class ListUsers(Statement):
    reads_only = True


@dataclass(frozen=True)
class CreateRole(Statement):
    name: str
    role_type: str = "resource"  # or "admin"


@dataclass(frozen=True)
class DropRole(Statement):
    name: str


@dataclass(frozen=True)
class ListRoles(Statement):
    reads_only = True


@dataclass(frozen=True)
class GrantRole(Statement):
    role: str
    principal: str


@dataclass(frozen=True)
class RevokeRole(Statement):
    role: str
    principal: str


@dataclass(frozen=True)
class DescribeRole(Statement):
    reads_only = True
    name: str


@dataclass(frozen=True)
class ShowGrants(Statement):
    """``show grants [for <principal> | for role <role>] [on <type> <name>] [privilegeproperties(...)]``;
    with neither principal nor role, the caller's own grants."""

    reads_only = True
    principal: str | None = None
    role: str | None = None
    object_type: str | None = None
    object_project: str | None = None
    object_name: str | None = None
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ShowAcl(Statement):
    reads_only = True
    object_project: str | None
    object_name: str
    object_type: str | None = None


@dataclass(frozen=True)
class WhoAmI(Statement):
    reads_only = True


@dataclass(frozen=True)
class PurgePrivs(Statement):
    principal: str


# --- ACL and policy grants (§2, §3, §6) ---------------------------------------------------

@dataclass(frozen=True)
class Grant(Statement):
    """An ACL grant, or a policy entry when ``properties`` hold ("policy", "true"). ``object_name``
    is "*" for every object of the type; ``columns`` is empty unless the grant is column-level."""

    actions: tuple[str, ...]
    object_type: str
    object_project: str | None
    object_name: str
    columns: tuple[str, ...]
    subject_kind: str  # "user" or "role"
    subject: str
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Revoke(Statement):
    actions: tuple[str, ...]
    object_type: str
    object_project: str | None
    object_name: str
    columns: tuple[str, ...]
    subject_kind: str
    subject: str
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class GetPolicy(Statement):
    reads_only = True
    role: str | None = None  # None: the project policy


@dataclass(frozen=True)
class PutPolicy(Statement):
    document_text: str
    role: str | None = None


# --- project switches (§2, §4, §5) --------------------------------------------------------

@dataclass(frozen=True)
class ShowSecurityConfiguration(Statement):
    reads_only = True


@dataclass(frozen=True)
class SetFlag(Statement):
    """``set <name>=true|false`` for LabelSecurity, CheckPermissionUsingACL,
    CheckPermissionUsingPolicy, ObjectCreatorHasAccessPermission,
    ObjectCreatorHasGrantPermission and Warden's NoWriteDown; ``name`` in that spelling."""

    name: str
    value: bool


@dataclass(frozen=True)
class SetProjectProtection(Statement):
    enabled: bool
    exception_policy_text: str | None = None


# --- LabelSecurity (§4) -------------------------------------------------------------------

@dataclass(frozen=True)
class SetLabel(Statement):
    level: int
    target_kind: str  # "table", "user" or "role"
    name: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class GrantLabel(Statement):
    level: int
    table: str
    columns: tuple[str, ...]
    subject_kind: str
    subject: str
    days: int | None = None  # None: MaxCompute's default of 180 days


@dataclass(frozen=True)
class RevokeLabel(Statement):
    table: str
    columns: tuple[str, ...]
    subject_kind: str
    subject: str


@dataclass(frozen=True)
class ClearExpiredGrants(Statement):
    pass


@dataclass(frozen=True)
class ShowLabelGrants(Statement):
    reads_only = True
    level: int | None = None
    table: str | None = None
    principal: str | None = None
    properties: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DescribeTable(Statement):
    reads_only = True
    name: str
    project: str | None = None


# --- packages (§6) ------------------------------------------------------------------------

@dataclass(frozen=True)
class CreatePackage(Statement):
    name: str


@dataclass(frozen=True)
class AddToPackage(Statement):
    object_type: str
    name: str
    package: str
    actions: tuple[str, ...] = ()  # empty: the package defaults of apps.permissions.actions


@dataclass(frozen=True)
class RemoveFromPackage(Statement):
    object_type: str
    name: str
    package: str


@dataclass(frozen=True)
class AllowInstall(Statement):
    project: str
    package: str
    label: int | None = None
    days: int | None = None


@dataclass(frozen=True)
class DisallowInstall(Statement):
    project: str
    package: str


@dataclass(frozen=True)
class DropPackage(Statement):
    name: str


@dataclass(frozen=True)
class ShowPackages(Statement):
    reads_only = True


@dataclass(frozen=True)
class DescribePackage(Statement):
    reads_only = True
    name: str
    project: str | None = None  # the provider, for an installed package


@dataclass(frozen=True)
class InstallPackage(Statement):
    project: str
    package: str


@dataclass(frozen=True)
class UninstallPackage(Statement):
    project: str
    package: str


# --- protection, trusted projects, IP whitelists (§5, §7) ---------------------------------

@dataclass(frozen=True)
class AddTrustedProject(Statement):
    project: str


@dataclass(frozen=True)
class RemoveTrustedProject(Statement):
    project: str


@dataclass(frozen=True)
class ListTrustedProjects(Statement):
    reads_only = True


@dataclass(frozen=True)
class SetIpWhitelist(Statement):
    network: str  # "ip" (Internet and cloud interconnect) or "vpc"; not "kind", the class's own
    entries: tuple[str, ...]  # addresses, CIDR blocks, "a-b" ranges, "*"; empty clears the list


@dataclass(frozen=True)
class ShowProjectProperties(Statement):
    reads_only = True
