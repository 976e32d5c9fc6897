"""The Data Map's objects: data sources, the tables and columns harvested from them, the
taxonomy of sensitive types, and the harvest runs that keep the catalog in step.

A catalog object is visible to whoever may see the project its data source is registered in
(``Project.objects.restrict``); finer rights (who registers sources, who harvests) are
checked by the services with ``project_capabilities``.
"""

import re

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.core.models import RestrictedQuerySet, TimestampedModel

DATA_SOURCE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
MAX_LEVEL = 9
level_validators = [MinValueValidator(0), MaxValueValidator(MAX_LEVEL)]


def validate_data_source_name(value: str) -> None:
    if not DATA_SOURCE_NAME_PATTERN.match(value or ""):
        raise ValidationError(
            "Use 1 to 63 characters: lowercase letters, digits, '_' or '-', starting with a letter.",
            code="invalid_name",
        )


def _visible_projects(user, action: str):
    from apps.tenancy.models import Project

    return Project.objects.restrict(user, action)


class DataSourceKind(models.TextChoices):
    WAREHOUSE = "warehouse", "Warden warehouse"
    POSTGRESQL = "postgresql", "PostgreSQL"
    MYSQL = "mysql", "MySQL / MariaDB"


DEFAULT_PORTS = {DataSourceKind.POSTGRESQL: 5432, DataSourceKind.MYSQL: 3306}


class TLSMode(models.TextChoices):
    # The names follow libpq's sslmode; MySQL sources map them onto PyMySQL's ssl options.
    DISABLE = "disable", "No TLS"
    PREFER = "prefer", "TLS when the server offers it"
    REQUIRE = "require", "TLS required (certificate not verified)"
    VERIFY_FULL = "verify-full", "TLS required, certificate and host name verified"


class HarvestSchedule(models.TextChoices):
    MANUAL = "manual", "On demand only"
    HOURLY = "hourly", "Every hour"
    DAILY = "daily", "Every day"
    WEEKLY = "weekly", "Every week"


HARVEST_INTERVAL_SECONDS = {
    HarvestSchedule.HOURLY: 3600,
    HarvestSchedule.DAILY: 86_400,
    HarvestSchedule.WEEKLY: 7 * 86_400,
}


class HarvestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DataSourceQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(project__in=_visible_projects(user, action))


class DataSource(TimestampedModel):
    """A database whose metadata is harvested into the catalog.

    Each project's warehouse schema is registered as its ``warehouse`` source on first use
    (``services.warehouse_source_ensure``); it connects through Django's ``warehouse``
    database and harvests only the project's own schema, so it has no connection fields.
    External sources are read-only to Warden: it harvests (and later scans) them, nothing
    else. Their password is kept encrypted (AES-GCM, purpose ``data_source``) because Warden
    must log in with it.
    """

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.PROTECT, related_name="data_sources")
    project = models.ForeignKey("tenancy.Project", on_delete=models.PROTECT, related_name="data_sources")
    kind = models.CharField(max_length=16, choices=DataSourceKind.choices)
    name = models.CharField(max_length=63, validators=[validate_data_source_name])
    description = models.TextField(blank=True)
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1),
                                                                         MaxValueValidator(65535)])
    database = models.CharField(max_length=128, blank=True)
    username = models.CharField(max_length=128, blank=True)
    password_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    tls_mode = models.CharField(max_length=16, choices=TLSMode.choices, default=TLSMode.PREFER)
    harvest_schedule = models.CharField(max_length=16, choices=HarvestSchedule.choices,
                                        default=HarvestSchedule.MANUAL)
    last_harvest_status = models.CharField(max_length=16, choices=HarvestStatus.choices, blank=True)
    last_harvest_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    objects = DataSourceQuerySet.as_manager()

    class Meta:
        ordering = ["project", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_data_source_name_in_project"),
            models.UniqueConstraint(fields=["project"], condition=Q(kind="warehouse"),
                                    name="one_warehouse_source_per_project"),
        ]

    def clean(self):
        errors = {}
        if self.project_id is not None and self.tenant_id is not None and self.project.tenant_id != self.tenant_id:
            errors["project"] = "The project belongs to another tenant."
        if self.kind != DataSourceKind.WAREHOUSE:
            for field in ("host", "database", "username"):
                if not (getattr(self, field) or "").strip():
                    errors[field] = "This field is required for an external data source."
            if self.port is None:
                errors["port"] = "This field is required for an external data source."
        if errors:
            raise ValidationError(errors)

    @property
    def is_warehouse(self) -> bool:
        return self.kind == DataSourceKind.WAREHOUSE

    @property
    def has_password(self) -> bool:
        return bool(self.password_encrypted)

    def __str__(self) -> str:
        return f"{self.project.name}/{self.name}"


class TableKind(models.TextChoices):
    TABLE = "table", "Table"
    VIEW = "view", "View"


class TableQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(data_source__project__in=_visible_projects(user, action))

    def live(self):
        return self.filter(is_dropped=False)


class Table(models.Model):
    """A table or view as last harvested. A table the source no longer has is marked
    dropped, never deleted: grants, labels and lineage refer to it, and it may come back."""

    data_source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="tables")
    schema = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    kind = models.CharField(max_length=8, choices=TableKind.choices, default=TableKind.TABLE)
    comment = models.TextField(blank=True)
    row_estimate = models.BigIntegerField(null=True, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="owned_tables")
    description = models.TextField(blank=True)
    stewards = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="stewarded_tables")
    categories = models.ManyToManyField("Category", blank=True, related_name="tables")
    terms = models.ManyToManyField("GlossaryTerm", blank=True, related_name="tables")
    tags = models.ManyToManyField("Tag", blank=True, related_name="tables")
    is_dropped = models.BooleanField(default=False)
    dropped_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    objects = TableQuerySet.as_manager()

    class Meta:
        ordering = ["data_source", "schema", "name"]
        # An object permission of the portal (django-guardian): who may approve requests for
        # access to this table, beside its owner and the project's admins.
        permissions = [("approve_access", "Approve access requests on the table")]
        constraints = [
            models.UniqueConstraint(fields=["data_source", "schema", "name"], name="unique_table_in_source"),
        ]

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def __str__(self) -> str:
        return self.qualified_name


class SensitiveTypeQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        """Built-in types are visible to every signed-in user and changed by nobody; a
        tenant's own types are visible to its accounts."""
        if not user.is_authenticated:
            return self.none()
        own = Q(tenant_id=user.tenant_id) if user.tenant_id is not None else Q(pk__in=[])
        if action != "view":
            return self.filter(own)
        return self.filter(Q(tenant__isnull=True) | own)


class SensitiveType(models.Model):
    """A kind of sensitive data (mobile phone, national id, ...) with its default
    sensitivity level. Built-in types have no tenant and are seeded by a data migration;
    tenants add their own."""

    tenant = models.ForeignKey("tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="sensitive_types")
    code = models.SlugField(max_length=63, help_text="Stable identifier, e.g. mobile_phone.")
    name = models.CharField(max_length=100)
    category = models.CharField(max_length=63)
    default_level = models.PositiveSmallIntegerField(validators=level_validators)
    description = models.TextField(blank=True)

    objects = SensitiveTypeQuerySet.as_manager()

    class Meta:
        ordering = ["category", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="unique_sensitive_type_code_in_tenant"),
            models.UniqueConstraint(fields=["code"], condition=Q(tenant__isnull=True),
                                    name="unique_builtin_sensitive_type_code"),
            models.CheckConstraint(condition=Q(default_level__lte=MAX_LEVEL),
                                   name="sensitive_type_level_0_to_9"),
        ]

    @property
    def is_builtin(self) -> bool:
        return self.tenant_id is None

    def __str__(self) -> str:
        return self.name


class ColumnQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(table__data_source__project__in=_visible_projects(user, action))

    def live(self):
        return self.filter(is_dropped=False)


class Column(models.Model):
    """A column as last harvested, with its sensitivity: a level 0-9 and a classification
    (one of the sensitive types), set by hand now and by scans later."""

    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=128)
    ordinal = models.PositiveIntegerField()
    data_type = models.CharField(max_length=255)
    nullable = models.BooleanField(default=True)
    comment = models.TextField(blank=True)
    sensitivity_level = models.PositiveSmallIntegerField(null=True, blank=True, validators=level_validators)
    classification = models.ForeignKey(SensitiveType, null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="columns")
    description = models.TextField(blank=True)
    terms = models.ManyToManyField("GlossaryTerm", blank=True, related_name="columns")
    tags = models.ManyToManyField("Tag", blank=True, related_name="columns")
    is_dropped = models.BooleanField(default=False)
    dropped_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    objects = ColumnQuerySet.as_manager()

    class Meta:
        ordering = ["table", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["table", "name"], name="unique_column_in_table"),
            models.CheckConstraint(condition=Q(sensitivity_level__isnull=True) | Q(sensitivity_level__lte=MAX_LEVEL),
                                   name="column_sensitivity_level_0_to_9"),
        ]

    def __str__(self) -> str:
        return f"{self.table.qualified_name}.{self.name}"


class HarvestRunQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(data_source__project__in=_visible_projects(user, action))

    def active(self):
        return self.filter(status__in=[HarvestStatus.QUEUED, HarvestStatus.RUNNING])


class HarvestRun(models.Model):
    """One harvest of a data source: its progress while it runs, and what it changed.

    ``changes`` is the change list, one entry per change in the order found::

        {"object": "table" | "column", "change": "added" | "changed" | "dropped" | "revived",
         "schema": ..., "table": ..., "column": ... (columns only),
         "fields": {"data_type": {"from": ..., "to": ...}, ...} ("changed" only),
         "columns": [...] (an added table's columns)}

    ``counts`` sums them up (``tables_added``, ``columns_dropped``, ...) with ``tables_seen``
    and ``columns_seen``.
    """

    data_source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="harvest_runs")
    status = models.CharField(max_length=16, choices=HarvestStatus.choices, default=HarvestStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    progress_message = models.CharField(max_length=200, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    changes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    objects = HarvestRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["data_source", "-created_at"], name="catalog_harvest_recent")]

    def __str__(self) -> str:
        return f"harvest #{self.pk} of {self.data_source}"


# --- the business vocabulary: categories, glossary terms, tags -----------------------------

class TenantScopedQuerySet(RestrictedQuerySet):
    """Objects that belong to a tenant as a whole: its accounts see them."""

    def restrict(self, user, action: str = "view"):
        if not user.is_authenticated or user.tenant_id is None:
            return self.none()
        return self.filter(tenant_id=user.tenant_id)


class Category(models.Model):
    """A node of a tenant's category tree (e.g. Finance / Payments). ``path`` repeats the
    names from the root, "Finance/Payments", so a subtree is one prefix query."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="categories")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(max_length=100)
    path = models.CharField(max_length=1000, editable=False)
    description = models.TextField(blank=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "parent", "name"], nulls_distinct=False,
                                    name="unique_category_name_under_parent"),
        ]

    def __str__(self) -> str:
        return self.path


class GlossaryTerm(models.Model):
    """A business term with its definition, assignable to tables and columns."""

    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="glossary_terms")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="terms")
    name = models.CharField(max_length=200)
    definition = models.TextField(blank=True)
    synonyms = models.JSONField(default=list, blank=True)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(models.functions.Lower("name"), "tenant", name="unique_glossary_term_in_tenant"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=63)

    objects = TenantScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(models.functions.Lower("name"), "tenant", name="unique_tag_in_tenant")]

    def __str__(self) -> str:
        return self.name


# --- lineage ------------------------------------------------------------------------------

class LineageOrigin(models.TextChoices):
    MANUAL = "manual", "Entered by hand"
    API = "api", "Entered through the API"
    GATEWAY = "gateway", "Recorded from a write through the gateway"


class LineageEdgeQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        """An edge is visible when both of its ends are."""
        projects = _visible_projects(user, action)
        return self.filter(source_table__data_source__project__in=projects,
                           target_table__data_source__project__in=projects)


class LineageEdge(models.Model):
    """Data flows from ``source`` to ``target``: table to table, or column to column (then
    the tables are the columns' tables, so table-level questions need no join)."""

    source_table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="downstream_edges")
    source_column = models.ForeignKey(Column, null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="downstream_edges")
    target_table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="upstream_edges")
    target_column = models.ForeignKey(Column, null=True, blank=True, on_delete=models.CASCADE,
                                      related_name="upstream_edges")
    origin = models.CharField(max_length=16, choices=LineageOrigin.choices, default=LineageOrigin.MANUAL)
    description = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LineageEdgeQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["source_table", "source_column", "target_table", "target_column"],
                                    nulls_distinct=False, name="unique_lineage_edge"),
            models.CheckConstraint(condition=Q(source_column__isnull=True, target_column__isnull=True)
                                   | Q(source_column__isnull=False, target_column__isnull=False),
                                   name="lineage_edge_is_table_or_column_level"),
        ]


# --- search -------------------------------------------------------------------------------

class SearchDocumentKind(models.TextChoices):
    TABLE = "table", "Table"
    COLUMN = "column", "Column"


class SearchDocumentQuerySet(RestrictedQuerySet):
    def restrict(self, user, action: str = "view"):
        return self.filter(project__in=_visible_projects(user, action))


class SearchDocument(models.Model):
    """What the search box finds: one row per table and per column, denormalized so that a
    search is one indexed scan of one table (``apps.catalog.search`` keeps it in step).

    ``search_vector`` weighs names A; tags, glossary terms, categories and classifications
    B; descriptions and comments C; a column's table D. ``name`` (the object's own name) has
    a trigram index for typo-tolerant matches. For a table, ``level`` is the highest level
    of its live columns and ``sensitive_type_ids`` their classifications; a column inherits
    its table's owner and categories.
    """

    kind = models.CharField(max_length=8, choices=SearchDocumentKind.choices)
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="+")
    column = models.OneToOneField(Column, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # Copies of the table's: the table's and column's foreign keys decide a document's
    # lifetime, so these carry no constraint (checked at commit, 100,000 at a time) and,
    # being filtered together with the project, no index of their own.
    tenant = models.ForeignKey("tenancy.Tenant", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                               db_index=False)
    project = models.ForeignKey("tenancy.Project", on_delete=models.CASCADE, related_name="+", db_constraint=False,
                                db_index=False)
    data_source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="+", db_constraint=False,
                                    db_index=False)
    schema = models.CharField(max_length=128)
    table_name = models.CharField(max_length=128)
    name = models.CharField(max_length=128)
    data_type = models.CharField(max_length=255, blank=True)
    text = models.TextField(blank=True, help_text="Description and comment, for snippets.")
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    sensitive_type_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", db_constraint=False, db_index=False)
    category_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    is_dropped = models.BooleanField(default=False)
    search_vector = SearchVectorField(null=True)

    objects = SearchDocumentQuerySet.as_manager()

    class Meta:
        ordering = ["schema", "table_name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["table"], condition=Q(column__isnull=True),
                                    name="one_search_document_per_table"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="catalog_search_vector"),
            GinIndex(fields=["name"], opclasses=["gin_trgm_ops"], name="catalog_search_name_trgm"),
            GinIndex(fields=["sensitive_type_ids"], name="catalog_search_types"),
            GinIndex(fields=["category_ids"], name="catalog_search_categories"),
            models.Index(fields=["project", "level"], name="catalog_search_project_level"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.schema}.{self.table_name}" + (f".{self.name}" if self.column_id else "")
