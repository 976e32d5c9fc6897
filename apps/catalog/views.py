"""The Data Map's pages: data sources and their harvests, and the table page.

Views stay thin: objects come from the selectors (what the user may not see is 404), input
goes to one service, refusals become readable messages or the 403 page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.catalog import forms, hooks, lineage, search, selectors, services, vocabulary
from apps.catalog.api.serializers_search import SearchQuerySerializer
from apps.catalog.drawing import lineage_drawing
from apps.catalog.models import Column, DataSource, HarvestRun, HarvestStatus, LineageEdge, Table
from apps.core.web import apply_service, forbidden_as_page, form_errors, readable
from apps.tenancy.roles import Capability
from apps.tenancy.selectors import member_list, project_capabilities, project_capabilities_map, project_list


def _data_source_or_404(request, pk: int) -> DataSource:
    try:
        return selectors.data_source_get(user=request.user, pk=pk)
    except DataSource.DoesNotExist:
        raise Http404("No such data source.") from None


def _table_or_404(request, pk: int) -> Table:
    try:
        return selectors.table_get(user=request.user, pk=pk)
    except Table.DoesNotExist:
        raise Http404("No such table.") from None


def _column_or_404(request, pk: int) -> Column:
    try:
        return selectors.column_get(user=request.user, pk=pk)
    except Column.DoesNotExist:
        raise Http404("No such column.") from None


def _administered_projects(user) -> list:
    projects = list(project_list(user=user))
    capabilities = project_capabilities_map(user, projects)
    return [project for project in projects if Capability.MANAGE_MEMBERS in capabilities[project.pk]]


@login_required
@require_GET
def data_map(request):
    """Every data source the user may see, by project, and the projects they can harvest."""
    data_sources = list(selectors.data_source_list(user=request.user))
    administered = _administered_projects(request.user)
    with_warehouse_source = {source.project_id for source in data_sources if source.is_warehouse}
    return render(request, "catalog/data_map.html", {
        "data_sources": data_sources,
        "administered_ids": {project.pk for project in administered},
        "unharvested_projects": [project for project in administered if project.pk not in with_warehouse_source],
        "may_register": bool(administered),
    })


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def data_source_create(request):
    administered = {project.name: project for project in _administered_projects(request.user)}
    if not administered:
        return render(request, "forbidden.html", {
            "reason": "Only project admins register data sources, and you administer no project.",
        }, status=403)
    form = forms.DataSourceForm(request.POST or None, project_choices=sorted(administered),
                                initial={"project": request.GET.get("project")})
    check = None
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        project = administered[data.pop("project")]
        if request.POST.get("action") == "test":
            try:
                check = services.connection_parameters_test(
                    actor=request.user, project=project, kind=data["kind"], host=data["host"], port=data["port"],
                    database=data["database"], username=data["username"], password=data["password"],
                    tls_mode=data["tls_mode"],
                )
            except ValidationError as error:
                messages.error(request, readable(error))
        else:
            data_source = apply_service(request, services.data_source_create,
                                        f"Data source {data['name']} registered.", project=project, **data)
            if data_source:
                return redirect("catalog:data-source-detail", pk=data_source.pk)
    elif request.method == "POST":
        messages.error(request, form_errors(form))
    return render(request, "catalog/data_source_form.html", {"form": form, "check": check})


@login_required
@require_GET
def data_source_detail(request, pk: int):
    data_source = _data_source_or_404(request, pk)
    capabilities = project_capabilities(request.user, data_source.project)
    return render(request, "catalog/data_source_detail.html", {
        "data_source": data_source,
        "tables": selectors.table_list(user=request.user, data_source=data_source, include_dropped=True),
        "runs": selectors.harvest_run_list(user=request.user, data_source=data_source)[:10],
        "may_manage": Capability.MANAGE_MEMBERS in capabilities,
    })


@login_required
@require_POST
@forbidden_as_page
def data_source_test(request, pk: int):
    data_source = _data_source_or_404(request, pk)
    check = services.data_source_test_connection(actor=request.user, data_source=data_source)
    (messages.success if check.ok else messages.error)(request, check.message)
    return redirect("catalog:data-source-detail", pk=data_source.pk)


@login_required
@require_POST
@forbidden_as_page
def data_source_harvest(request, pk: int):
    data_source = _data_source_or_404(request, pk)
    run = apply_service(request, services.harvest_start, f"Harvest of {data_source.name} queued.",
                        data_source=data_source)
    if run:
        return redirect("catalog:harvest-run-detail", pk=run.pk)
    return redirect("catalog:data-source-detail", pk=data_source.pk)


@login_required
@require_POST
@forbidden_as_page
def project_harvest(request, name: str):
    projects = {project.name: project for project in project_list(user=request.user)}
    if name not in projects:
        raise Http404("No such project.")
    run = apply_service(request, services.project_harvest_start, f"Harvest of {name}'s warehouse schema queued.",
                        project=projects[name])
    if run:
        return redirect("catalog:harvest-run-detail", pk=run.pk)
    return redirect("catalog:data-map")


@login_required
@require_GET
def harvest_run_detail(request, pk: int):
    try:
        run = selectors.harvest_run_list(user=request.user).get(pk=pk)
    except HarvestRun.DoesNotExist:
        raise Http404("No such harvest.") from None
    context = {
        "run": run,
        "finished": run.status in (HarvestStatus.SUCCEEDED, HarvestStatus.FAILED),
        "counts": [(name.replace("_", " ").capitalize(), value) for name, value in run.counts.items()],
    }
    # htmx polls the progress block alone until the run has finished.
    template = "catalog/_harvest_progress.html" if request.headers.get("HX-Request") else "catalog/harvest_run.html"
    return render(request, template, context)


LINEAGE_DEPTHS = range(1, 6)
LINEAGE_DEFAULT_DEPTH = 2
# The page speaks of upstream and downstream; lineage_graph of up and down.
LINEAGE_DIRECTIONS = {"both": "both", "upstream": "up", "downstream": "down"}
# Beyond this many visible tables a select is unusable: the add-edge form asks for a name.
LINEAGE_TABLE_CHOICES_MAX = 200
LINEAGE_PAIR_ROWS = 3


def _lineage_view(request) -> tuple[int, str]:
    """Depth and direction of the lineage picture from the query string; bad values fall
    back to the defaults with a message."""
    depth, direction = request.GET.get("depth", ""), request.GET.get("direction", "both")
    if depth == "":
        depth = LINEAGE_DEFAULT_DEPTH
    elif depth.isdigit() and int(depth) in LINEAGE_DEPTHS:
        depth = int(depth)
    else:
        messages.error(request, f"Depth: use a whole number from 1 to {LINEAGE_DEPTHS[-1]}.")
        depth = LINEAGE_DEFAULT_DEPTH
    if direction not in LINEAGE_DIRECTIONS:
        messages.error(request, f"Direction: choose one of {', '.join(LINEAGE_DIRECTIONS)}.")
        direction = "both"
    return depth, direction


def _lineage_edges_of(user, table: Table) -> list[LineageEdge]:
    return list(
        LineageEdge.objects.restrict(user).filter(Q(source_table=table) | Q(target_table=table))
        .select_related("source_table__data_source__project", "target_table__data_source__project",
                        "source_column", "target_column", "created_by")
        .order_by("id")
    )


def _may_draw_into(user, table: Table, capabilities: dict) -> bool:
    # The rule of lineage.lineage_edge_create, evaluated for many tables at once; it only
    # decides which buttons to show, the service checks again.
    return table.owner_id == user.pk or Capability.MANAGE_MEMBERS in capabilities[table.data_source.project_id]


@login_required
@require_GET
def table_detail(request, pk: int):
    table = _table_or_404(request, pk)
    prefetch_related_objects([table], "columns__terms", "columns__tags")
    project = table.data_source.project
    depth, direction = _lineage_view(request)
    graph = lineage.lineage_graph(user=request.user, table=table, depth=depth,
                                  direction=LINEAGE_DIRECTIONS[direction])
    edges = _lineage_edges_of(request.user, table)
    projects = {project.pk: project} | {edge.target_table.data_source.project.pk: edge.target_table.data_source.project
                                        for edge in edges}
    capabilities = project_capabilities_map(request.user, projects.values())
    may_classify = Capability.MANAGE_SECURITY in capabilities[project.pk]
    may_edit = vocabulary.may_edit_table_metadata(request.user, table) and not table.is_dropped
    may_draw_here = _may_draw_into(request.user, table, capabilities) and not table.is_dropped
    table_choices = None
    if may_draw_here:
        table_choices = list(selectors.table_list(user=request.user).exclude(pk=table.pk)
                             [:LINEAGE_TABLE_CHOICES_MAX + 1])
        if len(table_choices) > LINEAGE_TABLE_CHOICES_MAX:
            table_choices = None
    return render(request, "catalog/table_detail.html", {
        "may_edit": may_edit,
        "members": [membership.user for membership in member_list(user=request.user, project=project)]
        if may_edit else [],
        "categories": list(vocabulary.category_list(user=request.user)) if may_edit else [],
        "terms": list(vocabulary.glossary_term_list(user=request.user)) if may_edit else [],
        "table": table,
        "project": project,
        "may_classify": may_classify,
        "sensitive_types": list(selectors.sensitive_type_list(user=request.user)) if may_classify else [],
        "lineage": lineage_drawing(graph) if graph.edges else None,
        "lineage_depth": depth,
        "lineage_direction": direction,
        "lineage_depths": LINEAGE_DEPTHS,
        "lineage_directions": list(LINEAGE_DIRECTIONS),
        "lineage_edges": edges,
        "deletable_edge_ids": {edge.pk for edge in edges if _may_draw_into(request.user, edge.target_table,
                                                                           capabilities)},
        "may_draw_here": may_draw_here,
        "lineage_table_choices": table_choices,
        "lineage_pair_rows": range(LINEAGE_PAIR_ROWS),
        "sensitivity_flags": lineage.lineage_sensitivity_flags(user=request.user, table=table),
        "access_panels": hooks.table_access_html(request, table),
    })


@login_required
@require_POST
@forbidden_as_page
def column_classify(request, pk: int):
    column = _column_or_404(request, pk)
    types = {str(sensitive_type.pk): sensitive_type for sensitive_type in selectors.sensitive_type_list(user=request.user)}
    form = forms.ColumnClassifyForm(request.POST, type_choices=[(pk, t.name) for pk, t in types.items()])
    if not form.is_valid():
        messages.error(request, form_errors(form))
    else:
        classification = types.get(form.cleaned_data["classification"])
        level = form.cleaned_data["sensitivity_level"]
        options = {"classification": classification}
        if level is not None or classification is None:
            options["sensitivity_level"] = level
        apply_service(request, services.column_classify, f"{column.name} classified.", column=column, **options)
    return redirect(reverse("catalog:table-detail", kwargs={"pk": column.table_id}) + f"#column-{column.pk}")


@login_required
@require_POST
@forbidden_as_page
def table_metadata_update(request, pk: int):
    table = _table_or_404(request, pk)
    project = table.data_source.project
    post = request.POST
    try:
        owner = post.get("owner") or None
        owner = vocabulary.project_member_users(project=project, usernames=[owner], field="owner")[0] if owner else None
        stewards = vocabulary.project_member_users(project=project, usernames=post.getlist("stewards"),
                                                   field="stewards")
        categories = list(vocabulary.category_list(user=request.user).filter(pk__in=_ids(post, "categories")))
        terms = list(vocabulary.glossary_term_list(user=request.user).filter(pk__in=_ids(post, "terms")))
    except ValidationError as error:
        messages.error(request, readable(error))
        return redirect("catalog:table-detail", pk=table.pk)
    apply_service(request, vocabulary.table_metadata_update, f"{table.qualified_name} updated.", table=table,
                  description=post.get("description", ""), owner=owner, stewards=stewards,
                  categories=categories, terms=terms, tags=_tag_names(post))
    return redirect("catalog:table-detail", pk=table.pk)


@login_required
@require_POST
@forbidden_as_page
def column_metadata_update(request, pk: int):
    column = _column_or_404(request, pk)
    post = request.POST
    back = reverse("catalog:table-detail", kwargs={"pk": column.table_id}) + f"#column-{column.pk}"
    try:
        term_ids = set(_ids(post, "terms"))
        terms = list(vocabulary.glossary_term_list(user=request.user).filter(pk__in=term_ids))
        if len(terms) != len(term_ids):
            raise ValidationError({"terms": "No such glossary term."})
    except ValidationError as error:
        messages.error(request, readable(error))
        return redirect(back)
    apply_service(request, vocabulary.column_metadata_update, f"{column.name} updated.", column=column,
                  description=post.get("description", ""), terms=terms, tags=_tag_names(post))
    return redirect(back)


def _ids(post, name: str) -> list[int]:
    values = post.getlist(name)
    if not all(value.isdigit() for value in values):
        raise ValidationError({name: "Choose from the list."})
    return [int(value) for value in values]


def _tag_names(post) -> list[str]:
    return [tag.strip() for tag in post.get("tags", "").split(",") if tag.strip()]


def _other_table(user, post, table: Table) -> Table:
    """The other end of a new edge: a table id from the select, or ``schema.table`` typed in
    when there are too many tables to list (a name in several data sources means the one in
    ``table``'s source, if any)."""
    visible = selectors.table_list(user=user)
    if post.get("other_table"):
        found = visible.filter(pk=post["other_table"]).first() if post["other_table"].isdigit() else None
        if found is None:
            raise ValidationError({"other_table": "No such table."})
        return found
    name = post.get("other_table_name", "").strip()
    if not name:
        raise ValidationError({"other_table": "Choose a table."})
    schema, _, table_name = name.partition(".")
    matches = list(visible.filter(schema=schema, name=table_name))
    if len(matches) > 1:
        matches = [match for match in matches if match.data_source_id == table.data_source_id] or matches
    if not matches:
        raise ValidationError({"other_table": f"No table {name} that you may see; write it as schema.table."})
    if len(matches) > 1:
        sources = ", ".join(sorted(match.data_source.name for match in matches))
        raise ValidationError({"other_table": f"{name} is in several data sources ({sources}); "
                                              "draw the edge from one of those tables' pages."})
    return matches[0]


def _lineage_ends(post, table: Table, other: Table) -> list[dict]:
    """The keyword arguments of one lineage_edge_create per edge the form asks for: one
    table-level edge, or one column-level edge per column pair."""
    upstream = post.get("direction") == "upstream"
    if not upstream and post.get("direction") != "downstream":
        raise ValidationError({"direction": "Choose upstream or downstream."})
    own_columns = {str(column.pk): column for column in table.columns.all()}
    ends = []
    for own_id, other_name in zip(post.getlist("this_column"), post.getlist("other_column"), strict=False):
        other_name = other_name.strip()
        if not own_id and not other_name:
            continue
        if not own_id or not other_name:
            raise ValidationError({"columns": "Give both columns of a pair, or neither."})
        own = own_columns.get(own_id)
        if own is None:
            raise ValidationError({"columns": f"{table.qualified_name} has no such column."})
        theirs = other.columns.filter(name=other_name).first()
        if theirs is None:
            raise ValidationError({"columns": f"{other.qualified_name} has no column {other_name}."})
        ends.append({"source_column": theirs, "target_column": own} if upstream
                    else {"source_column": own, "target_column": theirs})
    if not ends:
        ends.append({"source_table": other, "target_table": table} if upstream
                    else {"source_table": table, "target_table": other})
    return ends


@login_required
@require_POST
@forbidden_as_page
def lineage_edge_create(request, pk: int):
    table = _table_or_404(request, pk)
    back = reverse("catalog:table-detail", kwargs={"pk": table.pk}) + "#lineage-section"
    try:
        other = _other_table(request.user, request.POST, table)
        ends = _lineage_ends(request.POST, table, other)
        # Several column pairs are one change: a refused pair leaves none of them behind.
        with transaction.atomic():
            for end in ends:
                lineage.lineage_edge_create(actor=request.user, request=request, **end)
    except ValidationError as error:
        messages.error(request, readable(error))
        return redirect(back)
    noun = "edge" if len(ends) == 1 else f"{len(ends)} column edges"
    messages.success(request, f"Lineage {noun} with {other.qualified_name} added.")
    return redirect(back)


@login_required
@require_POST
@forbidden_as_page
def lineage_edge_delete(request, pk: int):
    try:
        edge = LineageEdge.objects.restrict(request.user).select_related(
            "source_table", "target_table", "source_column", "target_column").get(pk=pk)
    except LineageEdge.DoesNotExist:
        raise Http404("No such lineage edge.") from None
    # Back to the page the button was on, which shows one end of the edge.
    shown = request.POST.get("table", "")
    back_to = int(shown) if shown.isdigit() and int(shown) in (edge.source_table_id, edge.target_table_id) \
        else edge.target_table_id
    source = f"{edge.source_table}.{edge.source_column.name}" if edge.source_column else str(edge.source_table)
    target = f"{edge.target_table}.{edge.target_column.name}" if edge.target_column else str(edge.target_table)
    apply_service(request, lineage.lineage_edge_delete, f"Lineage edge {source} → {target} removed.", edge=edge)
    return redirect(reverse("catalog:table-detail", kwargs={"pk": back_to}) + "#lineage-section")


FACET_TITLES = {"project": "Project", "data_source": "Data source", "level": "Sensitivity level",
                "sensitive_type": "Sensitive type", "owner": "Owner", "category": "Category"}


@login_required
@require_GET
def catalog_search_page(request):
    """The one search box: the same parameters and validation as GET /api/v1/catalog/search."""
    params = SearchQuerySerializer(data=request.GET)
    if not params.is_valid():
        messages.error(request, readable(ValidationError(params.errors)))
        return render(request, "catalog/search.html", {"q": request.GET.get("q", ""), "result": None})
    q, page, page_size = (params.validated_data[name] for name in ("q", "page", "page_size"))
    try:
        result, _, _ = search.catalog_search_with(user=request.user, params=params.validated_data)
    except ValidationError as error:
        messages.error(request, readable(error))
        result = None
    active = {name: request.GET[name] for name in FACET_TITLES if request.GET.get(name)}
    facets = [
        {"name": name, "title": title, "active": active.get(name), "values": result.facets.get(name, [])[:10],
         "base_query": _query_without(request.GET, name)}
        for name, title in FACET_TITLES.items()
    ] if result else []
    return render(request, "catalog/search.html", {
        "q": q, "result": result, "facets": facets, "page": page,
        "has_next": result is not None and page * page_size < result.count,
        "page_base_query": _query_without(request.GET, "page"),
    })


def _query_without(params, name: str) -> str:
    """The current query string without ``name`` (and back on the first page), for links
    that set or clear one filter."""
    kept = params.copy()
    kept.pop(name, None)
    if name != "page":
        kept.pop("page", None)
    return kept.urlencode()
