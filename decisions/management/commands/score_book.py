"""Score the whole book (or some borrowers) by the champion and challenger, chunk by chunk.

    manage.py score_book [--as-of D] [--name book] [--chunk-size 20000] [--run-id ID]

Each chunk is its own transaction and idempotent per run id, so an interrupted run resumes
with the same --run-id and writes nothing twice.
"""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from accounts.audit import audit_context
from accounts.choices import AuditSource
from decisions.services import score_chunk
from lending.selectors import borrower_id_chunks


class Command(BaseCommand):
    help = "Score the book by the champion (and challenger) scorecard, in idempotent chunks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", type=date.fromisoformat, help="default: today")
        parser.add_argument("--name", default="book")
        parser.add_argument("--chunk-size", type=int, default=20_000)
        parser.add_argument("--run-id", help="resume a run (default: a new one)")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or timezone.localdate()
        run_id = options["run_id"] or f"cmd-{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        borrowers = written = 0
        with audit_context(source=AuditSource.COMMAND, reference=f"score_book:{run_id}"):
            for ids in borrower_id_chunks(size=options["chunk_size"]):
                written += score_chunk(
                    actor=None, run_id=run_id, borrower_ids=ids, as_of=as_of, name=options["name"]
                )
                borrowers += len(ids)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"run {run_id}: {borrowers} borrowers, {written} scores as of {as_of} "
            f"in {seconds:.1f} s ({borrowers / max(seconds, 1e-9):,.0f} borrowers/s)"
        )
