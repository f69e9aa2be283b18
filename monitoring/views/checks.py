"""The drawdown checks page for risk staff: what the lending core asked and was told, newest
first, with the API's filters (monitoring.filters_checks). Thin: parse, select, render."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts import masking
from accounts.decorators import AuthenticatedRequest, staff_required
from monitoring.filters_checks import DrawdownCheckFilter
from monitoring.models import DrawdownCheck
from monitoring.selectors.checks import check_visible_to, checks_page, reason_texts


@require_GET
@staff_required
def check_list(request: AuthenticatedRequest) -> HttpResponse:
    """Checks, newest first, a keyset page at a time. An invalid filter value shows its
    message and no rows (status 400): never the whole list as if unfiltered."""
    check_filter = DrawdownCheckFilter(
        request.GET or None, queryset=check_visible_to(user=request.user)
    )
    invalid = check_filter.is_bound and not check_filter.is_valid()
    page = None
    rows: list[tuple[DrawdownCheck, str, list[str]]] = []
    if not invalid:
        page = checks_page(check_filter.qs, after=request.GET.get("after", ""))
        rows = [
            (check, masking.mask_name(check.borrower.name), reason_texts(check.reasons))
            for check in page.checks
        ]
    query = request.GET.copy()
    query.pop("after", None)
    return render(
        request,
        "monitoring/checks/list.html",
        {
            "filter": check_filter,
            "page": page,
            "rows": rows,
            "errors": check_filter.errors_text() if invalid else [],
            "pager_query": query.urlencode(),
        },
        status=400 if invalid else 200,
    )
