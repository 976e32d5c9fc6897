"""The Data Map's vocabulary pages: the category tree, the glossary, tags and the taxonomy of
sensitive types.

Everyone in a tenant reads its vocabulary; its owner and administrators change it. The
services in ``apps.catalog.vocabulary`` decide who may act: a POST from anyone else is
refused before its input is even read, with the service's own reason, as the 403 page.
Objects of another tenant are not in the selectors' querysets, so they answer 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.catalog import forms, selectors, vocabulary
from apps.catalog.models import Column
from apps.core.web import apply_service, forbidden_as_page, form_errors
from apps.tenancy.selectors import is_tenant_admin


def _require_admin(request, what: str) -> None:
    vocabulary.require_tenant_admin(request.user, request.user.tenant_id, what)


def _found_or_404(queryset, pk: int, noun: str):
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise Http404(f"No such {noun}.")
    return found


# --- categories ---------------------------------------------------------------------------------

def _tree_node(nodes: list[dict], pk: int) -> dict | None:
    for node in nodes:
        if node["id"] == pk:
            return node
        found = _tree_node(node["children"], pk)
        if found is not None:
            return found
    return None


def _subtree_with_root(user, category):
    return vocabulary.category_list(user=user).filter(
        Q(pk=category.pk) | Q(path__startswith=category.path + vocabulary.PATH_SEPARATOR)
    )


def _tables_in_subtree(user, category):
    """The live tables the user may see in the category or below it, each with the
    categories of this subtree it is in (``table.subtree_categories``)."""
    subtree = _subtree_with_root(user, category)
    return (
        selectors.table_list(user=user).filter(categories__in=subtree).distinct()
        .prefetch_related(Prefetch("categories", queryset=subtree, to_attr="subtree_categories"))
    )


def _ancestors(user, category) -> list:
    parts = category.path.split(vocabulary.PATH_SEPARATOR)
    prefixes = [vocabulary.PATH_SEPARATOR.join(parts[:depth]) for depth in range(1, len(parts))]
    return list(vocabulary.category_list(user=user).filter(path__in=prefixes).order_by("path"))


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def category_tree(request):
    """The tree with table counts; tenant admins create categories here."""
    may_manage = is_tenant_admin(request.user)
    if request.method == "POST":
        _require_admin(request, "categories")
    form = forms.CategoryForm(request.POST or None, parent_choices=vocabulary.category_list(user=request.user),
                              initial={"parent": request.GET.get("parent")})
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            category = apply_service(request, vocabulary.category_create, f"Category {data['name']} created.",
                                     **data)
            if category:
                return redirect("catalog:category-detail", pk=category.pk)
        else:
            messages.error(request, form_errors(form))
    return render(request, "catalog/vocabulary/categories.html", {
        "tree": vocabulary.category_tree(user=request.user),
        "form": form if may_manage else None,
    })


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def category_detail(request, pk: int):
    """One category: its subtree, the tables in it, and for tenant admins its edit form."""
    category = _found_or_404(vocabulary.category_list(user=request.user), pk, "category")
    may_manage = is_tenant_admin(request.user)
    if request.method == "POST":
        _require_admin(request, "categories")
    # Moving a category under itself or a descendant is refused by the service; here it
    # is not even offered.
    parent_choices = vocabulary.category_list(user=request.user).exclude(
        pk__in=_subtree_with_root(request.user, category).values("pk"))
    form = forms.CategoryForm(request.POST or None, parent_choices=parent_choices, initial={
        "name": category.name, "parent": category.parent_id, "description": category.description,
    })
    if request.method == "POST":
        if form.is_valid():
            if apply_service(request, vocabulary.category_update, f"Category {form.cleaned_data['name']} saved.",
                             category=category, **form.cleaned_data):
                return redirect("catalog:category-detail", pk=category.pk)
        else:
            messages.error(request, form_errors(form))
    return render(request, "catalog/vocabulary/category_detail.html", {
        "category": category,
        "ancestors": _ancestors(request.user, category),
        "node": _tree_node(vocabulary.category_tree(user=request.user), category.pk),
        "tables": _tables_in_subtree(request.user, category),
        "form": form if may_manage else None,
    })


@login_required
@require_POST
@forbidden_as_page
def category_delete(request, pk: int):
    category = _found_or_404(vocabulary.category_list(user=request.user), pk, "category")
    if apply_service(request, vocabulary.category_delete, f"Category {category.path} deleted.", category=category):
        return redirect("catalog:category-tree")
    return redirect("catalog:category-detail", pk=category.pk)


# --- glossary -----------------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def glossary(request):
    """The glossary, searchable and filtered by category; tenant admins add terms here."""
    may_manage = is_tenant_admin(request.user)
    if request.method == "POST":
        _require_admin(request, "the glossary")
    categories = vocabulary.category_list(user=request.user)
    filters = {"q": request.GET.get("q", "").strip()}
    category_id = request.GET.get("category", "")
    if category_id:
        selected = categories.filter(pk=int(category_id)).first() if category_id.isdigit() else None
        if selected is None:
            messages.error(request, "Category: no such category; showing terms of every category.")
        else:
            filters["category"] = selected
    form = forms.GlossaryTermForm(request.POST or None, category_choices=categories)
    if request.method == "POST":
        if form.is_valid():
            term = apply_service(request, vocabulary.glossary_term_create,
                                 f"Term {form.cleaned_data['name']} added to the glossary.", **form.cleaned_data)
            if term:
                return redirect("catalog:glossary-term", pk=term.pk)
        else:
            messages.error(request, form_errors(form))
    return render(request, "catalog/vocabulary/glossary.html", {
        "terms": vocabulary.glossary_term_list(user=request.user, filters=filters),
        "categories": categories,
        "q": filters["q"],
        "selected_category": filters.get("category"),
        "form": form if may_manage else None,
    })


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def glossary_term(request, pk: int):
    """A term, where the user may see it used, and for tenant admins its edit form."""
    term = _found_or_404(vocabulary.glossary_term_list(user=request.user), pk, "glossary term")
    may_manage = is_tenant_admin(request.user)
    if request.method == "POST":
        _require_admin(request, "the glossary")
    form = forms.GlossaryTermForm(request.POST or None, category_choices=vocabulary.category_list(user=request.user),
                                  initial={"name": term.name, "category": term.category_id,
                                           "synonyms": ", ".join(term.synonyms), "definition": term.definition})
    if request.method == "POST":
        if form.is_valid():
            if apply_service(request, vocabulary.glossary_term_update, f"Term {form.cleaned_data['name']} saved.",
                             term=term, **form.cleaned_data):
                return redirect("catalog:glossary-term", pk=term.pk)
        else:
            messages.error(request, form_errors(form))
    return render(request, "catalog/vocabulary/glossary_term.html", {
        "term": term,
        "tables": selectors.table_list(user=request.user).filter(terms=term),
        "columns": Column.objects.restrict(request.user).live().filter(terms=term)
        .select_related("table").order_by("table__schema", "table__name", "ordinal"),
        "form": form if may_manage else None,
    })


@login_required
@require_POST
@forbidden_as_page
def glossary_term_delete(request, pk: int):
    term = _found_or_404(vocabulary.glossary_term_list(user=request.user), pk, "glossary term")
    if apply_service(request, vocabulary.glossary_term_delete, f"Term {term.name} deleted.", term=term):
        return redirect("catalog:glossary")
    return redirect("catalog:glossary-term", pk=term.pk)


# --- tags ---------------------------------------------------------------------------------------

@login_required
@require_GET
def tag_list(request):
    return render(request, "catalog/vocabulary/tags.html", {
        "tags": vocabulary.tag_list(user=request.user),
        "may_manage": is_tenant_admin(request.user),
    })


@login_required
@require_POST
@forbidden_as_page
def tag_delete(request, pk: int):
    tag = _found_or_404(vocabulary.tag_list(user=request.user), pk, "tag")
    apply_service(request, vocabulary.tag_delete, f"Tag {tag.name} deleted.", tag=tag)
    return redirect("catalog:tags")


# --- sensitive types ----------------------------------------------------------------------------

@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def sensitive_type_list(request):
    """Built-in and custom types by category; tenant admins add custom ones here."""
    may_manage = is_tenant_admin(request.user)
    if request.method == "POST":
        _require_admin(request, "sensitive types")
    form = forms.SensitiveTypeForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            sensitive_type = apply_service(request, vocabulary.sensitive_type_create,
                                           f"Sensitive type {form.cleaned_data['name']} created.",
                                           **form.cleaned_data)
            if sensitive_type:
                return redirect("catalog:sensitive-types")
        else:
            messages.error(request, form_errors(form))
    return render(request, "catalog/vocabulary/sensitive_types.html", {
        "sensitive_types": vocabulary.sensitive_type_list(user=request.user),
        "form": form if may_manage else None,
    })


@login_required
@require_http_methods(["GET", "POST"])
@forbidden_as_page
def sensitive_type_detail(request, pk: int):
    """One type; a custom one has its edit form for tenant admins."""
    sensitive_type = _found_or_404(vocabulary.sensitive_type_list(user=request.user), pk, "sensitive type")
    may_manage = is_tenant_admin(request.user) and not sensitive_type.is_builtin
    if request.method == "POST":
        _require_admin(request, "sensitive types")
    form = forms.SensitiveTypeForm(request.POST or None, editing=True, initial={
        "name": sensitive_type.name, "category": sensitive_type.category,
        "default_level": sensitive_type.default_level, "description": sensitive_type.description,
    })
    if request.method == "POST":
        if form.is_valid():
            if apply_service(request, vocabulary.sensitive_type_update,
                             f"Sensitive type {form.cleaned_data['name']} saved.",
                             sensitive_type=sensitive_type, **form.cleaned_data):
                return redirect("catalog:sensitive-type", pk=sensitive_type.pk)
        else:
            messages.error(request, form_errors(form))
    return render(request, "catalog/vocabulary/sensitive_type.html", {
        "sensitive_type": sensitive_type,
        "form": form if may_manage else None,
    })


@login_required
@require_POST
@forbidden_as_page
def sensitive_type_delete(request, pk: int):
    sensitive_type = _found_or_404(vocabulary.sensitive_type_list(user=request.user), pk, "sensitive type")
    if apply_service(request, vocabulary.sensitive_type_delete, f"Sensitive type {sensitive_type.name} deleted.",
                     sensitive_type=sensitive_type):
        return redirect("catalog:sensitive-types")
    return redirect("catalog:sensitive-type", pk=sensitive_type.pk)
