"""Re-queueing a failed chunk of a whole-book scoring run, from the runs page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit
from accounts.choices import Role
from core.errors import DomainError
from decisions.choices import RunStatus
from decisions.errors import NotAllowed
from decisions.models import ScoringChunk

if TYPE_CHECKING:
    from accounts.models import User

# Who may send a failed chunk back to the workers.
RUN_OPERATORS = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})


class ChunkNotFailed(DomainError):
    """Only a failed chunk is re-queued: a running one is still in a worker's hands, a done
    one would change nothing."""

    code = "chunk_not_failed"
    message_template = _("Chunk %(index)s is %(status)s: only a failed chunk can be re-queued.")


@transaction.atomic(durable=True)
def scoring_chunk_requeue(*, actor: User, chunk: ScoringChunk) -> ScoringChunk:
    """Send a failed chunk back to the workers (decisions.tasks.scoring_chunk_task).

    The chunk task is idempotent (a chunk done is left alone; scores and decisions are written
    once per run), so a chunk re-queued twice applies nothing twice. Raises NotAllowed (below
    manager), ChunkNotFailed. The task is queued after commit.
    """
    if not actor.is_active or actor.role not in RUN_OPERATORS:
        raise NotAllowed(role=actor.role)
    chunk = ScoringChunk.objects.select_for_update().select_related("run").get(pk=chunk.pk)
    if chunk.status != RunStatus.FAILED:
        raise ChunkNotFailed(index=chunk.index, status=chunk.get_status_display())
    audit(
        actor=actor,
        action="scoring_chunk.requeued",
        obj=chunk,
        before={"status": chunk.status, "attempts": chunk.attempts, "error": chunk.error[:200]},
        after={"run_id": chunk.run.run_id, "index": chunk.index},
    )
    run_id, index = chunk.run.run_id, chunk.index

    def queue() -> None:
        from decisions.tasks import scoring_chunk_task

        scoring_chunk_task.delay(run_id=run_id, index=index)

    transaction.on_commit(queue)
    return chunk
