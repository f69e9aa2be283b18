"""The champion / challenger report: two versions of a scorecard compared on matured
outcomes (decisions.selectors.reports). Every risk staff member may read it."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import AuthenticatedRequest, staff_required
from decisions.forms import ComparisonForm
from decisions.selectors import comparison_defaults, model_comparison
from decisions.selectors.reports import WINDOW_DAYS_DEFAULT


@require_GET
@staff_required
def model_comparison_view(request: AuthenticatedRequest) -> HttpResponse:
    """Pick two versions, the window and what "bad" means; see both side by side."""
    if "first" in request.GET:
        form = ComparisonForm(request.GET)
    else:
        pair = comparison_defaults()
        initial: dict[str, Any] = {"window_days": WINDOW_DAYS_DEFAULT, "dpd": 30}
        if pair is not None:
            initial = {**initial, "first": pair[0].pk, "second": pair[1].pk}
        # Bound to the defaults, so the report opens on the champion and its challenger.
        form = ComparisonForm(initial if pair is not None else None, initial=initial)
    context: dict[str, Any] = {"form": form}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        context["report"] = model_comparison(
            first=data["first"],
            second=data["second"],
            window_days=data["window_days"],
            dpd=data["dpd"],
            today=timezone.localdate(),
        )
    return render(request, "decisions/model_comparison.html", context)
