"""Reads of the catalog. Every read goes through ``.restrict(user, ...)``: a data source,
table or harvest of a project the user may not see looks exactly like a missing one."""

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.catalog.models import Column, DataSource, HarvestRun, SensitiveType, Table


def data_source_list(*, user, project=None) -> QuerySet[DataSource]:
    """Each source carries ``live_table_count``, its tables not dropped."""
    queryset = (
        DataSource.objects.restrict(user).select_related("project", "tenant")
        .annotate(live_table_count=Count("tables", filter=Q(tables__is_dropped=False)))
    )
    if project is not None:
        queryset = queryset.filter(project=project)
    return queryset.order_by("project__name", "name")


def data_source_get(*, user, pk: int) -> DataSource:
    """DataSource.DoesNotExist unless ``user`` may see it."""
    return data_source_list(user=user).get(pk=pk)


def table_list(*, user, data_source=None, include_dropped: bool = False) -> QuerySet[Table]:
    queryset = Table.objects.restrict(user).select_related("data_source__project", "owner")
    if data_source is not None:
        queryset = queryset.filter(data_source=data_source)
    if not include_dropped:
        queryset = queryset.filter(is_dropped=False)
    return queryset.order_by("schema", "name")


def table_get(*, user, pk: int, include_dropped: bool = True) -> Table:
    """A table with its columns (``table.columns.all()``, in order, classification selected)."""
    columns = Column.objects.select_related("classification").order_by("ordinal")
    return (
        table_list(user=user, include_dropped=include_dropped)
        .prefetch_related(Prefetch("columns", queryset=columns), "stewards", "categories", "terms", "tags")
        .get(pk=pk)
    )


def harvest_run_list(*, user, data_source=None) -> QuerySet[HarvestRun]:
    queryset = HarvestRun.objects.restrict(user).select_related("data_source__project", "requested_by")
    if data_source is not None:
        queryset = queryset.filter(data_source=data_source)
    return queryset


def sensitive_type_list(*, user) -> QuerySet[SensitiveType]:
    return SensitiveType.objects.restrict(user).order_by("category", "name")


def column_get(*, user, pk: int) -> Column:
    """Column.DoesNotExist unless ``user`` may see the column's project."""
    return Column.objects.restrict(user).select_related("table__data_source__project", "classification").get(pk=pk)
