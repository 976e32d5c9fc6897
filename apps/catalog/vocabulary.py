"""The business vocabulary of the Data Map and the metadata people write on tables and
columns: categories, glossary terms, tags, custom sensitive types, and the edits of a
table's or column's description, owner, stewards, categories, terms and tags.

Services (writes) come first, then selectors (reads). Every service is atomic, checks who
may act, and records its audit event in the same transaction; every edit's event carries
what changed, ``{field: {"from": ..., "to": ...}}``.

Who may do what:

- categories, glossary terms, tags and custom sensitive types belong to a tenant as a whole:
  its owner and administrators (any tenant role) change them; all its accounts read them.
  Built-in sensitive types are read-only to everyone.
- a table's metadata and its columns' metadata are changed by the table's owner (while they
  may still see its project), by the project's admins (``Capability.MANAGE_MEMBERS``) and by
  the tenant's administrators (who hold that capability in every project of the tenant).
- tags are created on first use, when someone allowed to edit a table or column assigns one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, Concat, Length, Lower, Substr

from apps import audit
from apps.catalog.models import (
    MAX_LEVEL,
    Category,
    Column,
    GlossaryTerm,
    SensitiveType,
    Table,
    Tag,
)
from apps.catalog.search import search_documents_refresh
from apps.tenancy.models import Membership, Project, Tenant
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import project_capabilities, tenant_roles_of

_UNCHANGED = object()
PATH_SEPARATOR = "/"
CATEGORY_PATH_MAX = Category._meta.get_field("path").max_length
CATEGORY_NAME_MAX = Category._meta.get_field("name").max_length
TERM_NAME_MAX = GlossaryTerm._meta.get_field("name").max_length
TAG_NAME_MAX = Tag._meta.get_field("name").max_length
SENSITIVE_TYPE_CODE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
MAX_SYNONYMS = 50


# --- who may act ------------------------------------------------------------------------------

def require_tenant_admin(actor, tenant_id: int | None, what: str) -> None:
    """The tenant's owner and administrators manage its vocabulary."""
    if actor is None or tenant_id is None or actor.tenant_id != tenant_id or not tenant_roles_of(actor):
        raise PermissionDenied(f"Only the tenant's owner and administrators manage {what}.")


def may_edit_table_metadata(actor, table: Table) -> bool:
    project = table.data_source.project
    capabilities = project_capabilities(actor, project)
    if Capability.MANAGE_MEMBERS in capabilities:
        return True
    return table.owner_id is not None and table.owner_id == actor.pk and Capability.VIEW in capabilities


def require_table_editor(actor, table: Table) -> None:
    if actor is None or not actor.is_authenticated or not may_edit_table_metadata(actor, table):
        raise PermissionDenied(
            f"Only the owner of {table.qualified_name} and the admins of project "
            f"{table.data_source.project.name} edit its metadata."
        )


# --- input helpers ------------------------------------------------------------------------------

def _text(field: str, value, *, max_length: int | None = None, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Enter text."})
    value = value.strip()
    if required and not value:
        raise ValidationError({field: "This field may not be blank."})
    if max_length is not None and len(value) > max_length:
        raise ValidationError({field: f"Use at most {max_length} characters."})
    if any(ord(character) < 32 for character in value if character not in "\n\t\r"):
        raise ValidationError({field: "Control characters are not allowed."})
    return value


def _name(field: str, value, max_length: int) -> str:
    value = _text(field, value, max_length=max_length)
    if "\n" in value or "\r" in value or "\t" in value:
        raise ValidationError({field: "Use a single line."})
    return value


def _level(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LEVEL:
        raise ValidationError({field: f"Use a whole number from 0 to {MAX_LEVEL}."})
    return value


def _same_tenant(field: str, objects: Iterable, tenant_id: int, noun: str) -> list:
    objects = list(objects)
    for obj in objects:
        if obj is None or obj.tenant_id != tenant_id:
            raise ValidationError({field: f"No such {noun}."})
    return objects


def _change(changes: dict, field: str, before, after) -> None:
    if before != after:
        changes[field] = {"from": before, "to": after}



def _refresh_search_of(*, tables=(), columns=()) -> None:
    """Search documents carry categories, terms, tags and type names: a change to any of
    them refreshes the documents of every table that shows it, in the same transaction."""
    table_ids = {getattr(table, "pk", table) for table in tables}
    table_ids |= set(Column.objects.filter(pk__in=[getattr(c, "pk", c) for c in columns]).values_list("table_id",
                                                                                                         flat=True))
    search_documents_refresh(tables=table_ids)


def _lock_vocabulary(tenant_id: int) -> None:
    """Changes to a tenant's category tree queue behind each other: a rename or move
    rewrites the paths of a whole subtree, and two of them at once would interleave."""
    Tenant.objects.select_for_update().filter(pk=tenant_id).first()


# --- categories -----------------------------------------------------------------------------------

def _category_path(parent: Category | None, name: str) -> str:
    return f"{parent.path}{PATH_SEPARATOR}{name}" if parent is not None else name


def _category_name(value) -> str:
    name = _name("name", value, CATEGORY_NAME_MAX)
    if PATH_SEPARATOR in name:
        raise ValidationError({"name": f"A category name cannot contain '{PATH_SEPARATOR}'."})
    return name


def _require_free_name(tenant_id: int, parent: Category | None, name: str, exclude_pk: int | None = None) -> None:
    siblings = Category.objects.filter(tenant_id=tenant_id, parent=parent, name__iexact=name)
    if exclude_pk is not None:
        siblings = siblings.exclude(pk=exclude_pk)
    if siblings.exists():
        where = f"under {parent.path}" if parent is not None else "at the top level"
        raise ValidationError({"name": f"There already is a category named '{name}' {where}."})


def _subtree(category: Category) -> QuerySet[Category]:
    """The category's descendants (not itself), by path prefix."""
    return Category.objects.filter(tenant_id=category.tenant_id,
                                   path__startswith=category.path + PATH_SEPARATOR)


@transaction.atomic
def category_create(*, actor, name: str, parent: Category | None = None, description: str = "",
                    request=None) -> Category:
    """A category at the top of the actor's tenant's tree, or under ``parent``."""
    tenant_id = getattr(actor, "tenant_id", None)
    require_tenant_admin(actor, tenant_id, "categories")
    name = _category_name(name)
    description = _text("description", description, required=False)
    _lock_vocabulary(tenant_id)
    if parent is not None:
        _same_tenant("parent", [parent], tenant_id, "category")
        parent = Category.objects.get(pk=parent.pk)
    _require_free_name(tenant_id, parent, name)
    path = _category_path(parent, name)
    if len(path) > CATEGORY_PATH_MAX:
        raise ValidationError({"name": f"The category's path would exceed {CATEGORY_PATH_MAX} characters."})
    category = Category.objects.create(tenant_id=tenant_id, parent=parent, name=name, path=path,
                                       description=description)
    audit.record(actor, "catalog.category.create", category, request=request,
                 details={"path": path, "parent": parent.path if parent else None})
    return category


@transaction.atomic
def category_update(*, actor, category: Category, name=_UNCHANGED, description=_UNCHANGED, parent=_UNCHANGED,
                    request=None) -> Category:
    """Rename, describe or move a category (``parent=None``: to the top level). The paths of
    the whole subtree follow in the same transaction."""
    require_tenant_admin(actor, category.tenant_id, "categories")
    _lock_vocabulary(category.tenant_id)
    category = Category.objects.select_related("parent").get(pk=category.pk)
    old_path = category.path
    changes: dict = {}
    new_name = category.name if name is _UNCHANGED else _category_name(name)
    new_parent = category.parent
    if parent is not _UNCHANGED:
        if parent is not None:
            _same_tenant("parent", [parent], category.tenant_id, "category")
            parent = Category.objects.get(pk=parent.pk)
            if parent.pk == category.pk or parent.path.startswith(old_path + PATH_SEPARATOR):
                raise ValidationError({"parent": "A category cannot move under itself or one of its descendants."})
        new_parent = parent
    if description is not _UNCHANGED:
        description = _text("description", description, required=False)
        _change(changes, "description", category.description, description)
        category.description = description
    if new_name != category.name or getattr(new_parent, "pk", None) != category.parent_id:
        _require_free_name(category.tenant_id, new_parent, new_name, exclude_pk=category.pk)
        new_path = _category_path(new_parent, new_name)
        longest = _subtree(category).aggregate(longest=Max(Length("path")))["longest"] or len(old_path)
        if longest - len(old_path) + len(new_path) > CATEGORY_PATH_MAX:
            raise ValidationError({"name": f"A path in the subtree would exceed {CATEGORY_PATH_MAX} characters."})
        _change(changes, "name", category.name, new_name)
        if getattr(new_parent, "pk", None) != category.parent_id:
            _change(changes, "parent", category.parent.path if category.parent else None,
                    new_parent.path if new_parent else None)
        _change(changes, "path", old_path, new_path)
        moved = _subtree(category).update(path=Concat(Value(new_path), Substr("path", len(old_path) + 1)))
        if moved:
            changes["descendants_moved"] = moved
        category.name, category.parent, category.path = new_name, new_parent, new_path
    if changes:
        category.save(update_fields=["name", "parent", "path", "description"])
        if "path" in changes:
            _refresh_search_of(tables=Table.objects.filter(categories__in=_subtree(category)).distinct())
        audit.record(actor, "catalog.category.update", category, request=request, details=changes)
    return category


@transaction.atomic
def category_delete(*, actor, category: Category, request=None) -> None:
    """Delete a category that has no subcategories, tables or glossary terms."""
    require_tenant_admin(actor, category.tenant_id, "categories")
    _lock_vocabulary(category.tenant_id)
    category = Category.objects.get(pk=category.pk)
    in_use = []
    if category.children.exists():
        in_use.append("subcategories")
    if category.tables.exists():
        in_use.append("tables")
    if category.terms.exists():
        in_use.append("glossary terms")
    if in_use:
        raise ValidationError({"category": f"{category.path} still has {', '.join(in_use)}; "
                                           "move or remove them first."})
    audit.record(actor, "catalog.category.delete", category, request=request, details={"path": category.path})
    category.delete()


# --- glossary terms -------------------------------------------------------------------------------

def _synonyms(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValidationError({"synonyms": "Give a list of words."})
    if len(value) > MAX_SYNONYMS:
        raise ValidationError({"synonyms": f"Give at most {MAX_SYNONYMS} synonyms."})
    cleaned, seen = [], set()
    for item in value:
        synonym = _name("synonyms", item, TERM_NAME_MAX)
        if synonym.lower() not in seen:
            seen.add(synonym.lower())
            cleaned.append(synonym)
    return cleaned


def _require_free_term_name(tenant_id: int, name: str, exclude_pk: int | None = None) -> None:
    others = GlossaryTerm.objects.filter(tenant_id=tenant_id, name__iexact=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise ValidationError({"name": f"The glossary already has a term named '{name}'."})


def _term_summary(term: GlossaryTerm) -> dict:
    return {"name": term.name, "definition": term.definition, "synonyms": list(term.synonyms),
            "category": term.category.path if term.category_id else None}


@transaction.atomic
def glossary_term_create(*, actor, name: str, definition: str = "", category: Category | None = None,
                         synonyms: list[str] | None = None, request=None) -> GlossaryTerm:
    tenant_id = getattr(actor, "tenant_id", None)
    require_tenant_admin(actor, tenant_id, "the glossary")
    name = _name("name", name, TERM_NAME_MAX)
    definition = _text("definition", definition, required=False)
    synonyms = _synonyms(synonyms)
    if category is not None:
        _same_tenant("category", [category], tenant_id, "category")
    _require_free_term_name(tenant_id, name)
    try:
        with transaction.atomic():
            term = GlossaryTerm.objects.create(tenant_id=tenant_id, name=name, definition=definition,
                                               category=category, synonyms=synonyms)
    except IntegrityError:
        raise ValidationError({"name": f"The glossary already has a term named '{name}'."}) from None
    audit.record(actor, "catalog.glossary_term.create", term, request=request, details=_term_summary(term))
    return term


@transaction.atomic
def glossary_term_update(*, actor, term: GlossaryTerm, name=_UNCHANGED, definition=_UNCHANGED,
                         category=_UNCHANGED, synonyms=_UNCHANGED, request=None) -> GlossaryTerm:
    require_tenant_admin(actor, term.tenant_id, "the glossary")
    term = GlossaryTerm.objects.select_for_update(of=("self",)).select_related("category").get(pk=term.pk)
    before = _term_summary(term)
    if name is not _UNCHANGED:
        name = _name("name", name, TERM_NAME_MAX)
        if name.lower() != term.name.lower():
            _require_free_term_name(term.tenant_id, name, exclude_pk=term.pk)
        term.name = name
    if definition is not _UNCHANGED:
        term.definition = _text("definition", definition, required=False)
    if synonyms is not _UNCHANGED:
        term.synonyms = _synonyms(synonyms)
    if category is not _UNCHANGED:
        if category is not None:
            _same_tenant("category", [category], term.tenant_id, "category")
        term.category = category
    after = _term_summary(term)
    changes: dict = {}
    for field in before:
        _change(changes, field, before[field], after[field])
    if changes:
        try:
            with transaction.atomic():
                term.save()
        except IntegrityError:
            raise ValidationError({"name": f"The glossary already has a term named '{term.name}'."}) from None
        if "name" in changes or "synonyms" in changes:
            _refresh_search_of(tables=term.tables.all(), columns=term.columns.all())
        audit.record(actor, "catalog.glossary_term.update", term, request=request, details=changes)
    return term


@transaction.atomic
def glossary_term_delete(*, actor, term: GlossaryTerm, request=None) -> None:
    """Delete a term; the tables and columns it was assigned to lose it (the event counts them)."""
    require_tenant_admin(actor, term.tenant_id, "the glossary")
    term = GlossaryTerm.objects.select_related("category").get(pk=term.pk)
    tables, columns = list(term.tables.all()), list(term.columns.all())
    audit.record(actor, "catalog.glossary_term.delete", term, request=request,
                 details={**_term_summary(term), "tables": len(tables), "columns": len(columns)})
    term.delete()
    _refresh_search_of(tables=tables, columns=columns)


# --- tags -------------------------------------------------------------------------------------------

def _tag_name(value) -> str:
    name = _name("tags", value, TAG_NAME_MAX)
    if "," in name:
        raise ValidationError({"tags": "A tag name cannot contain ','."})
    return name


def tags_ensure(*, actor, tenant_id: int, names: Iterable[str], request=None) -> list[Tag]:
    """The tenant's tags of these names (matched case-insensitively), creating the missing
    ones. Called by the metadata edits, inside their transaction and permission check."""
    wanted: dict[str, str] = {}
    for raw in names:
        name = _tag_name(raw)
        wanted.setdefault(name.lower(), name)
    existing = {tag.name.lower(): tag for tag in Tag.objects.filter(tenant_id=tenant_id)
                .annotate(lower=Lower("name")).filter(lower__in=list(wanted))}
    tags = []
    for key, name in wanted.items():
        tag = existing.get(key)
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(tenant_id=tenant_id, name=name)
            except IntegrityError:
                # Someone created it at the same moment.
                tag = Tag.objects.get(tenant_id=tenant_id, name__iexact=name)
            else:
                audit.record(actor, "catalog.tag.create", tag, request=request, details={"name": name})
        tags.append(tag)
    return tags


@transaction.atomic
def tag_delete(*, actor, tag: Tag, request=None) -> None:
    """Delete a tag everywhere it is used (tenant owner and administrators)."""
    require_tenant_admin(actor, tag.tenant_id, "tags")
    tag = Tag.objects.get(pk=tag.pk)
    tables, columns = list(tag.tables.all()), list(tag.columns.all())
    audit.record(actor, "catalog.tag.delete", tag, request=request,
                 details={"name": tag.name, "tables": len(tables), "columns": len(columns)})
    tag.delete()
    _refresh_search_of(tables=tables, columns=columns)


# --- custom sensitive types ---------------------------------------------------------------------------

def _type_summary(sensitive_type: SensitiveType) -> dict:
    return {"code": sensitive_type.code, "name": sensitive_type.name, "category": sensitive_type.category,
            "default_level": sensitive_type.default_level, "description": sensitive_type.description}


def _require_custom(actor, sensitive_type: SensitiveType) -> None:
    if sensitive_type.is_builtin:
        raise PermissionDenied("Built-in sensitive types are read-only.")
    require_tenant_admin(actor, sensitive_type.tenant_id, "sensitive types")


@transaction.atomic
def sensitive_type_create(*, actor, code: str, name: str, category: str, default_level: int,
                          description: str = "", request=None) -> SensitiveType:
    """A sensitive type of the actor's tenant. Its code is a slug unique in the tenant and
    distinct from every built-in code, so a code always names one type."""
    tenant_id = getattr(actor, "tenant_id", None)
    require_tenant_admin(actor, tenant_id, "sensitive types")
    code = _text("code", code, max_length=63)
    if not SENSITIVE_TYPE_CODE.match(code):
        raise ValidationError({"code": "Use 1 to 63 characters: lowercase letters, digits or '_', "
                                       "starting with a letter."})
    sensitive_type = SensitiveType(
        tenant_id=tenant_id, code=code, name=_name("name", name, 100),
        category=_name("category", category, 63), default_level=_level("default_level", default_level),
        description=_text("description", description, required=False),
    )
    if SensitiveType.objects.filter(tenant__isnull=True, code=code).exists():
        raise ValidationError({"code": f"'{code}' is the code of a built-in sensitive type."})
    if SensitiveType.objects.filter(tenant_id=tenant_id, code=code).exists():
        raise ValidationError({"code": f"Your tenant already has a sensitive type with code '{code}'."})
    try:
        with transaction.atomic():
            sensitive_type.save()
    except IntegrityError:
        raise ValidationError({"code": f"Your tenant already has a sensitive type with code '{code}'."}) from None
    audit.record(actor, "catalog.sensitive_type.create", sensitive_type, request=request,
                 details=_type_summary(sensitive_type))
    return sensitive_type


@transaction.atomic
def sensitive_type_update(*, actor, sensitive_type: SensitiveType, name=_UNCHANGED, category=_UNCHANGED,
                          default_level=_UNCHANGED, description=_UNCHANGED, request=None) -> SensitiveType:
    """Change a custom type. Its code stays: classifications and audit events refer to it.
    A new default level applies to later classifications, not to columns classified already."""
    _require_custom(actor, sensitive_type)
    sensitive_type = SensitiveType.objects.select_for_update().get(pk=sensitive_type.pk)
    before = _type_summary(sensitive_type)
    if name is not _UNCHANGED:
        sensitive_type.name = _name("name", name, 100)
    if category is not _UNCHANGED:
        sensitive_type.category = _name("category", category, 63)
    if default_level is not _UNCHANGED:
        sensitive_type.default_level = _level("default_level", default_level)
    if description is not _UNCHANGED:
        sensitive_type.description = _text("description", description, required=False)
    after = _type_summary(sensitive_type)
    changes: dict = {}
    for field in before:
        _change(changes, field, before[field], after[field])
    if changes:
        sensitive_type.save()
        if "name" in changes or "category" in changes:
            _refresh_search_of(columns=sensitive_type.columns.all())
        audit.record(actor, "catalog.sensitive_type.update", sensitive_type, request=request, details=changes)
    return sensitive_type


@transaction.atomic
def sensitive_type_delete(*, actor, sensitive_type: SensitiveType, request=None) -> None:
    """Delete a custom type that no column is classified as."""
    _require_custom(actor, sensitive_type)
    sensitive_type = SensitiveType.objects.get(pk=sensitive_type.pk)
    used = sensitive_type.columns.count()
    if used:
        raise ValidationError({"sensitive_type": f"{used} column(s) are classified as {sensitive_type.code}; "
                                                 "classify them otherwise first."})
    audit.record(actor, "catalog.sensitive_type.delete", sensitive_type, request=request,
                 details=_type_summary(sensitive_type))
    sensitive_type.delete()


# --- table and column metadata ------------------------------------------------------------------------

def _active_members(project: Project, users: Iterable, field: str) -> list:
    users = list(users)
    ids = {user.pk for user in users if user is not None}
    members = set(Membership.objects.filter(project=project, is_active=True, user_id__in=ids)
                  .values_list("user_id", flat=True))
    for user in users:
        if user is None or user.pk not in members:
            name = getattr(user, "username", "?")
            raise ValidationError({field: f"{name} is not a member of project {project.name}."})
    return users


def _names(objects, attribute: str = "name") -> list[str]:
    return sorted(getattr(obj, attribute) for obj in objects)


def _set_many(changes: dict, field: str, manager, new_objects: list, attribute: str = "name") -> None:
    before = list(manager.all())
    if {obj.pk for obj in before} != {obj.pk for obj in new_objects}:
        changes[field] = {"from": _names(before, attribute), "to": _names(new_objects, attribute)}
        manager.set(new_objects)


def _require_live(table: Table, column: Column | None = None) -> None:
    if table.is_dropped:
        raise ValidationError({"table": f"{table.qualified_name} was dropped from its data source."})
    if column is not None and column.is_dropped:
        raise ValidationError({"column": f"{column.name} was dropped from its table."})


@transaction.atomic
def table_metadata_update(*, actor, table: Table, description=_UNCHANGED, owner=_UNCHANGED, stewards=_UNCHANGED,
                          categories=_UNCHANGED, terms=_UNCHANGED, tags=_UNCHANGED, request=None) -> Table:
    """Change what is passed: ``description`` (text), ``owner`` (an active member of the
    project, or None), ``stewards`` (active members), ``categories`` and ``terms`` (the
    tenant's), ``tags`` (names; new ones are created). Lists replace what was there."""
    table = Table.objects.select_related("data_source__project", "owner").get(pk=table.pk)
    require_table_editor(actor, table)
    Table.objects.select_for_update().filter(pk=table.pk).first()
    _require_live(table)
    project = table.data_source.project
    tenant_id = project.tenant_id
    changes: dict = {}
    if description is not _UNCHANGED:
        description = _text("description", description, required=False)
        _change(changes, "description", table.description, description)
        table.description = description
    if owner is not _UNCHANGED:
        if owner is not None:
            _active_members(project, [owner], "owner")
        _change(changes, "owner", getattr(table.owner, "username", None), getattr(owner, "username", None))
        table.owner = owner
    if stewards is not _UNCHANGED:
        _set_many(changes, "stewards", table.stewards, _active_members(project, stewards, "stewards"), "username")
    if categories is not _UNCHANGED:
        _set_many(changes, "categories", table.categories,
                  _same_tenant("categories", categories, tenant_id, "category"), "path")
    if terms is not _UNCHANGED:
        _set_many(changes, "terms", table.terms, _same_tenant("terms", terms, tenant_id, "glossary term"))
    if tags is not _UNCHANGED:
        _set_many(changes, "tags", table.tags, tags_ensure(actor=actor, tenant_id=tenant_id, names=tags,
                                                           request=request))
    if "description" in changes or "owner" in changes:
        table.save(update_fields=["description", "owner"])
    if changes:
        search_documents_refresh(tables=[table])
        audit.record(actor, "catalog.table.metadata_update", table, project=project, request=request,
                     details=changes)
    return table


@transaction.atomic
def column_metadata_update(*, actor, column: Column, description=_UNCHANGED, terms=_UNCHANGED, tags=_UNCHANGED,
                           request=None) -> Column:
    """Change a column's description, glossary terms or tags (lists replace)."""
    column = Column.objects.select_related("table__data_source__project").get(pk=column.pk)
    table = column.table
    require_table_editor(actor, table)
    Column.objects.select_for_update().filter(pk=column.pk).first()
    _require_live(table, column)
    project = table.data_source.project
    changes: dict = {}
    if description is not _UNCHANGED:
        description = _text("description", description, required=False)
        _change(changes, "description", column.description, description)
        column.description = description
    if terms is not _UNCHANGED:
        _set_many(changes, "terms", column.terms,
                  _same_tenant("terms", terms, project.tenant_id, "glossary term"))
    if tags is not _UNCHANGED:
        _set_many(changes, "tags", column.tags, tags_ensure(actor=actor, tenant_id=project.tenant_id, names=tags,
                                                            request=request))
    if "description" in changes:
        column.save(update_fields=["description"])
    if changes:
        search_documents_refresh(tables=[table])
        audit.record(actor, "catalog.column.metadata_update", column, project=project, request=request,
                     details=changes)
    return column


# --- selectors ------------------------------------------------------------------------------------------

def category_list(*, user) -> QuerySet[Category]:
    return Category.objects.restrict(user).select_related("parent").order_by("path")


def category_tree(*, user) -> list[dict]:
    """The caller's tenant's categories as nested nodes::

        {"id", "name", "path", "description", "table_count", "total_table_count", "children": [...]}

    ``table_count`` counts the live tables the caller may see in the category itself;
    ``total_table_count`` counts each such table once across the category and its subtree.
    Three queries, whatever the size of the tree.
    """
    categories = list(Category.objects.restrict(user).order_by("path"))
    visible_tables = Table.objects.restrict(user).live().values("pk")
    tables_of: dict[int, set[int]] = defaultdict(set)
    for category_id, table_id in Table.categories.through.objects.filter(
        category__in=[category.pk for category in categories], table__in=visible_tables
    ).values_list("category_id", "table_id"):
        tables_of[category_id].add(table_id)
    nodes = {
        category.pk: {"id": category.pk, "name": category.name, "path": category.path,
                      "description": category.description, "table_count": len(tables_of[category.pk]),
                      "children": []}
        for category in categories
    }
    roots = []
    for category in categories:
        node = nodes[category.pk]
        parent = nodes.get(category.parent_id)
        (parent["children"] if parent is not None else roots).append(node)

    def total(node) -> set[int]:
        tables = set(tables_of[node["id"]])
        for child in node["children"]:
            tables |= total(child)
        node["total_table_count"] = len(tables)
        return tables

    for root in roots:
        total(root)
    return roots


def _usage(through, *, own: str, other: str, visible):
    """How many rows of the m2m table ``through`` point at the outer object (``own``) and at
    something in ``visible`` (``other``, an id queryset)."""
    return Coalesce(Subquery(
        through.objects.filter(**{own: OuterRef("pk"), f"{other}__in": visible})
        .order_by().values(own).annotate(n=Count("pk")).values("n"),
        output_field=IntegerField(),
    ), 0)


def _with_usage(queryset: QuerySet, *, user, table_through, column_through, fk: str) -> QuerySet:
    tables = Table.objects.restrict(user).live().values("pk")
    columns = Column.objects.restrict(user).live().values("pk")
    return queryset.annotate(
        table_count=_usage(table_through, own=fk, other="table_id", visible=tables),
        column_count=_usage(column_through, own=fk, other="column_id", visible=columns),
    )


def glossary_term_list(*, user, filters: dict | None = None) -> QuerySet[GlossaryTerm]:
    """The tenant's glossary with ``table_count`` and ``column_count``: how many live tables
    and columns the caller may see carry each term."""
    queryset = _with_usage(GlossaryTerm.objects.restrict(user).select_related("category"), user=user,
                           table_through=Table.terms.through, column_through=Column.terms.through,
                           fk="glossaryterm_id")
    filters = filters or {}
    if filters.get("q"):
        queryset = glossary_term_search(queryset, filters["q"])
    if filters.get("category") is not None:
        queryset = queryset.filter(category=filters["category"])
    return queryset.order_by("name")


def glossary_term_search(queryset: QuerySet[GlossaryTerm], query: str) -> QuerySet[GlossaryTerm]:
    """Terms whose name, synonyms or definition contain ``query`` (any case)."""
    query = (query or "").strip()
    if not query:
        return queryset
    return queryset.filter(Q(name__icontains=query) | Q(synonyms__icontains=query) | Q(definition__icontains=query))


def tag_list(*, user) -> QuerySet[Tag]:
    """The tenant's tags with ``table_count`` and ``column_count`` as for glossary terms."""
    return _with_usage(Tag.objects.restrict(user), user=user, table_through=Table.tags.through,
                       column_through=Column.tags.through, fk="tag_id").order_by("name")


def sensitive_type_list(*, user) -> QuerySet[SensitiveType]:
    """The built-in types and the caller's tenant's own, built-in first within a category."""
    return SensitiveType.objects.restrict(user).order_by("category", "name", "pk")


def project_member_users(*, project: Project, usernames: Iterable[str], field: str) -> list:
    """The active members of ``project`` with these usernames, in the order given; a name
    that is no member (or no account at all) is a field error that says only that."""
    usernames = [(name or "").strip() for name in usernames]
    found = {
        membership.user.username: membership.user
        for membership in Membership.objects.filter(project=project, is_active=True, user__username__in=usernames)
        .select_related("user")
    }
    missing = [name for name in usernames if name not in found]
    if missing:
        raise ValidationError({field: f"Not a member of project {project.name}: {', '.join(missing)}."})
    return list(dict.fromkeys(found[name] for name in usernames))
