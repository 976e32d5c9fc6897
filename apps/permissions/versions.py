"""Versions of a project's security state.

Every change bumps the project's ``security_version`` (``tenancy.services.
security_version_bump``), whose hook lands here: the project's facts are read anew and
compared with those of the previous version, and the difference, if any, is stored as the
next ``SecurityVersion`` (the facts it added and removed). Version numbers count changes
of the rules (1, 2, 3, ...); ``security_version`` counts every bump, harvests included,
and only tells snapshots they are stale. The latest facts are kept in
``SecurityState`` so the next change has something to compare with; the facts of any
earlier version are the latest ones with the later changes undone.
"""

from __future__ import annotations

from apps.permissions.facts import fact_key
from apps.permissions.models import SecurityState, SecurityVersion
from apps.permissions.selectors import security_facts
from apps.tenancy.models import Project

# The catalog's tables come and go with harvests; they are what the rules refer to, not rules.
UNVERSIONED_KINDS = frozenset({"object"})


def _difference(before: list[dict], after: list[dict]) -> tuple[list[dict], list[dict]]:
    before_keys = {fact_key(fact): fact for fact in before}
    after_keys = {fact_key(fact): fact for fact in after}
    added = [fact for key, fact in after_keys.items() if key not in before_keys]
    removed = [fact for key, fact in before_keys.items() if key not in after_keys]
    return added, removed


def version_record(*, project: Project, actor, summary: str) -> SecurityVersion | None:
    """Record the project's state after a change as its next version. A change that left
    every versioned fact as it was (a harvest that only saw new comments) makes none."""
    facts = [fact for fact in security_facts(project) if fact["kind"] not in UNVERSIONED_KINDS]
    state = SecurityState.objects.select_for_update().filter(project=project).first()
    added, removed = _difference(state.facts if state else [], facts)
    if state is not None and not added and not removed:
        return None
    number = (state.version if state else 0) + 1
    if state is None:
        SecurityState.objects.create(project=project, version=number, facts=facts)
    else:
        state.version, state.facts = number, facts
        state.save(update_fields=["version", "facts"])
    return SecurityVersion.objects.create(project=project, number=number, actor=actor, summary=summary[:500],
                                          added=added, removed=removed)


def facts_at(project: Project, number: int) -> list[dict]:
    """The project's facts as of version ``number``: the latest facts with every later
    version's change undone."""
    state = SecurityState.objects.filter(project=project).first()
    if state is None:
        raise SecurityVersion.DoesNotExist(f"{project.name} has no recorded versions.")
    if not SecurityVersion.objects.filter(project=project, number=number).exists():
        raise SecurityVersion.DoesNotExist(f"{project.name} has no version {number}.")
    facts = {fact_key(fact): fact for fact in state.facts}
    for version in SecurityVersion.objects.filter(project=project, number__gt=number).order_by("-number"):
        for fact in version.added:
            facts.pop(fact_key(fact), None)
        for fact in version.removed:
            facts[fact_key(fact)] = fact
    return list(facts.values())


def versions_diff(project: Project, older: int, newer: int) -> tuple[list[dict], list[dict]]:
    """What changed from version ``older`` to ``newer``: (facts added, facts removed)."""
    return _difference(facts_at(project, older), facts_at(project, newer))
