"""Scorecard pages: the versions, one version (points table, bins, IV), promoting a version;
the features catalogue; a borrower's score panel for staff and a borrower's own reasons.

Every risk staff member reads everything here; a manager promotes scorecards (the service
re-checks the role). Reads come from decisions.selectors; charts are Plotly figure dicts
emitted with json_script and drawn by static/js/charts.js.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from decisions.choices import ModelStatus
from decisions.models import ScorecardModel
from decisions.selectors import (
    borrower_own_reasons,
    borrower_score_panel,
    feature_catalogue,
    scorecard_list,
    scorecard_page,
)
from decisions.services import MODEL_GOVERNORS, TRANSITIONS, scorecard_set_status
from decisions.views._common import fragment, require_role

# The buttons that move a scorecard version, by the status they lead to.
STATUS_ACTIONS: dict[str, Any] = {
    ModelStatus.CHALLENGER: _("Make challenger"),
    ModelStatus.CHAMPION: _("Make champion"),
    ModelStatus.RETIRED: _("Retire"),
}


@require_GET
@staff_required
def scorecard_list_view(request: AuthenticatedRequest) -> HttpResponse:
    """Every scorecard version with its status and test metrics."""
    return render(request, "decisions/scorecard_list.html", {"models": scorecard_list()})


def _status_context(request: AuthenticatedRequest, model: ScorecardModel) -> dict[str, Any]:
    can_govern = request.user.role in MODEL_GOVERNORS
    moves = TRANSITIONS.get(model.status, set()) if can_govern else set()
    return {
        "model": model,
        "can_govern": can_govern,
        # In the life order (challenger, champion, retired), not the set's:
        "actions": [(status, label) for status, label in STATUS_ACTIONS.items() if status in moves],
    }


@require_GET
@staff_required
def scorecard_detail(request: AuthenticatedRequest, model_id: int) -> HttpResponse:
    """One scorecard version: metrics, IV per feature, the points table and charts by feature."""
    page = scorecard_page(model_id=model_id)
    context = {**page, **_status_context(request, page["model"])}
    return render(request, "decisions/scorecard_detail.html", context)


@require_POST
@staff_required
def scorecard_status_view(request: AuthenticatedRequest, model_id: int) -> HttpResponse:
    """Promote or retire a version (managers and above); a refusal is shown in the panel."""
    require_role(request, MODEL_GOVERNORS)
    model = get_object_or_404(scorecard_list(), pk=model_id)
    status = request.POST.get("status", "")
    if status not in STATUS_ACTIONS:
        raise PermissionDenied  # the page only offers these
    error = ""
    done = ""
    try:
        model = scorecard_set_status(
            actor=request.user, model=model, status=status, note=request.POST.get("note", "")[:500]
        )
        done = gettext("Saved: this version is now %(status)s.") % {
            "status": model.get_status_display()
        }
    except DomainError as exc:
        error = exc.message
        model.refresh_from_db()  # show the state that won, not the one we tried to reach
    context = {**_status_context(request, model), "error": error, "done": done}
    if request.htmx:
        return render(request, "decisions/scorecard_detail.html#status-panel", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("decisions:scorecard-detail", model_id=model.pk)


@require_GET
@staff_required
def feature_list(request: AuthenticatedRequest) -> HttpResponse:
    """The feature catalogue, with the reason each gives a borrower when it lowers the score."""
    return render(request, "decisions/feature_list.html", {"rows": feature_catalogue()})


# --- a borrower's scores and limit decisions --------------------------------------------------


@require_GET
@staff_required
def borrower_score(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """The score panel of the staff borrower page (loaded by htmx; a page of its own without)."""
    context = borrower_score_panel(user=request.user, borrower_id=borrower_id)
    template = fragment(request, "decisions/borrower_score.html", "score-panel")
    return render(request, template, context)


@require_GET
@login_required
def borrower_reasons(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """Why a borrower's limit is what it is, in plain sentences. A borrower login may ask for
    its own id only (404 otherwise); staff may read any."""
    context = borrower_own_reasons(user=request.user, borrower_id=borrower_id)
    template = fragment(request, "decisions/borrower_reasons.html", "reasons-panel")
    return render(request, template, context)
