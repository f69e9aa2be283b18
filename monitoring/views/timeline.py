"""The borrower's timeline and open-case count: htmx fragments pulled into lending's borrower
page by URL (lending imports nothing of monitoring; its template names these routes)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import AuthenticatedRequest, staff_required
from lending.selectors import borrower_visible_to
from monitoring.selectors.timeline import (
    KINDS,
    Cursor,
    borrower_timeline,
    open_case_count,
    parse_kinds,
)


def _visible_borrower_id(request: AuthenticatedRequest, borrower_id: int) -> int:
    """The borrower's id if this login may see them; 404 otherwise (no hint they exist)."""
    if not borrower_visible_to(user=request.user).filter(pk=borrower_id).exists():
        raise Http404("No such borrower.")
    return borrower_id


@require_GET
@staff_required
def borrower_timeline_view(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """A page of the timeline with its kind chips; `?kind=` (repeatable) filters, `?cursor=`
    goes to older entries. Staff only: a borrower never sees the staff timeline."""
    borrower_id = _visible_borrower_id(request, borrower_id)
    kinds = parse_kinds(request.GET.getlist("kind"))
    cursor = Cursor.decode(request.GET.get("cursor", ""))
    page = borrower_timeline(user=request.user, borrower_id=borrower_id, kinds=kinds, cursor=cursor)
    context = {
        "borrower_id": borrower_id,
        "page": page,
        "chips": [
            {"code": code, "label": label, "on": code in kinds} for code, label in KINDS.items()
        ],
        "all_on": not kinds,
        "selected": kinds,
    }
    if not request.htmx:
        # Without JavaScript the fragment's links open a page of its own.
        return render(request, "monitoring/timeline/page.html", context)
    template = "monitoring/timeline/timeline.html"
    if cursor is not None:
        # "Show older" swaps its own row for the next rows, below those already shown.
        template += "#timeline-rows"
    return render(request, template, context)


@require_GET
@staff_required
def borrower_open_cases_view(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """The borrower header's open-case badge."""
    borrower_id = _visible_borrower_id(request, borrower_id)
    count = open_case_count(user=request.user, borrower_id=borrower_id)
    return render(
        request,
        "monitoring/timeline/open_cases.html",
        {"count": count, "borrower_id": borrower_id},
    )
