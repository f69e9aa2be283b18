"""Reads of the whole-book scoring runs for the runs page: progress, durations, failures,
decisions by action, and the borrowers whose scores have gone stale.

Each read is a fixed number of queries whatever the number of runs or chunks shown: chunk
counts, chunk durations and decisions are aggregated in one query each for all runs listed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Subquery,
    Sum,
    Value,
    When,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone

from decisions.choices import LimitAction, RunStatus
from decisions.models import LimitDecision, Score, ScoringChunk, ScoringRun
from lending.choices import LineStatus
from lending.selectors import borrower_visible_to

if TYPE_CHECKING:
    from accounts.models import User

RUNS_SHOWN = 20
STALE_SHOWN = 20
FAILED_SHOWN = 50
# A borrower not scored for this many days is stale (the nightly run scores everyone daily).
STALE_DAYS_DEFAULT = 2


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between ranks; None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def _clock(delta: timedelta) -> str:
    """A duration as h:mm:ss (the same in every language)."""
    total = max(int(delta.total_seconds()), 0)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _summaries(runs: list[ScoringRun]) -> list[dict[str, Any]]:
    """Each run with its progress, chunk durations (p50/p95) and decisions by action."""
    ids = [run.pk for run in runs]
    counts: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
    for row in (
        ScoringChunk.objects.filter(run_id__in=ids)
        .values("run_id", "status")
        .annotate(chunks=Count("id"), borrowers=Sum("size"))
        .order_by()
    ):
        counts[row["run_id"]][row["status"]] = {
            "chunks": row["chunks"],
            "borrowers": row["borrowers"] or 0,
        }
    seconds: dict[int, list[float]] = defaultdict(list)
    for run_pk, value in ScoringChunk.objects.filter(
        run_id__in=ids, status=RunStatus.DONE, seconds__isnull=False
    ).values_list("run_id", "seconds"):
        if value is not None:
            seconds[run_pk].append(value)
    decisions: dict[str, dict[str, int]] = defaultdict(dict)
    if runs:
        # decided_at is indexed and no decision of a run precedes the run's start, so the
        # range keeps this off a scan of every decision ever made.
        earliest = min(run.started_at for run in runs)
        for run_id, action, n in (
            LimitDecision.objects.filter(
                run_id__in=[run.run_id for run in runs], decided_at__gte=earliest
            )
            .values("run_id", "action")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("run_id", "action", "n")
        ):
            decisions[run_id][action] = n
    now = timezone.now()
    summaries = []
    for run in runs:
        by_status = counts.get(run.pk, {})
        done = by_status.get(RunStatus.DONE, {"chunks": 0, "borrowers": 0})
        failed = by_status.get(RunStatus.FAILED, {"chunks": 0, "borrowers": 0})
        end = run.finished_at or now
        summaries.append(
            {
                "run": run,
                "running": run.status == RunStatus.RUNNING,
                "duration": end - run.started_at,
                "duration_text": _clock(end - run.started_at),
                "chunks_done": done["chunks"],
                "chunks_failed": failed["chunks"],
                "borrowers_done": done["borrowers"],
                "percent": round(100 * done["chunks"] / run.chunks_total)
                if run.chunks_total
                else 100,
                "p50": percentile(seconds.get(run.pk, []), 50),
                "p95": percentile(seconds.get(run.pk, []), 95),
                "decisions": [
                    {
                        "action": action,
                        "label": label,
                        "count": decisions[run.run_id].get(action, 0),
                    }
                    for action, label in LimitAction.choices
                ],
            }
        )
    return summaries


def scoring_run_list(*, limit: int = RUNS_SHOWN) -> list[dict[str, Any]]:
    """The newest whole-book runs, each summarised (see _summaries); four queries in all."""
    return _summaries(list(ScoringRun.objects.order_by("-started_at", "-id")[:limit]))


def failed_chunk_list(*, limit: int = FAILED_SHOWN) -> list[ScoringChunk]:
    """Chunks that failed and have not been done since, newest run first, with their run."""
    return list(
        ScoringChunk.objects.filter(status=RunStatus.FAILED)
        .select_related("run")
        .order_by("-run__started_at", "run_id", "index")[:limit]
    )


def scoring_run_detail(*, run_pk: int) -> dict[str, Any]:
    """One run summarised, with every chunk: failed first (with their error), then running,
    then done, each by index. Raises Http404 for an unknown run."""
    run = get_object_or_404(ScoringRun, pk=run_pk)
    summary = _summaries([run])[0]
    failed_first = Case(
        When(status=RunStatus.FAILED, then=Value(0)),
        When(status=RunStatus.RUNNING, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    summary["chunks"] = list(ScoringChunk.objects.filter(run=run).order_by(failed_first, "index"))
    return summary


def stale_scores(*, user: User, days: int, limit: int = STALE_SHOWN) -> dict[str, Any]:
    """Borrowers with an open line whose latest acting score is older than `days` days, or who
    have none: how many, and the first `limit` (never scored first, then the oldest score),
    each with the time of its latest acting score. Only borrowers `user` may see."""
    cutoff = timezone.now() - timedelta(days=days)
    acting = Score.objects.filter(borrower_id=OuterRef("pk"), acting=True)
    stale = (
        borrower_visible_to(user=user)
        .filter(line__isnull=False)
        .exclude(line__status=LineStatus.CLOSED)
        .filter(~Exists(acting.filter(scored_at__gte=cutoff)))
    )
    rows = list(
        stale.annotate(
            last_scored=Subquery(acting.order_by("-scored_at", "-id").values("scored_at")[:1])
        )
        .only("id", "customer_no", "name")
        .order_by(F("last_scored").asc(nulls_first=True), "id")[:limit]
    )
    return {"count": stale.count(), "rows": rows, "days": days, "cutoff": cutoff}
