"""Deterministic demo data: a lending book with a history, and the demo logins.

Why this bypasses the services: a demo book of 10,000 borrowers over a year is about a
million rows, and one of a million borrowers (the benchmark) about a hundred million. Going
through `drawdown_create` and `repayment_record` row by row (a locked re-read, a save and an
audit row each) would take hours, so the seeder generates the book in memory and writes it in
bulk (COPY on PostgreSQL, executemany on SQLite). It uses the same math, though: schedules and
APRs from lending.money, and every repayment applied by lending.money.plan_repayment, the
pure half of repayment_record; then the nightly day close of every day of the history
(demo.closing: penalty to date, write-offs, delinquency transitions) and the DayClose row of
the as-of day. The rows are what the services would have written for the same history, except
their per-change audit rows: the seed run writes one AuditEvent, "demo.seeded", naming what
it generated. Logins are created through accounts.services.

Determinism: the same borrowers, months, seed and as-of date give the same rows (ids
included, on an empty database; the same whatever the chunk size or number of workers). Nothing
reads the wall clock but seed_demo's default as-of (yesterday in Asia/Shanghai): the history
runs through the end of the as-of day, whose day close is the last thing that happened.
"""

from __future__ import annotations

import os
import resource
import time as clock
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from accounts.audit import audit
from accounts.choices import Role
from accounts.models import User
from accounts.services import service_token_issue, user_create
from demo import book, closing, history, plan, writers
from lending.choices import DayCloseStatus
from lending.models import Borrower, DayClose

DEMO_PASSWORD = "riskops-demo-2026"  # noqa: S105  (a published demo password, not a secret)
STAFF_LOGINS: tuple[tuple[str, str], ...] = (
    ("analyst", Role.ANALYST),
    ("senior", Role.SENIOR_ANALYST),
    ("manager", Role.MANAGER),
    ("head", Role.HEAD_OF_RISK),
    ("admin", Role.ADMIN),
)
SERVICE_USERNAME = "lending-core"
BORROWER_USERNAME = "borrower"
FIRST_CUSTOMER_NO = "C00000001"
# Above this many borrowers on PostgreSQL, seed in bulk mode without being asked.
BULK_THRESHOLD = 100_000


class SeedRefused(Exception):
    """The database is not in a state this seed run can work on (the message says why)."""


@dataclass(frozen=True)
class SeedOptions:
    borrowers: int
    months: int
    seed: int
    as_of: date
    bulk: bool = False
    # Borrowers generated and written per chunk: memory stays bounded by one chunk's rows.
    chunk_size: int = 2000
    writer: str | None = None  # demo.writers.writer_for; None: the database's best
    # Bulk mode on PostgreSQL: processes that generate and COPY chunks side by side.
    workers: int = 2


@dataclass
class SeedResult:
    borrowers: int
    seconds: float
    counts: dict[str, int]
    write_seconds: dict[str, float]
    peak_rss_mb: float
    bulk: bool
    writer: str
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def book_exists() -> bool:
    return Borrower.objects.exists()


def peak_rss_mb() -> float:
    """The peak resident memory of this process or of any finished worker process, in MB."""
    return (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )


class DemoPasswordRefused(CommandError):
    """The production profile refuses demo logins with the published demo password."""


def demo_login_password() -> str:
    """The password the demo logins get: DEMO_PASSWORD, except in the production profile.

    The demo password is published (README), so on the production profile (outside tests) a
    login with it would be anyone's: seed_demo refuses to create logins there unless
    RISKOPS_DEMO_PASSWORD gives another password, which the password validators must accept.
    Raises DemoPasswordRefused (a CommandError: seed_demo stops with the message).
    """
    if settings.PROFILE != "production" or settings.TESTING:
        return DEMO_PASSWORD
    password = os.environ.get("RISKOPS_DEMO_PASSWORD", "")
    if not password or password == DEMO_PASSWORD:
        raise DemoPasswordRefused(
            "The production profile does not create demo logins with the published demo "
            "password: set RISKOPS_DEMO_PASSWORD to a strong password of your own."
        )
    return password


def ensure_staff_logins() -> tuple[User, str]:
    """Create the staff and service demo logins that are missing; return (service user, token).

    Staff logins get demo_login_password() (refused on the production profile without
    RISKOPS_DEMO_PASSWORD); the service account gets no password at all: it uses its API
    token. Existing logins are left alone (a changed password stays changed).
    """
    missing = [
        (username, role)
        for username, role in (*STAFF_LOGINS, (SERVICE_USERNAME, Role.SERVICE))
        if not User.objects.filter(username=username).exists()
    ]
    password = demo_login_password() if any(r != Role.SERVICE for _, r in missing) else None
    for username, role in missing:
        user_create(
            actor=None,
            username=username,
            password=None if role == Role.SERVICE else password,
            role=role,
            is_superuser=role == Role.ADMIN,
        )
    service = User.objects.get(username=SERVICE_USERNAME)
    token = Token.objects.filter(user=service).first()
    key = token.key if token else service_token_issue(actor=None, user=service)
    return service, key


def ensure_borrower_login() -> User | None:
    """The portal login tied to the first demo borrower, when there is one."""
    existing = User.objects.filter(username=BORROWER_USERNAME).first()
    if existing is not None:
        return existing
    first = Borrower.objects.filter(customer_no=FIRST_CUSTOMER_NO).first()
    if first is None:
        return None
    return user_create(
        actor=None,
        username=BORROWER_USERNAME,
        password=demo_login_password(),
        role=Role.BORROWER,
        borrower_id=first.pk,
    )


def reset_database() -> None:
    """Empty the whole database, as a fresh install: `manage.py flush`.

    The demo book cannot be deleted on its own: the append-only audit log refers to its
    borrowers (the borrower login's creation, anything staff did) and no row of it may go.
    flush is the one way the log may be emptied (accounts.append_only), and it takes the
    logins with it; they are created again by the seed run.
    """
    call_command("flush", interactive=False, verbosity=0)


def _write_audit(options: SeedOptions, result: SeedResult, first_borrower_id: int) -> None:
    first = Borrower.objects.get(pk=first_borrower_id)
    audit(
        actor=None,
        action="demo.seeded",
        obj=first,
        after={
            "borrowers": options.borrowers,
            "months": options.months,
            "seed": options.seed,
            "as_of": options.as_of,
            "first_borrower_id": first_borrower_id,
            "rows": result.counts,
            "bulk": result.bulk,
        },
        note="Demo book generated in bulk with lending.money and plan_repayment; the per-row "
        "services (and their audit rows) were bypassed for speed.",
    )


def _write_day_close(as_of: date, tally: closing.CloseTally) -> None:
    """The DayClose row of the as-of day: the last nightly close of the seeded history."""
    started = closing.run_of(as_of).replace(tzinfo=book.SHANGHAI)
    DayClose.objects.create(
        day=as_of,
        status=DayCloseStatus.DONE,
        started_at=started,
        finished_at=started + timedelta(seconds=42),
        penalty_accrued=tally.penalty,
        instalments_accrued=tally.instalments,
        transitions=tally.transitions,
        written_off=tally.written_off,
    )


def _tally(rows: list[tuple[Any, ...]]) -> closing.CloseTally:
    total = closing.CloseTally()
    for penalty, instalments, transitions, written_off in rows:
        total.add(closing.CloseTally(Decimal(penalty), instalments, transitions, written_off))
    return total


def seed_book(
    options: SeedOptions,
    *,
    service_user_id: int | None,
    progress: Callable[[int, float], None] | None = None,
) -> SeedResult:
    """Generate and write the book; the caller has made sure no borrowers are in the way.

    Normal mode: one transaction for everything, generated and written by this process
    (SQLite has one writer; handing chunks over from generating processes cost more than it
    saved, measured on two shared cores). Bulk mode (PostgreSQL): one transaction per chunk,
    so the deferred foreign-key checks and the WAL of a transaction stay bounded, and with
    workers > 1 the chunks are generated and written by that many processes (demo.parallel;
    same rows and ids). A failure in bulk mode leaves the chunks before it (--reset to retry).
    In the parallel path, the time per table and for generating is summed over the workers
    (CPU-like), so it adds up to more than the wall time.
    """
    writers.check_columns()
    if book_exists():
        raise SeedRefused("The database already has borrowers: use --reset or --if-empty.")
    bulk = options.bulk or (
        connection.vendor == "postgresql" and options.borrowers > BULK_THRESHOLD
    )
    writer_kind = options.writer or writers.default_writer()
    writer = writers.writer_for(writer_kind)
    started = clock.perf_counter()
    ids = book.Ids(writers.next_ids())
    first_borrower_id = ids.next["borrower"]
    the_plan = plan.make_plan(
        seed=options.seed,
        borrowers=options.borrowers,
        months=options.months,
        as_of=options.as_of,
        service_user_id=service_user_id,
    )
    result = SeedResult(
        borrowers=options.borrowers,
        seconds=0.0,
        counts=writer.counts,
        write_seconds=writer.seconds,
        peak_rss_mb=0.0,
        bulk=bulk,
        writer=writer_kind,
    )
    generate_seconds = 0.0
    done = 0
    tally = closing.CloseTally()

    def run_chunks() -> None:
        nonlocal generate_seconds, done
        for first in range(0, options.borrowers, options.chunk_size):
            last = min(first + options.chunk_size, options.borrowers)
            t0 = clock.perf_counter()
            rows = history.generate_chunk(the_plan, first, last, ids)
            generate_seconds += clock.perf_counter() - t0
            tally.add(_tally(rows[book.TALLY]))
            if bulk:
                with transaction.atomic():
                    writer.write(rows)
            else:
                writer.write(rows)
            done = last
            if progress:
                progress(done, clock.perf_counter() - started)

    def chunk_done(
        count: int,
        counts: dict[str, int],
        seconds: dict[str, float],
        gen: float,
        chunk_tally: list[tuple[Any, ...]],
    ) -> None:
        nonlocal generate_seconds, done
        for table, n in counts.items():
            writer.counts[table] += n
            writer.seconds[table] += seconds[table]
        generate_seconds += gen
        tally.add(_tally(chunk_tally))
        done += count
        if progress:
            progress(done, clock.perf_counter() - started)

    def finish() -> None:
        writers.reset_sequences()
        _write_day_close(options.as_of, tally)
        _write_audit(options, result, first_borrower_id)

    if bulk and writer_kind == "copy" and options.workers > 1:
        from demo.parallel import seed_parallel

        seed_parallel(
            the_plan,
            start_ids=dict(ids.next),
            chunk_size=options.chunk_size,
            workers=options.workers,
            on_chunk=chunk_done,
        )
        with transaction.atomic():
            finish()
    elif bulk:
        run_chunks()
        with transaction.atomic():
            finish()
    else:
        with transaction.atomic():
            run_chunks()
            finish()
    result.seconds = clock.perf_counter() - started
    result.peak_rss_mb = peak_rss_mb()
    result.extra["generate_seconds"] = generate_seconds
    return result
