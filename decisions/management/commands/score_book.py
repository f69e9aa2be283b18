"""Re-score the whole book and review every line by the active policy, chunk by chunk.

    manage.py score_book [--as-of D] [--chunk-size 20000] [--run-id ID]

The same run as the nightly task (decisions.tasks.book_rescore_task): a ScoringRun planned in
chunks (scoring_run_start), each chunk scored by the champion "book" (and its challenger) and
its lines reviewed by the active policy in one transaction (scoring_chunk_run), so the limit
changes, freezes and decisions are written as the nightly run writes them, and the run shows
on the runs page. Each chunk is idempotent per run id: an interrupted run resumes with the
same --run-id and writes nothing twice.
"""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count
from django.utils import timezone

from accounts.audit import audit_context
from accounts.choices import AuditSource
from decisions.models import LimitDecision
from decisions.services import scoring_chunk_run, scoring_run_start


class Command(BaseCommand):
    help = "Re-score the book and review its limits (the nightly run), in idempotent chunks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=date.fromisoformat, help="default: today")
        parser.add_argument("--chunk-size", type=int, default=20_000)
        parser.add_argument("--run-id", help="resume a run (default: a new one)")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        run_id = options["run_id"] or f"cmd-{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        scores = 0
        with audit_context(source=AuditSource.COMMAND, reference=f"score_book:{run_id}"):
            run = scoring_run_start(as_of=as_of, chunk_size=options["chunk_size"], run_id=run_id)
            pending = run.chunks.exclude(status="done").order_by("index")
            for index in list(pending.values_list("index", flat=True)):
                scores += scoring_chunk_run(run_id=run_id, index=index).scores
        seconds = time.perf_counter() - started
        actions = dict(
            LimitDecision.objects.filter(run_id=run_id)
            .values_list("action")
            .annotate(n=Count("id"))
            .order_by()
        )
        summary = ", ".join(f"{action} {n}" for action, n in sorted(actions.items())) or "none"
        self.stdout.write(
            f"run {run_id}: {run.borrowers} borrowers, {scores} scores as of {run.as_of}, "
            f"limit decisions: {summary}; in {seconds:.1f} s "
            f"({run.borrowers / max(seconds, 1e-9):,.0f} borrowers/s)"
        )
