from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.audit import selectors
from apps.audit.filters import EventFilter

PAGE_SIZE = 50


@login_required
def event_list(request):
    filterset = EventFilter(request.GET or None, queryset=selectors.event_list(user=request.user))
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "audit/event_list.html", {
        "filter": filterset,
        "page": page,
        "may_verify": selectors.may_verify(request.user),
    })


@login_required
@require_http_methods(["GET", "POST"])
def chain_verify(request):
    """GET explains and offers the button; POST runs the verification (it walks the whole
    chain, so a link prefetch must not start it)."""
    if not selectors.may_verify(request.user):
        raise PermissionDenied
    result = selectors.chain_verification(user=request.user) if request.method == "POST" else None
    return render(request, "audit/verify.html", {"result": result})
