"""Snapshots in the running portal are never stale: a change committed by another process is
seen by the next decision here, and an unchanged project reuses its compiled snapshot."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from apps.permissions import runtime
from apps.permissions.conditions import RequestContext
from apps.permissions.decision import AccessRequest
from apps.tenancy.services import member_add, security_version_bump
from tests.factories import make_owner, make_project, make_subaccount
from tests.permissions.services_world import make_table
from tests.processes import environment_of_this_test

BASE_DIR = Path(settings.BASE_DIR)

GRANT_IN_ANOTHER_PROCESS = """
from django.db import transaction
from apps.permissions.models import Grant
from apps.tenancy.models import Project
from apps.tenancy.services import security_version_bump
from django.contrib.auth import get_user_model
project = Project.objects.get(name={project!r})
with transaction.atomic():
    if {grant}:
        Grant.objects.create(project=project, user=get_user_model().objects.get(username={user!r}),
                             object_type="table", object_name="customers", actions=["Select"])
    else:
        Grant.objects.filter(project=project).delete()
    security_version_bump(project, summary="changed by another process")
"""


def _in_another_process(code: str) -> None:
    env = environment_of_this_test()
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _select(user, project) -> AccessRequest:
    return AccessRequest(principal=user.principal_name, project=project.name, action="Select", object_type="table",
                         object_name="customers", columns=("mobile",),
                         context=RequestContext(current_time=timezone.now()))


@pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "warehouse"])
def test_a_change_committed_by_another_process_is_seen_by_the_next_decision():
    owner = make_owner()
    project = make_project(owner)
    bob = make_subaccount(owner)
    member_add(actor=owner, project=project, user=bob)
    make_table(project, "customers", columns=("mobile",))
    security_version_bump(project, summary="the table appears")

    denied = runtime.decide(_select(bob, project))
    assert not denied.allowed and denied.step == "default"
    assert runtime.project_snapshot(project.name) is runtime.project_snapshot(project.name)

    _in_another_process(GRANT_IN_ANOTHER_PROCESS.format(project=project.name, user=bob.username, grant=True))
    allowed = runtime.decide(_select(bob, project))
    assert allowed.allowed and allowed.step == "acl"

    _in_another_process(GRANT_IN_ANOTHER_PROCESS.format(project=project.name, user=bob.username, grant=False))
    assert not runtime.decide(_select(bob, project)).allowed
