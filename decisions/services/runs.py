"""The whole-book run: planned as chunks, each scored and reviewed idempotently."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import audit
from decisions.choices import RunStatus
from decisions.errors import NoActivePolicy
from decisions.features import chunk_features
from decisions.models import (
    LimitDecision,
    Score,
    ScoringChunk,
    ScoringRun,
)
from decisions.services.policies import active_policy
from decisions.services.reviews import chunk_review, chunk_state, latest_acting, scores_now
from decisions.services.scoring import chunk_scores_write, scores_audit
from lending.models import CreditLine, LimitChange, Notice
from lending.selectors import borrower_id_chunks

if TYPE_CHECKING:
    from accounts.models import User


@transaction.atomic(durable=True)
def scoring_run_start(*, as_of: date, chunk_size: int, run_id: str) -> ScoringRun:
    """Plan a whole-book run: one chunk row per `chunk_size` borrowers (by id ranges).

    Starting a run id that exists returns it unchanged (a redelivered start plans nothing
    twice)."""
    existing = ScoringRun.objects.filter(run_id=run_id).first()
    if existing is not None:
        return existing
    chunks = [(ids[0], ids[-1], len(ids)) for ids in borrower_id_chunks(size=chunk_size)]
    run = ScoringRun.objects.create(
        run_id=run_id,
        as_of=as_of,
        chunks_total=len(chunks),
        borrowers=sum(size for _f, _l, size in chunks),
        started_at=timezone.now(),
        status=RunStatus.RUNNING if chunks else RunStatus.DONE,
        finished_at=None if chunks else timezone.now(),
    )
    ScoringChunk.objects.bulk_create(
        ScoringChunk(run=run, index=i, first_id=first, last_id=last, size=size)
        for i, (first, last, size) in enumerate(chunks)
    )
    audit(
        actor=None,
        action="scoring_run.started",
        obj=run,
        after={"run_id": run_id, "as_of": as_of, "chunks": len(chunks), "borrowers": run.borrowers},
    )
    return run


@dataclass
class ChunkResult:
    scores: int = 0
    decisions: list[Any] = field(default_factory=list)  # LimitDecision or DecisionRow


@transaction.atomic(durable=True)
def chunk_rescore(
    *,
    actor: User | None,
    run_id: str,
    borrower_ids: Sequence[int],
    as_of: date,
    name: str = "book",
    chunk: ScoringChunk | None = None,
    started: float | None = None,
) -> ChunkResult:
    """Score a chunk of borrowers and review their lines, in one transaction, in bulk.

    Features (set-based), scores (champion and challenger, COPY), the review of every line by
    the active policy (vectorised, decisions.services.reviews.chunk_review) and its writes: the
    limit changes, freezes, notices and decisions, and the audit rows in bulk (one per change
    and one per chunk for the scores). Without a champion nothing happens; without an active
    policy the lines are not reviewed.

    Idempotent: with `chunk`, the chunk row is locked first and a chunk already done writes
    nothing (a redelivered task); it is marked done in the same transaction. Without, a
    borrower already scored or decided in run `run_id` is not scored or decided again.
    """
    _plan_for_a_chunk()
    if chunk is not None:
        chunk = ScoringChunk.objects.select_for_update().get(pk=chunk.pk)
        if chunk.status == RunStatus.DONE:
            return ChunkResult()
    result = ChunkResult()
    ids = sorted(int(i) for i in borrower_ids)
    previous = _latest_totals(ids, run_id=run_id, count=1)
    scored = chunk_scores_write(run_id=run_id, borrower_ids=ids, as_of=as_of, name=name)
    try:
        policy = active_policy()
    except NoActivePolicy:
        policy = None
    if scored is not None:
        result.scores = scored.written
        features = scored.features
        current = {
            b: float(t)
            for b, t in zip(scored.borrower_ids.tolist(), scored.acting_total.tolist(), strict=True)
            if t == t  # NaN: no acting score
        }
        score_ids = dict(zip(scored.borrower_ids.tolist(), scored.acting_score_id, strict=True))
    elif policy is not None and ids:
        # No champion: the lines are still reviewed, on the scores they already have.
        scores = scores_now(ids)
        current, previous = scores.current, scores.previous
        score_ids = scores.score_ids
        features = chunk_features(borrower_ids=ids, as_of=as_of)
    if policy is not None and ids:
        if run_id:
            done = set(
                LimitDecision.objects.filter(
                    run_id=run_id, borrower_id__gte=ids[0], borrower_id__lte=ids[-1]
                ).values_list("borrower_id", flat=True)
            )
            ids = [i for i in ids if i not in done]
        # The lines are reviewed on the run's as-of day (DPD, locks, cooldown), the day its
        # features are read at: a run for a past day never judges by the wall-clock date
        # (line_review and a borrower's re-score run as of today).
        today = as_of
        state = chunk_state(
            borrower_ids=ids, today=today, features=features, current=current, previous=previous
        )
        result.decisions = chunk_review(
            policy=policy, state=state, score_ids=score_ids, run_id=run_id, today=today
        )
    if scored is not None and scored.written:
        scores_audit(actor=actor, run_id=run_id, as_of=as_of, scored=scored)
    if chunk is not None:
        _chunk_finish(
            chunk=chunk,
            scores=result.scores,
            decisions=len(result.decisions),
            started=started if started is not None else time.perf_counter(),
        )
    return result


def _plan_for_a_chunk() -> None:
    """PostgreSQL planner settings for this transaction only (SET LOCAL).

    A chunk reads a few percent of the book through its indexes (drawdowns by borrower, then
    their instalments by drawdown). With the default random_page_cost (4, for spinning disks)
    the planner instead hash-joins the whole instalment table for every chunk: on a 20,000
    book the instalment aggregate took 450-540 ms per 5,000 borrowers that way and 300-390 ms
    by the index (EXPLAIN ANALYZE), and the whole-table scan grows with the book while the
    index walk does not. 1.1 is the usual value for SSD or a cached book. The window sort of
    that aggregate spilled 2.4 MB to disk at the default work_mem (4 MB).

    The foreign keys (deferrable, as Django makes them) are checked as each COPY ends rather
    than at COMMIT: the same checks (a score's borrower and model, a decision's score, ...),
    but done before the audit chain's append lock is taken, not while it is held, so two
    worker processes wait less on each other (the COMMIT of a 5,000-borrower chunk took
    0.3-0.7 s under load, cProfile, most of it these checks).

    No JIT, no parallel workers: a chunk's aggregate statements are costed high enough (the
    drawdown aggregate's estimate was over a million) for PostgreSQL to compile them with
    LLVM, which took ~250 ms of a 2 s chunk (EXPLAIN ANALYZE: 215 ms of JIT for a 290 ms
    statement) to save nothing on a few hundred thousand rows; and a chunk already runs
    beside other chunks, one per core, so a parallel scan only adds worker start-up.

    DISCARD PLANS: the plans a session cached for those checks (PostgreSQL keeps one per
    foreign key per session) were made when the table they look into was small: a worker
    that checked a decision's score while the score table held a few hundred rows kept a
    sequential scan for it, and as a first run filled the table each chunk took longer (5,000
    borrowers: 4 s, then 8, 15, 31 s, until autovacuum analysed the table). Replanned each
    chunk, they follow the table's real size.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:  # one round trip; this transaction only
        cursor.execute(
            "DISCARD PLANS; SET CONSTRAINTS ALL IMMEDIATE; "
            "SELECT set_config('random_page_cost', '1.1', true), "
            "set_config('work_mem', '32MB', true), set_config('jit', 'off', true), "
            "set_config('max_parallel_workers_per_gather', '0', true)"
        )


def _latest_totals(ids: Sequence[int], *, run_id: str, count: int) -> dict[int, float]:
    """Each borrower's latest acting score before this run: what a score drop is measured
    against (read before the chunk's own scores are written)."""
    latest = latest_acting(ids, exclude_run=run_id, count=count)
    return {b: float(t[0][1]) for b, t in latest.items()}


def scoring_chunk_run(*, run_id: str, index: int) -> ScoringChunk:
    """Score and review one chunk of a run in one transaction (chunk_rescore); a chunk
    already done is left alone (a redelivered task applies nothing twice). Failures are
    recorded on the chunk and re-raised for the task to retry."""
    started = time.perf_counter()
    chunk = ScoringChunk.objects.select_related("run").get(run__run_id=run_id, index=index)
    if chunk.status == RunStatus.DONE:
        return chunk
    ScoringChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    ids = list(
        CreditLine.objects.filter(borrower_id__gte=chunk.first_id, borrower_id__lte=chunk.last_id)
        .order_by("borrower_id")
        .values_list("borrower_id", flat=True)
    )
    try:
        chunk_rescore(
            actor=None,
            run_id=run_id,
            borrower_ids=ids,
            as_of=chunk.run.as_of,
            chunk=chunk,
            started=started,
        )
    except Exception as exc:
        ScoringChunk.objects.filter(pk=chunk.pk).update(
            status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    chunk.refresh_from_db()
    return chunk


def _chunk_finish(
    *, chunk: ScoringChunk, scores: int, decisions: int, started: float
) -> ScoringChunk:
    """Mark the chunk done, and the run when it was the last; inside chunk_rescore's
    transaction, so a chunk is done exactly when its writes are."""
    chunk.status = RunStatus.DONE
    chunk.scores = scores
    chunk.decisions = decisions
    chunk.seconds = time.perf_counter() - started
    chunk.error = ""
    chunk.finished_at = timezone.now()
    chunk.save(update_fields=["status", "scores", "decisions", "seconds", "error", "finished_at"])
    # The run is done when its last chunk is: decided on the locked run row.
    run = ScoringRun.objects.select_for_update().get(pk=chunk.run_id)
    if run.status != RunStatus.DONE and not run.chunks.exclude(status=RunStatus.DONE).exists():
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit(
            actor=None,
            action="scoring_run.finished",
            obj=run,
            after={"run_id": run.run_id, "chunks": run.chunks_total, "borrowers": run.borrowers},
        )
        if run.borrowers >= ANALYZE_AFTER_BORROWERS:
            transaction.on_commit(_analyze_written_tables)
    return chunk


# A run over this many borrowers has added as many score and decision rows: the planner's
# statistics are refreshed at its end, not whenever autovacuum gets to it. Stale ones made the
# borrower page's score history read a 2,000,000-row index bitmap (225 ms instead of 0.3 ms)
# on the million-borrower book right after a run.
ANALYZE_AFTER_BORROWERS = 50_000
_WRITTEN_TABLES = (Score, LimitDecision, LimitChange, Notice)


def _analyze_written_tables() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in _WRITTEN_TABLES:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
