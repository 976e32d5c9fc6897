"""The built-in roles: what each may do in the portal and to a project's objects.

Who may do what follows MaxCompute (shared/reference/maxcompute-security.md §0, §1): the
project owner may do everything and alone assigns Super_Administrator and Admin;
Super_Administrator has every object and management permission; Admin has every object
permission and basic management (members, roles) but not the security configuration.

The DataWorks workspace roles are project roles whose object privileges depend on the
project's environment: in a dev project developers write and debug, in its prod pair they
only read, and deployers make the changes.
"""

from django.db import models


class Capability(models.TextChoices):
    VIEW = "view", "See the project"
    MANAGE_MEMBERS = "manage_members", "Add and remove members"
    MANAGE_ROLES = "manage_roles", "Create, drop, assign and unassign roles"
    ASSIGN_ADMIN_ROLES = "assign_admin_roles", "Assign Super_Administrator and Admin"
    MANAGE_SECURITY = "manage_security", "Change the project's security configuration"
    AUDIT = "audit", "Read the project's audit log"


ALL_CAPABILITIES = frozenset(Capability.values)
ADMIN_CAPABILITIES = frozenset({Capability.VIEW, Capability.MANAGE_MEMBERS, Capability.MANAGE_ROLES})

SUPER_ADMINISTRATOR = "super_administrator"
ADMIN = "admin"
ADMIN_ROLE_NAMES = frozenset({SUPER_ADMINISTRATOR, ADMIN})


class WorkspaceRole(models.TextChoices):
    ADMINISTRATOR = "role_project_admin", "Workspace administrator"
    SECURITY_ADMINISTRATOR = "role_project_security", "Security administrator"
    DEVELOPER = "role_project_dev", "Developer"
    OPERATOR = "role_project_pe", "Operator"
    DEPLOYER = "role_project_deploy", "Deployer"
    VISITOR = "role_project_guest", "Visitor"
    AUDITOR = "role_project_auditor", "Auditor"


def _privileges(**by_object_type) -> list[dict]:
    return [
        {"object_type": object_type, "name": "*", "actions": list(actions)}
        for object_type, actions in by_object_type.items()
        if actions
    ]


READ_ONLY = _privileges(project=["List"], table=["Describe", "Select"])
METADATA_ONLY = _privileges(project=["List"], table=["Describe"])
FULL = _privileges(
    project=["List", "CreateTable", "CreateInstance", "CreateFunction", "CreateResource"],
    table=["All"], function=["All"], resource=["All"], instance=["All"],
)

# (privileges in a dev project, privileges in a prod project)
WORKSPACE_ROLE_PRIVILEGES = {
    WorkspaceRole.ADMINISTRATOR: (FULL, FULL),
    WorkspaceRole.SECURITY_ADMINISTRATOR: (METADATA_ONLY, METADATA_ONLY),
    WorkspaceRole.DEVELOPER: (FULL, READ_ONLY),
    WorkspaceRole.OPERATOR: (
        _privileges(project=["List", "CreateInstance"], table=["Describe", "Select"], instance=["All"]),
        _privileges(project=["List", "CreateInstance"], table=["Describe", "Select", "Update"], instance=["All"]),
    ),
    WorkspaceRole.DEPLOYER: (
        METADATA_ONLY,
        _privileges(
            project=["List", "CreateTable", "CreateFunction", "CreateResource"],
            table=["Describe", "Alter", "Update", "Drop"], function=["All"], resource=["All"],
        ),
    ),
    WorkspaceRole.VISITOR: (METADATA_ONLY, METADATA_ONLY),
    WorkspaceRole.AUDITOR: (METADATA_ONLY, METADATA_ONLY),
}

BUILTIN_ROLE_PRIVILEGES = {SUPER_ADMINISTRATOR: FULL, ADMIN: FULL}

ROLE_CAPABILITIES = {
    SUPER_ADMINISTRATOR: ALL_CAPABILITIES - {Capability.ASSIGN_ADMIN_ROLES},
    ADMIN: ADMIN_CAPABILITIES,
    WorkspaceRole.ADMINISTRATOR: ADMIN_CAPABILITIES,
    WorkspaceRole.SECURITY_ADMINISTRATOR: frozenset({Capability.VIEW, Capability.MANAGE_SECURITY}),
    WorkspaceRole.AUDITOR: frozenset({Capability.VIEW, Capability.AUDIT}),
}


def workspace_role_privileges(role: str, environment: str) -> list[dict]:
    dev, prod = WORKSPACE_ROLE_PRIVILEGES[role]
    return dev if environment == "dev" else prod
