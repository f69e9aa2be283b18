"""Alert pages for risk staff: the list (the API's AlertFilter, newest first, keyset pages) and
one alert with its evidence made readable. Thin: parse, call a selector, render."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from accounts import masking
from accounts.decorators import AuthenticatedRequest, staff_required
from monitoring.filters import AlertFilter
from monitoring.models import Alert
from monitoring.selectors.alerts import AlertCursor, alert_evidence, alerts_page
from monitoring.selectors.cases import alert_visible_to
from monitoring.selectors.timeline import Cursor


def _pager_query(request: AuthenticatedRequest) -> str:
    """The filters of this page, without its position, for the pager's links."""
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    return query.urlencode()


@require_GET
@staff_required
def alert_list(request: AuthenticatedRequest) -> HttpResponse:
    """Alerts, newest first. An invalid filter value shows its message and no rows: never the
    whole list as if unfiltered."""
    alert_filter = AlertFilter(request.GET or None, queryset=alert_visible_to(user=request.user))
    invalid = alert_filter.is_bound and not alert_filter.is_valid()
    page = None
    rows: list[tuple[Alert, str]] = []
    if not invalid:
        page = alerts_page(
            alert_filter.qs,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        )
        rows = [(alert, masking.mask_name(alert.borrower.name)) for alert in page.alerts]
    errors = [
        f"{alert_filter.form.fields[name].label}: {' '.join(messages)}"
        for name, messages in (alert_filter.errors.items() if invalid else [])
        if name in alert_filter.form.fields
    ]
    return render(
        request,
        "monitoring/alerts/list.html",
        {
            "filter": alert_filter,
            "page": page,
            "rows": rows,
            "errors": errors,
            "pager_query": _pager_query(request),
            "filtered": bool(_pager_query(request)),
        },
        status=400 if invalid else 200,
    )


@require_GET
@staff_required
def alert_detail(request: AuthenticatedRequest, alert_id: int) -> HttpResponse:
    """One alert: its rule and version, severity, borrower (masked), case, the event that
    fired it, and its evidence with links to the loans and borrowers it names."""
    alert = get_object_or_404(
        alert_visible_to(user=request.user).select_related(
            "rule_version__rule", "borrower", "case", "event"
        ),
        pk=alert_id,
    )
    # The borrower's timeline from this alert's moment back: what led up to it.
    timeline_cursor = Cursor(at=alert.occurred_at + timedelta(seconds=1), rank=0, id=0).encode()
    return render(
        request,
        "monitoring/alerts/detail.html",
        {
            "alert": alert,
            "masked_name": masking.mask_name(alert.borrower.name),
            "masked_mobile": masking.mask_mobile(alert.borrower.mobile),
            "evidence": alert_evidence(alert),
            "timeline_cursor": timeline_cursor,
            "list_cursor": AlertCursor.of(alert).encode(),
        },
    )
