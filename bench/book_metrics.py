"""Measure the demo book as a risk team would, against the ranges a real book of this kind shows.

    .venv/bin/python bench/book_metrics.py [--borrowers 10000] [--months 12] [--seed 7]
        [--as-of 2026-06-30]                  # seed a throwaway SQLite book, then measure it
    .venv/bin/python bench/book_metrics.py --database PATH   # measure this SQLite file as it is
    .venv/bin/python bench/book_metrics.py --database postgres://...   # or this PostgreSQL one
    .venv/bin/python bench/book_metrics.py --var-dir DIR     # the embedded profile's database there

A database without borrowers is seeded first (with the arguments above); one with borrowers is
read as it is (--reseed to start again). Prints each figure with its target range and PASS or
FAIL, then the roll-rate, vintage, term, onboarding and hour-of-day tables; then the champion
the seeder trained on the book: its AUC and KS against later 90+ DPD (out of time, and at its
training date), the acting scores by policy band, and the limit decisions of the whole-book run
by action and reason code (demo.metrics.decisions). Exits 1 if any figure fails. The figures
come from the rows only (demo.metrics), never from the generator.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--borrowers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--database", help="a SQLite file, or a postgres:// URL")
    parser.add_argument("--var-dir", help="the embedded profile's var dir (its riskops.sqlite3)")
    parser.add_argument("--reseed", action="store_true", help="empty the database and seed again")
    parser.add_argument("--no-scorecard", action="store_true", help="skip the scorecard's fit")
    parser.add_argument(
        "--without-decisions",
        action="store_true",
        help="seed the book alone (no champion, policy or scoring run) and skip their figures",
    )
    args = parser.parse_args()

    scratch = None
    if args.database and args.database.startswith(("postgres://", "postgresql://")):
        os.environ.update(
            RISKOPS_PROFILE="production",
            DATABASE_URL=args.database,
            SECRET_KEY=os.environ.get("SECRET_KEY", "book-metrics"),
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/3"),
        )
    else:
        os.environ.setdefault("RISKOPS_PROFILE", "embedded")
        if args.var_dir:
            os.environ["RISKOPS_VAR_DIR"] = args.var_dir
        if args.database:
            os.environ["RISKOPS_SQLITE_PATH"] = str(Path(args.database).resolve())
        elif not args.var_dir:
            scratch = tempfile.TemporaryDirectory()
            os.environ["RISKOPS_VAR_DIR"] = scratch.name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riskops.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from demo import metrics
    from demo.seeding import book_exists

    call_command("migrate", verbosity=0)
    if args.reseed or not book_exists():
        started = time.perf_counter()
        call_command(
            "seed_demo",
            "--borrowers",
            str(args.borrowers),
            "--months",
            str(args.months),
            "--seed",
            str(args.seed),
            "--as-of",
            args.as_of.isoformat(),
            *(["--reset"] if args.reseed else []),
            *(["--without-decisions"] if args.without_decisions else []),
            verbosity=0,
            stdout=StringIO(),
        )
        print(
            f"seeded {args.borrowers:,} borrowers x {args.months} months (seed {args.seed}, "
            f"as of {args.as_of}) in {time.perf_counter() - started:.1f} s"
        )
        as_of, months = args.as_of, args.months
    else:
        as_of, months = None, None  # the latest day close, and the window from the first line
    started = time.perf_counter()
    book = metrics.load_book(as_of=as_of, months=months)
    report = metrics.measure(book, with_scorecard=not args.no_scorecard)
    print(
        f"book as of {book.as_of} from {book.start}: {len(book.b_id):,} borrowers, "
        f"{len(book.l_id):,} loans (read and measured in {time.perf_counter() - started:.1f} s)\n"
    )
    print(report.text())
    failed = [f.name for f in report.figures if f.verdict == "FAIL"]
    checks = sum(1 for f in report.figures if f.verdict)
    if not args.without_decisions:
        from demo.metrics.decisions import measure_decisions

        started = time.perf_counter()
        decided = measure_decisions(as_of=book.as_of)
        if decided is None:
            print("\nno champion on this book (seeded --without-decisions, or too small)")
        else:
            print(f"\n{decided.text()}")
            print(f"(scores and decisions measured in {time.perf_counter() - started:.1f} s)")
            checks += 1
            if decided.failed():
                failed.append("champion AUC out of time")
    print(f"\n{len(failed)} of {checks} checks failed")
    if scratch:
        scratch.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
