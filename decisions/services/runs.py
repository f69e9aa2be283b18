"""The whole-book run: planned as chunks, each scored and reviewed idempotently."""

from __future__ import annotations

import time
from datetime import date

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import audit
from core.errors import DomainError
from decisions.choices import RunStatus
from decisions.errors import NoActivePolicy
from decisions.models import (
    LimitDecision,
    ScoringChunk,
    ScoringRun,
)
from decisions.services.reviews import line_review
from decisions.services.scoring import score_chunk
from lending.models import CreditLine
from lending.selectors import borrower_id_chunks


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


def scoring_chunk_run(*, run_id: str, index: int) -> ScoringChunk:
    """Score and review one chunk of a run; a chunk already done is left alone (a redelivered
    task applies nothing twice). Failures are recorded on the chunk and re-raised for the
    task to retry."""
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
        scores = score_chunk(actor=None, run_id=run_id, borrower_ids=ids, as_of=chunk.run.as_of)
        reviewed = 0
        already = set(
            LimitDecision.objects.filter(run_id=run_id, borrower_id__in=ids).values_list(
                "borrower_id", flat=True
            )
        )
        for borrower_id in ids:
            if borrower_id in already:
                continue
            try:
                if line_review(borrower_id=borrower_id, run_id=run_id) is not None:
                    reviewed += 1
            except NoActivePolicy:
                break
            except DomainError:
                continue  # this line moved under the run (locked, closed): the next run sees it
    except Exception as exc:
        ScoringChunk.objects.filter(pk=chunk.pk).update(
            status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    return _chunk_finish(chunk=chunk, scores=scores, decisions=reviewed, started=started)


@transaction.atomic(durable=True)
def _chunk_finish(
    *, chunk: ScoringChunk, scores: int, decisions: int, started: float
) -> ScoringChunk:
    chunk = ScoringChunk.objects.select_for_update().get(pk=chunk.pk)
    chunk.status = RunStatus.DONE
    chunk.scores = scores
    chunk.decisions = decisions
    chunk.seconds = time.perf_counter() - started
    chunk.error = ""
    chunk.finished_at = timezone.now()
    chunk.save(update_fields=["status", "scores", "decisions", "seconds", "error", "finished_at"])
    # The run is done when its last chunk is: decided on the locked run row.
    run = ScoringRun.objects.select_for_update().get(pk=chunk.run_id)
    if not run.chunks.exclude(status=RunStatus.DONE).exists():
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit(
            actor=None,
            action="scoring_run.finished",
            obj=run,
            after={"run_id": run.run_id, "chunks": run.chunks_total, "borrowers": run.borrowers},
        )
    return chunk
