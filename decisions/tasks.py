"""Celery tasks of decisions: ids in, one service call out."""

from __future__ import annotations

import uuid

from celery import group, shared_task
from django.conf import settings
from django.utils import timezone

# Borrowers per re-score task: what one batch of events moves is one to a few tasks.
RESCORE_CHUNK = 200


# A re-score of 200 borrowers is a few dozen queries, vectorised: a minute is ample.
@shared_task(acks_late=True, time_limit=120, soft_time_limit=100)
def borrowers_rescore_task(*, borrower_ids: list[int]) -> str:
    """Score these borrowers and review their lines (after drawdowns, repayments,
    transitions)."""
    from decisions.services import borrowers_rescore

    decisions = borrowers_rescore(borrower_ids=borrower_ids)
    return ", ".join(sorted({decision.action for decision in decisions})) or "none"


def borrowers_rescore_queue(borrower_ids: list[int]) -> None:
    """Queue the re-score of these borrowers, RESCORE_CHUNK to a task."""
    for start in range(0, len(borrower_ids), RESCORE_CHUNK):
        borrowers_rescore_task.delay(borrower_ids=borrower_ids[start : start + RESCORE_CHUNK])


# A chunk of 20,000 borrowers takes seconds to a minute; retries cover a lost worker.
@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=30, time_limit=1800)
def scoring_chunk_task(self, *, run_id: str, index: int) -> int:
    """Score and review one chunk of a whole-book run; a redelivery applies nothing twice."""
    from decisions.services import scoring_chunk_run

    try:
        return scoring_chunk_run(run_id=run_id, index=index).size
    except Exception as exc:
        raise self.retry(exc=exc) from exc


# Planning a run reads the borrower ids once; the chunks then run as independent tasks.
@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def book_rescore_task(*, as_of: str | None = None, run_id: str | None = None) -> str:
    """Plan the nightly whole-book run and queue its chunks (more workers: faster)."""
    from datetime import date

    from decisions.services import scoring_run_start

    day = date.fromisoformat(as_of) if as_of else timezone.localdate()
    run = scoring_run_start(
        as_of=day,
        chunk_size=int(getattr(settings, "RISKOPS_SCORING_CHUNK", 20_000)),
        run_id=run_id or f"nightly-{day.isoformat()}-{uuid.uuid4().hex[:6]}",
    )
    pending = list(run.chunks.exclude(status="done").values_list("index", flat=True))
    if pending:
        group(scoring_chunk_task.si(run_id=run.run_id, index=i) for i in pending).apply_async()
    return run.run_id


# Expiring proposals is a few rows at a time, each in its own short transaction.
@shared_task(acks_late=True, time_limit=300, soft_time_limit=270)
def overrides_expire_task() -> int:
    """Expire override proposals left waiting past RISKOPS_OVERRIDE_EXPIRY_HOURS (audited)."""
    from decisions.services import overrides_expire

    return overrides_expire()


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def temporary_limits_revert_task() -> int:
    """Return temporary limits whose last day has passed to the limit before them (audited,
    with the borrower's notice); a replay reverts nothing twice."""
    from decisions.services import temporary_limits_revert

    return temporary_limits_revert()


# A simulation reads the whole book once: minutes on a million lines, never retried (a
# failure is stored on the record and the page offers to run it again).
@shared_task(acks_late=True, time_limit=30 * 60, soft_time_limit=29 * 60)
def policy_simulation_run_task(*, simulation_id: int) -> str:
    """Compute one queued policy simulation and store its result."""
    from decisions.services.simulations import policy_simulation_run

    return str(policy_simulation_run(simulation_id=simulation_id).status)
