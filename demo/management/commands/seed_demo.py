"""Seed a deterministic demo book and the demo logins (see demo.seeding for how and why), then
let the monitoring rules judge its recorded events (demo.alerts: the planted behaviour raises
its alerts through the rules; --without-alerts: none), train a champion on it, put the limit
policy in force and run the whole book through scoring and limit reviews (demo.decisioning;
--without-decisions: none)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.audit import audit_context
from accounts.choices import AuditSource
from demo.alerts import backfill_alerts
from demo.decisioning import seed_decisions
from demo.overrides import demo_overrides_seed
from demo.seeding import (
    BORROWER_USERNAME,
    DEMO_PASSWORD,
    SERVICE_USERNAME,
    STAFF_LOGINS,
    SeedOptions,
    SeedRefused,
    book_exists,
    ensure_borrower_login,
    ensure_staff_logins,
    reset_database,
    seed_book,
)
from lending import money


class Command(BaseCommand):
    help = (
        "Generate a deterministic demo lending book (borrowers, lines, drawdowns, schedules, "
        "repayments, transfers, events), create the demo logins, and score the book and review "
        "its lines with a champion trained on it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--borrowers", type=int, default=10_000)
        parser.add_argument("--months", type=int, default=12, help="history length up to --as-of")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help="YYYY-MM-DD the history runs through, its day close included (default: "
            "yesterday in Asia/Shanghai, the last day that has ended)",
        )
        parser.add_argument(
            "--reset",
            action="store_true",
            help="empty the whole database first (manage.py flush: logins and audit log too)",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="do nothing (but make sure of the logins) when borrowers exist",
        )
        parser.add_argument(
            "--bulk",
            action="store_true",
            help="bulk mode: a transaction per chunk (automatic on PostgreSQL above 100,000)",
        )
        parser.add_argument("--chunk-size", type=int, default=2000, help="borrowers per chunk")
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="bulk mode on PostgreSQL: processes generating and writing chunks side by side",
        )
        parser.add_argument(
            "--writer",
            choices=["copy", "executemany", "bulk_create", "save"],
            default=None,
            help="how rows are written (default: COPY on PostgreSQL, executemany on SQLite)",
        )
        parser.add_argument(
            "--without-alerts",
            action="store_true",
            help="raise no alerts: the monitoring rules do not judge the book's recorded events",
        )
        parser.add_argument(
            "--without-decisions",
            action="store_true",
            help="write the book only: no scorecard, limit policy or whole-book scoring run",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        self.verbosity = opts["verbosity"]
        if opts["borrowers"] < 1 or opts["months"] < 1:
            raise CommandError("--borrowers and --months must be at least 1.")
        options = SeedOptions(
            borrowers=opts["borrowers"],
            months=opts["months"],
            seed=opts["seed"],
            as_of=opts["as_of"] or timezone.localdate() - timedelta(days=1),
            bulk=opts["bulk"],
            chunk_size=opts["chunk_size"],
            writer=opts["writer"],
            workers=opts["workers"],
        )
        if opts["reset"] and not (opts["if_empty"] and book_exists()):
            reset_database()
        with audit_context(source=AuditSource.COMMAND, reference="seed_demo"):
            service, token = ensure_staff_logins()
            if opts["if_empty"] and book_exists():
                self.stdout.write("Borrowers exist already: nothing seeded (--if-empty).")
            else:
                try:
                    result = seed_book(options, service_user_id=service.pk, progress=self._progress)
                except SeedRefused as exc:
                    raise CommandError(str(exc)) from exc
                self.stdout.write(
                    f"Seeded {result.borrowers:,} borrowers, {options.months} months to "
                    f"{options.as_of} (seed {options.seed}): {result.rows:,} rows in "
                    f"{result.seconds:.1f} s ({result.writer}{', bulk' if result.bulk else ''})."
                )
                for table, count in result.counts.items():
                    self.stdout.write(
                        f"  {table:<11} {count:>12,} rows  {result.write_seconds[table]:6.1f} s"
                    )
                self.stdout.write(
                    f"  generating {result.extra['generate_seconds']:.1f} s, "
                    f"peak memory {result.peak_rss_mb:.0f} MB"
                )
                if not opts["without_alerts"]:
                    self._alerts()
                if not opts["without_decisions"]:
                    self._decisions(options)
            ensure_borrower_login()
        self._print_logins(token)

    def _alerts(self) -> None:
        """The book's recorded events judged by the monitoring rules (demo.alerts)."""
        started = time.perf_counter()
        per_rule = backfill_alerts(progress=self._alerts_progress)
        self.stdout.write(
            f"Alerts raised by the rules over the history: {sum(per_rule.values()):,} "
            f"({time.perf_counter() - started:.1f} s)"
        )
        for kind, count in per_rule.items():
            self.stdout.write(f"  {kind:<28} {count:>7,}")

    def _alerts_progress(self, done: int, events: int) -> None:
        if self.verbosity >= 2:
            self.stderr.write(f"  alerts: {done:,} borrowers judged")

    def _decisions(self, options: SeedOptions) -> None:
        """The champion, the policy and the whole-book run on the new book (demo.decisioning)."""
        result = seed_decisions(
            as_of=options.as_of,
            start=money.add_months(options.as_of, -options.months),
            progress=self._run_progress,
        )
        for note in result.notes:
            self.stdout.write(f"  {note}")
        if result.champion is None:
            self.stdout.write("  no champion: the book is too small to train on; nothing scored")
            return
        self.stdout.write(
            f"Champion {result.champion}"
            + (f", challenger {result.challenger}" if result.challenger else "")
            + f"; run {result.run_id}: limit decisions "
            + (", ".join(f"{a} {n:,}" for a, n in result.decisions.items()) or "none")
            + " ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
            + ")."
        )
        # Pending override proposals of several sizes, so each demo approver's queue holds
        # exactly what the authority matrix lets them decide (after the scores: bands).
        proposals = demo_overrides_seed()
        self.stdout.write(f"Override proposals waiting for a decision: {len(proposals)}")

    def _run_progress(self, done: int, total: int) -> None:
        if self.verbosity >= 2:
            self.stderr.write(f"  scoring run: chunk {done} of {total}")

    def _progress(self, done: int, seconds: float) -> None:
        if self.verbosity >= 2:
            self.stderr.write(f"  {done:,} borrowers, {seconds:.1f} s")

    def _print_logins(self, token: str) -> None:
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for username, role in STAFF_LOGINS:
            self.stdout.write(f"  {username:<12} {role}")
        self.stdout.write(f"  {BORROWER_USERNAME:<12} borrower (customer C00000001)")
        self.stdout.write(f"  {SERVICE_USERNAME:<12} service account, API token {token}")
