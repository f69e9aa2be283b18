"""Seed a large demo book into PostgreSQL in bulk mode and say how long it took.

    .venv/bin/python bench/seed_million.py [--borrowers 1000000] [--months 12] [--keep]

(--borrowers defaults to $RISKOPS_BENCH_BORROWERS, else 1,000,000.)

Creates (drops first) the database riskops_bench on 127.0.0.1 (user postgres, trust auth),
migrates it with the production profile, then:

1. Baseline: the same generator writing a small sample with per-row save() and with
   bulk_create, timed per borrower (the naive ways, extrapolated to the full book).
2. The book: `seed_book` in bulk mode (COPY, a transaction per chunk), timed per table.

Prints total time, borrowers/s, rows/s per table, peak RSS, and the speed-up over the
baselines. Drops the database at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import date
from pathlib import Path

import psycopg

DB = "riskops_bench"
ROOT = Path(__file__).resolve().parent.parent


def recreate_database() -> None:
    # No FORCE: if another run is using the database, DROP fails instead of killing it.
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")
        conn.execute(f"CREATE DATABASE {DB}")


def drop_database() -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # `make bench` may ask for a smaller book: the full million takes about 25 minutes here.
    default = int(os.environ.get("RISKOPS_BENCH_BORROWERS", "1000000"))
    parser.add_argument("--borrowers", type=int, default=default)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--sample", type=int, default=200, help="borrowers in the baseline")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    os.environ.update(
        {
            "RISKOPS_PROFILE": "production",
            # The production profile refuses a short or published key, and demo logins with
            # the published password: both random, for this run only.
            "SECRET_KEY": secrets.token_urlsafe(50),
            "RISKOPS_DEMO_PASSWORD": secrets.token_urlsafe(24),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "DJANGO_SETTINGS_MODULE": "riskops.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    recreate_database()
    import django

    django.setup()
    from django.core.management import call_command

    from demo.seeding import SeedOptions, ensure_staff_logins, peak_rss_mb, seed_book

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated {DB} in {time.perf_counter() - started:.1f} s")
    service, _ = ensure_staff_logins()

    # 1. Baselines on a small sample, then an empty book again.
    baselines: dict[str, float] = {}
    for writer, sample in (("save", args.sample // 4), ("bulk_create", args.sample)):
        options = SeedOptions(
            borrowers=sample,
            months=args.months,
            seed=args.seed,
            as_of=args.as_of,
            writer=writer,
            chunk_size=sample,
        )
        result = seed_book(options, service_user_id=service.pk)
        baselines[writer] = result.seconds / sample
        print(
            f"baseline {writer:<11}: {sample} borrowers, {result.rows:,} rows in "
            f"{result.seconds:.1f} s = {baselines[writer] * 1000:.1f} ms/borrower"
        )
        call_command("flush", interactive=False, verbosity=0)
        service, _ = ensure_staff_logins()

    # 2. The book, in bulk mode.
    options = SeedOptions(
        borrowers=args.borrowers,
        months=args.months,
        seed=args.seed,
        as_of=args.as_of,
        bulk=True,
        chunk_size=args.chunk_size,
    )
    step = max(args.borrowers // 20, args.chunk_size)
    marks = iter(range(step, args.borrowers + step, step))
    mark = next(marks)

    def progress(done: int, seconds: float) -> None:
        nonlocal mark
        if done >= mark:
            print(
                f"  {done:>9,} borrowers  {seconds:7.0f} s  {done / seconds:6.0f}/s  "
                f"RSS peak {peak_rss_mb():.0f} MB",
                flush=True,
            )
            mark = next(marks, args.borrowers * 2)

    result = seed_book(options, service_user_id=service.pk, progress=progress)
    total = result.seconds
    # Fresh statistics, as autovacuum gathers them on a live book: the benches run on it next,
    # and without them the planner guesses (a borrower search walked half the table).
    analyzed = time.perf_counter()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"ANALYZE in {time.perf_counter() - analyzed:.1f} s")
    print(
        f"\nseeded {result.borrowers:,} borrowers ({args.months} months) in {total:.0f} s "
        f"= {result.borrowers / total:,.0f} borrowers/s, {result.rows:,} rows "
        f"= {result.rows / total:,.0f} rows/s overall"
    )
    print(
        f"generating (Python) {result.extra['generate_seconds']:.0f} s, "
        f"COPY {sum(result.write_seconds.values()):.0f} s (summed over worker processes), "
        f"peak RSS {result.peak_rss_mb:.0f} MB (largest process)"
    )
    for table, count in result.counts.items():
        seconds = result.write_seconds[table]
        rate = count / seconds if seconds else 0
        print(f"  {table:<11} {count:>13,} rows  COPY {seconds:7.1f} s  {rate:>10,.0f} rows/s")
    for writer, per_borrower in baselines.items():
        naive = per_borrower * result.borrowers
        print(f"baseline {writer}: {naive:,.0f} s extrapolated, {naive / total:.1f}x slower")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        drop_database()


if __name__ == "__main__":
    main()
