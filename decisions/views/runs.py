"""The whole-book scoring runs page: progress of each run (polled by htmx while one runs),
a run's chunks with their errors, re-queueing a failed chunk (managers and above), and the
borrowers whose scores have gone stale. Every risk staff member may read it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from decisions.forms import StaleForm
from decisions.models import ScoringChunk
from decisions.selectors import (
    failed_chunk_list,
    scoring_run_detail,
    scoring_run_list,
    stale_scores,
)
from decisions.selectors.runs import STALE_DAYS_DEFAULT
from decisions.services.requeue import RUN_OPERATORS, scoring_chunk_requeue
from decisions.views._common import fragment, require_role


@require_GET
@staff_required
def run_list(request: AuthenticatedRequest) -> HttpResponse:
    """The newest whole-book runs with their progress, and the stale scores."""
    form = StaleForm(request.GET or None)
    days = STALE_DAYS_DEFAULT
    if form.is_valid() and form.cleaned_data.get("days"):
        days = form.cleaned_data["days"]
    runs = scoring_run_list()
    context: dict[str, Any] = {
        "runs": runs,
        "any_running": any(item["running"] for item in runs),
        "failed_chunks": failed_chunk_list(),
        "can_requeue": request.user.role in RUN_OPERATORS,
        "stale_form": form if form.is_bound else StaleForm(initial={"days": days}),
    }
    if request.htmx and request.htmx.target == "runs-progress":
        return render(request, "decisions/run_list.html#runs-progress", context)
    context["stale"] = stale_scores(user=request.user, days=days)
    return render(request, "decisions/run_list.html", context)


def _run_context(request: AuthenticatedRequest, run_pk: int) -> dict[str, Any]:
    return {
        **scoring_run_detail(run_pk=run_pk),
        "can_requeue": request.user.role in RUN_OPERATORS,
    }


@require_GET
@staff_required
def run_detail(request: AuthenticatedRequest, run_pk: int) -> HttpResponse:
    """One run: its summary and every chunk, failed first with their error (polled by htmx
    while the run is running)."""
    context = _run_context(request, run_pk)
    return render(request, fragment(request, "decisions/run_detail.html", "run-body"), context)


@require_POST
@staff_required
def chunk_requeue_view(request: AuthenticatedRequest, run_pk: int, index: int) -> HttpResponse:
    """Send a failed chunk back to the workers (managers and above); a refusal is shown."""
    require_role(request, RUN_OPERATORS)
    chunk = get_object_or_404(ScoringChunk, run_id=run_pk, index=index)
    error = ""
    try:
        scoring_chunk_requeue(actor=request.user, chunk=chunk)
    except DomainError as exc:
        error = exc.message
    done = gettext("Chunk %(index)s was sent back to the workers.") % {"index": index}
    if request.htmx:
        context = {**_run_context(request, run_pk), "error": error, "done": "" if error else done}
        return render(request, "decisions/run_detail.html#run-body", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("decisions:run-detail", run_pk=run_pk)
