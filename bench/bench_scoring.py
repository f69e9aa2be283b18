"""How fast does the whole book re-score end to end (features, score, limit review, writes)?

    .venv/bin/python bench/bench_scoring.py [--borrowers 1000000] [--chunk-size 20000]
        [--sample 500] [--keep] [--reuse] [--seed-only] [--profile 5000]

(--borrowers defaults to $RISKOPS_BENCH_BORROWERS, else 1,000,000.)

Creates (drops first) the database riskops_bench_scoring on 127.0.0.1 (user postgres, trust
auth), migrates it with the production profile, seeds the book in bulk (demo.seeding, COPY),
stores a fixed points table over the documented features as the champion and activates the
default limit policy, then times:

(b) the whole-book run (decisions.services.scoring_chunk_run over every chunk) by 1 process;
(c) the same run, on the same chunks of a copy of the book taken before (b), by 2 worker
    processes, each with its own connection: the same work, so (c)/(b) is the 2-vs-1 ratio;
(d) the next run on (b)'s book by 2 processes: what a nightly run finds after one the night
    before (fewer limit changes: the policy's interval between raises holds (b)'s raises);
(a) the baseline: a naive per-borrower ORM loop (features read and computed per borrower,
    one Score row saved, the line reviewed through the single-line services) on `--sample`
    borrowers, extrapolated to the book.

Prints borrowers/s, per-chunk p50/p95 and each chunk's seconds, peak RSS per process, the
ratio to the naive loop and the 2-vs-1 ratio, each line with the load averages (the machine is
shared: compare figures taken at the same load). Drops the database at the end unless --keep.
--reuse keeps a database that already holds a book (seeded by an earlier --keep run) instead of
seeding again;
--seed-only stops after seeding. --profile SIZE prints a cProfile of one chunk of SIZE
borrowers instead, headed by its split by part (features, scores, review, limit changes, audit,
commit) (it writes scores and limit changes: use a copy of the book, e.g. --reuse --database on a
CREATE DATABASE ... TEMPLATE copy).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import secrets
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import psycopg

# --database NAME for another one (e.g. a small book beside a kept large one)
DB = "riskops_bench_scoring"
ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _database_exists() -> bool:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
    return row is not None


def _recreate_database() -> None:
    # No FORCE: if another run is using the database, DROP fails instead of killing it.
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")


def _drop_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")


def _configure() -> None:
    os.environ.update(
        {
            "RISKOPS_PROFILE": "production",
            # The production profile refuses a short or published key, and demo logins with
            # the published password: both random, for this run only.
            "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50),
            "RISKOPS_DEMO_PASSWORD": secrets.token_urlsafe(24),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
            "REDIS_URL": "redis://127.0.0.1:6379/4",
            "DJANGO_SETTINGS_MODULE": "riskops.settings",
            "RISKOPS_DEBUG": "0",
            "RISKOPS_LOG_LEVEL": "WARNING",
        }
    )
    os.environ["BENCH_SECRET_KEY"] = os.environ["SECRET_KEY"]  # the same for worker processes
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def _load() -> str:
    """The load averages (1, 5, 15 min): the machine is shared, so every figure carries them."""
    return "load " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def _seed(borrowers: int, as_of: date) -> None:
    from demo.seeding import SeedOptions, ensure_staff_logins, seed_book

    service, _ = ensure_staff_logins()
    options = SeedOptions(
        borrowers=borrowers, months=12, seed=2026, as_of=as_of, bulk=True, chunk_size=5000
    )
    step = max(borrowers // 10, 5000)
    marks = iter(range(step, borrowers + step, step))
    mark = next(marks)

    def progress(done: int, seconds: float) -> None:
        nonlocal mark
        if done >= mark:
            print(f"  seeded {done:>9,} borrowers  {seconds:6.0f} s", flush=True)
            mark = next(marks, borrowers * 2)

    result = seed_book(options, service_user_id=service.pk, progress=progress)
    print(
        f"seeded {result.borrowers:,} borrowers, {result.rows:,} rows in {result.seconds:.0f} s "
        f"({result.borrowers / result.seconds:,.0f} borrowers/s)",
        flush=True,
    )


def _champion_and_policy() -> Any:
    """A fixed points table over the documented features as the champion (scoring needs only
    the table), and the default limit policy in force."""
    from decisions.choices import ModelStatus
    from decisions.policy import DEFAULT_RULES
    from decisions.scorecard import BIN_MISSING, PointsBin, PointsTable, TrainingResult
    from decisions.services import (
        policy_activate,
        policy_draft,
        scorecard_set_status,
        scorecard_store,
    )

    spec: dict[str, list[tuple[float | None, float]]] = {  # [(lower edge, points)], lowest first
        "income_band": [(None, 0), (2, 15), (4, 30)],
        "utilisation": [(None, 30), (0.3, 15), (0.7, 0)],
        "instalment_to_income": [(None, 20), (0.2, 5), (0.5, -10)],
        "months_on_book": [(None, 0), (3, 10), (9, 20)],
        "max_dpd_12m": [(None, 40), (1, 10), (30, -40)],
        "late_instalments_12m": [(None, 15), (1, 0), (3, -15)],
        "on_time_streak": [(None, 0), (3, 20)],
        "drawdowns_90d": [(None, 10), (3, 0), (6, -10)],
        "night_drawdowns_180d": [(None, 5), (1, -10)],
        "lender_transfers_90d": [(None, 10), (1, -30)],
        "identity_mismatch": [(None, 10), (0.5, -40)],
    }
    bins = []
    for feature, ranges in spec.items():
        for index, (lower, points) in enumerate(ranges):
            upper = ranges[index + 1][0] if index + 1 < len(ranges) else None
            bins.append(PointsBin(feature, index, "range", lower, upper, points=points, count=100))
        bins.append(PointsBin(feature, len(ranges), BIN_MISSING, points=0))
    table = PointsTable(bins=bins, base_points=470)
    result = TrainingResult(
        table=table, auc=0.0, ks=0.0, gini=0.0, iv={}, train_rows=0, test_rows=0, bad_rate=0.0
    )
    model = scorecard_store(actor=None, name="book", result=result, target="bench: fixed table")
    scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    policy_activate(actor=None, policy=policy_draft(actor=None, rules=DEFAULT_RULES))
    return model


def _naive(sample: list[int], as_of: date) -> float:
    """The per-borrower ORM loop: features read and computed for one borrower, one Score row
    saved, the line reviewed by policy.review and changed through the single-line services
    with its LimitDecision; a transaction per borrower. Returns seconds per borrower."""
    from django.db import transaction
    from django.utils import timezone

    from core.errors import DomainError
    from decisions import policy as limit_policy
    from decisions.features import book_frames, features_for_chunk
    from decisions.models import LimitDecision, Score
    from decisions.reasons import reason_codes
    from decisions.selectors import points_table
    from decisions.services import active_policy
    from decisions.services.scoring import acting_models
    from lending import caps
    from lending.models import CreditLine
    from lending.selectors import book_columns
    from lending.services import line_freeze, line_limit_set

    champion, _challenger = acting_models("book")
    assert champion is not None
    table = points_table(model=champion)
    policy = active_policy()
    rules = limit_policy.policy_rules(policy.rules)
    cap = caps.product_limit_cap()
    started = time.perf_counter()
    for borrower_id in sample:
        with transaction.atomic():
            frame = features_for_chunk(
                book_frames(book_columns(borrower_ids=[borrower_id], as_of=as_of)), as_of=as_of
            )
            row = frame.iloc[0]
            total, per = table.score({f: [row[f]] for f in table.features})
            previous = (
                Score.objects.filter(borrower_id=borrower_id, acting=True)
                .order_by("-scored_at", "-id")
                .first()
            )
            score = Score.objects.create(
                borrower_id=borrower_id,
                model=champion,
                total=int(round(total[0])),
                inputs={
                    f: {"value": float(row[f]), "points": float(per[f][0])} for f in table.features
                },
                reasons=reason_codes(table.reasons({f: per[f][0] for f in per})),
                acting=True,
                as_of=as_of,
                scored_at=timezone.now(),
                run_id="",
            )
            line = CreditLine.objects.get(borrower_id=borrower_id)
            dpd = (as_of - line.oldest_unpaid_due).days if line.oldest_unpaid_due else 0
            state = limit_policy.LineState(
                limit=line.credit_limit,
                used=line.used,
                dpd=max(dpd, 0),
                score=score.total,
                previous_score=previous.total if previous else None,
                on_time_streak=int(row["on_time_streak"]),
                small_early_settlements=int(row["early_settlements"]),
                lender_transfers_90d=int(row["lender_transfers_90d"]),
                identity_mismatch=bool(row["identity_mismatch"]),
                fraud_confirmed=False,
                locked=line.locked_until is not None and line.locked_until > as_of,
                pending_override=False,
                last_cut_on=None,
                closed=line.status == "closed",
                frozen=line.status == "frozen",
            )
            decision = limit_policy.review(rules, state, today=as_of, product_cap=cap)
            if decision.action == limit_policy.HOLD and not decision.reasons:
                continue
            try:
                if decision.action in (limit_policy.RAISE, limit_policy.CUT):
                    line_limit_set(
                        actor=None,
                        line=line,
                        new_limit=decision.new_limit,
                        reason_code="policy",
                        note=" ".join(decision.reasons),
                        automatic=True,
                    )
                elif decision.action == limit_policy.FREEZE:
                    line_freeze(
                        actor=None, line=line, status_code="overdue", note=decision.reasons[0]
                    )
            except DomainError:  # a refusal: the naive loop moves on, as the run does
                continue
            LimitDecision.objects.create(
                borrower_id=borrower_id,
                policy=policy,
                score=score,
                action=decision.action,
                old_limit=state.limit,
                new_limit=decision.new_limit,
                band=decision.band,
                reasons=list(decision.reasons),
                applied=decision.action != limit_policy.HOLD,
                decided_at=timezone.now(),
                run_id="",
            )
    return (time.perf_counter() - started) / len(sample)


def _chunk_worker(job: tuple[str, list[int]]) -> tuple[list[float], float]:
    """Run chunks of a run in this process (its own connection); (seconds per chunk, peak RSS)."""
    from decisions.services import scoring_chunk_run

    run_id, indexes = job
    seconds = []
    for index in indexes:
        t0 = time.perf_counter()
        scoring_chunk_run(run_id=run_id, index=index)
        seconds.append(time.perf_counter() - t0)
    return seconds, _rss_mb()


def _server() -> str:
    """The server settings the figures depend on most (a run writes gigabytes of WAL)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('server_version'), current_setting('shared_buffers'), "
            "current_setting('max_wal_size')"
        )
        version, buffers, wal = cursor.fetchone()
    return f"PostgreSQL {version}, shared_buffers {buffers}, max_wal_size {wal}"


def _use_database(name: str) -> None:
    """Point this process (and the worker processes it forks) at database `name`."""
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def _timed_run(
    label: str, run_id: str, workers: int, args: argparse.Namespace, as_of: date
) -> float:
    """One whole-book run by `workers` processes, printed; returns borrowers/s."""
    from django.db import connections
    from django.db.models import Count

    from decisions.models import LimitDecision
    from decisions.services import scoring_run_start

    run = scoring_run_start(as_of=as_of, chunk_size=args.chunk_size, run_id=run_id)
    indexes = list(run.chunks.order_by("index").values_list("index", flat=True))
    started = time.perf_counter()
    if workers == 1:
        seconds, rss = _chunk_worker((run.run_id, indexes))
        per_process = [rss]
    else:
        connections.close_all()  # each worker process opens its own connection
        context = multiprocessing.get_context("fork")
        jobs = [(run.run_id, indexes[w::workers]) for w in range(workers)]
        with context.Pool(workers, maxtasksperchild=1) as pool:
            done = pool.map(_chunk_worker, jobs)
        seconds = [s for chunk_seconds, _rss in done for s in chunk_seconds]
        per_process = [rss for _s, rss in done]
    wall = time.perf_counter() - started
    decisions = dict(
        LimitDecision.objects.filter(run_id=run.run_id)
        .values_list("action")
        .annotate(n=Count("id"))
    )
    print(
        f"{label}, {workers} worker process{'es' if workers > 1 else ''}: {run.borrowers:,} "
        f"borrowers in {wall:.1f} s = {run.borrowers / wall:,.0f} borrowers/s; {len(indexes)} "
        f"chunks of {args.chunk_size:,}: p50 {_percentile(seconds, 50):.2f} s, "
        f"p95 {_percentile(seconds, 95):.2f} s; peak RSS per process "
        f"{', '.join(f'{r:.0f}' for r in per_process)} MB; decisions {decisions}; {_load()}",
        flush=True,
    )
    print(f"    seconds per chunk, in order: {' '.join(f'{x:.1f}' for x in seconds)}", flush=True)
    return run.borrowers / wall


def _run_bench(args: argparse.Namespace, as_of: date) -> None:
    """(b) and (c) start from the same book: (c) runs on a copy taken before (b) (CREATE
    DATABASE ... TEMPLATE), so one and two processes do the same work on the same chunks. (d)
    is the next run on (b)'s book, as a nightly run finds it after one the day before (here
    the same day: every raise of (b) is inside the policy's interval between raises)."""
    from django.db import connection

    from decisions.models import Score
    from lending.models import Borrower

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    if not Score.objects.exists():
        _champion_and_policy()
    borrowers = Borrower.objects.count()
    print(f"book: {borrowers:,} borrowers as of {as_of}; {_server()}; {_load()}", flush=True)
    twin = f"{DB}_twin"
    _use_database(DB)
    started = time.perf_counter()
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {twin}")
        admin.execute(f"CREATE DATABASE {twin} TEMPLATE {DB}")
    print(f"copied the book to {twin} in {time.perf_counter() - started:.0f} s", flush=True)

    stamp = secrets.token_hex(4)  # run ids of this invocation (a --reuse book has older runs)
    try:
        one = _timed_run("(b) first run on the book", f"bench-1w-{stamp}", 1, args, as_of)
        _use_database(twin)
        two = _timed_run("(c) the same first run on its copy", f"bench-2w-{stamp}", 2, args, as_of)
        _use_database(DB)
        nightly = _timed_run("(d) the next run after (b)", f"bench-next-{stamp}", 2, args, as_of)
    finally:
        _use_database(DB)
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {twin}")

    # (a) the naive loop last, on borrowers spread over the book (it writes as it goes)
    step = max(borrowers // args.sample, 1)
    ids = list(Borrower.objects.order_by("pk").values_list("pk", flat=True)[::step][: args.sample])
    naive = _naive(ids, as_of)
    print(
        f"(a) naive per-borrower ORM loop: {len(ids)} borrowers, {naive * 1000:.1f} ms/borrower "
        f"= {1 / naive:,.0f} borrowers/s; the book would take {naive * borrowers:,.0f} s; "
        f"{_load()}",
        flush=True,
    )
    print(
        f"ratio to the naive loop: (b) {one * naive:.0f}x, (c) {two * naive:.0f}x, "
        f"(d) {nightly * naive:.0f}x; two processes / one on the same first run: "
        f"{two / one:.2f}x",
        flush=True,
    )


def _profile_chunk(size: int, as_of: date) -> None:
    """cProfile one chunk of `size` borrowers (the second of a fresh run: the first warms the
    imports and caches) and print where its time went. It writes, as a run does: profile a
    copy of the book (--database) if the figures of a later run matter."""
    import cProfile
    import pstats

    from decisions.models import Score
    from decisions.services import scoring_chunk_run, scoring_run_start

    if not Score.objects.exists():
        _champion_and_policy()
    run_id = f"profile-{secrets.token_hex(4)}"
    run = scoring_run_start(as_of=as_of, chunk_size=size, run_id=run_id)
    if run.chunks_total < 2:
        sys.exit("--profile needs a book of at least two chunks")
    scoring_chunk_run(run_id=run_id, index=0)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    chunk = scoring_chunk_run(run_id=run_id, index=1)
    profile.disable()
    print(
        f"chunk of {chunk.size:,} borrowers: {chunk.scores:,} scores, {chunk.decisions:,} "
        f"decisions in {time.perf_counter() - started:.2f} s (under cProfile); {_load()}",
        flush=True,
    )
    stats = pstats.Stats(profile)
    _profile_split(stats)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


# Where a chunk's time goes: (label, file suffix, function), cumulative seconds of each.
SPLIT = (
    ("whole chunk", "decisions/services/runs.py", "chunk_rescore"),
    ("features: aggregate SQL", "lending/selectors/book.py", "book_aggregates"),
    ("features: frame", "decisions/features.py", "features_from_aggregates"),
    ("scores: build + write", "decisions/services/scoring.py", "chunk_scores_write"),
    ("scores: COPY", "decisions/services/scoring.py", "_scores_copy"),
    ("review: read state", "decisions/services/reviews.py", "chunk_state"),
    ("review: decide + write", "decisions/services/reviews.py", "chunk_review"),
    ("limit changes", "lending/services/lines_bulk.py", "line_limits_set_bulk"),
    ("freezes", "lending/services/lines_bulk.py", "line_freeze_bulk"),
    ("guarded UPDATEs", "lending/services/lines_bulk.py", "_guarded_update"),
    ("notices", "lending/services/lines_bulk.py", "_bulk_notices"),
    ("decision rows", "decisions/services/reviews.py", "_decisions_write"),
    ("audit rows (all)", "accounts/audit.py", "audit_bulk"),
    ("audit: chain + COPY", "accounts/audit.py", "_copy_append"),
    ("commit (deferred FK checks)", "django/db/backends/base/base.py", "commit"),
    ("waiting on PostgreSQL", "psycopg/connection.py", "wait"),
)


def _profile_split(stats: Any) -> None:
    """Print SPLIT: seconds per part of the chunk (cumulative, so parts overlap)."""
    found: dict[str, float] = {}
    for (filename, _line, function), row in stats.stats.items():
        for label, suffix, name in SPLIT:
            if function == name and filename.endswith(suffix):
                found[label] = found.get(label, 0.0) + row[3]
    print("split (cumulative seconds, under cProfile; parts overlap):")
    for label, _suffix, _name in SPLIT:
        if label in found:
            print(f"  {label:<32} {found[label]:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = int(os.environ.get("RISKOPS_BENCH_BORROWERS", "1000000"))
    parser.add_argument("--borrowers", type=int, default=default)
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=500, help="borrowers in the naive loop")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a seeded database")
    parser.add_argument("--seed-only", action="store_true", help="stop after seeding")
    parser.add_argument("--database", default=DB, help="the database to create and use")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        help="the book's last closed day (default today; a book seeded by seed_million.py "
        "is as of 2026-11-01: pass that with --reuse --database riskops_bench)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="SIZE",
        help="cProfile one chunk of SIZE borrowers instead of the bench (writes to the book)",
    )
    args = parser.parse_args()
    globals()["DB"] = args.database

    _configure()
    reuse = args.reuse and _database_exists()
    if not reuse:
        _recreate_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from demo.seeding import book_exists

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated {DB} in {time.perf_counter() - started:.1f} s", flush=True)
    as_of = args.as_of or timezone.localdate()
    if not book_exists():
        _seed(args.borrowers, as_of)
    else:
        from demo import writers

        writers.reset_sequences()  # a book left by an interrupted seed: ids after its rows
    if args.seed_only:
        return
    if args.profile:
        _profile_chunk(args.profile, as_of)
        return
    _run_bench(args, as_of)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        _drop_database()


if __name__ == "__main__":
    main()
