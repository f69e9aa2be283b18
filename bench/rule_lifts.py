"""Each shipped monitoring rule's lift on the demo book: the rule's backtest over a window.

    .venv/bin/python bench/rule_lifts.py --database PATH          # a seeded SQLite file
    .venv/bin/python bench/rule_lifts.py --database postgres://...
    .venv/bin/python bench/rule_lifts.py --var-dir DIR            # the embedded profile's
    .venv/bin/python bench/rule_lifts.py --borrowers 10000 --seed 7   # seed a throwaway book

Runs monitoring.services.backtest.backtest_figures (what a manager's backtest runs, writing
nothing) for the active version of every shipped rule over the window (default 1 Mar - 30 Jun
2026), and prints the alerts, alerted borrowers, the judged
population, their 30+ DPD rates within 90 days and the lift. A rule the demo book plants
(velocity, off-hours, 以贷养贷, rings, identity mismatch, new device then max drawdown,
utilisation jump) must show a lift of at least 2x (issue 8); the others print without a
verdict. Exits 1 if a planted rule fails. The book is the one `make run` seeds (seed 7, as of
yesterday): the outcomes of the window's last alerts (90 days on) must lie inside the book
(on or before its last day close; a borrower whose window is still open is not counted).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIN_LIFT = 2.0
# The rules whose behaviour the demo book plants (demo.behaviour, demo.plan).
PLANTED = {
    "small_drawdown_velocity",
    "off_hours_withdrawal",
    "borrow_to_repay",
    "linked_identities",
    "identity_mismatch",
    "new_device_max_drawdown",
    "utilisation_jump",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", help="a SQLite file, or a postgres:// URL")
    parser.add_argument("--var-dir", help="the embedded profile's var dir")
    parser.add_argument("--borrowers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, help="the book's last day (default: yesterday)"
    )
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 3, 1))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 6, 30))
    parser.add_argument("--dpd", type=int, default=30)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rules", nargs="*", help="only these rule kinds (default: every rule)")
    args = parser.parse_args()

    scratch = None
    if args.database and args.database.startswith(("postgres://", "postgresql://")):
        os.environ.update(
            RISKOPS_PROFILE="production",
            DATABASE_URL=args.database,
            SECRET_KEY=os.environ.get("SECRET_KEY", "rule-lifts"),
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
    from django.utils import timezone

    from demo.seeding import book_exists
    from monitoring.models import RuleVersion
    from monitoring.services import rules_ensure_defaults
    from monitoring.services.backtest import backtest_figures
    from monitoring.services.outcomes import outcomes_known_through

    call_command("migrate", verbosity=0)
    if not book_exists():
        started = time.perf_counter()
        call_command(
            "seed_demo",
            *("--borrowers", str(args.borrowers), "--months", str(args.months)),
            *("--seed", str(args.seed)),
            *(("--as-of", args.as_of.isoformat()) if args.as_of else ()),
            "--without-alerts",
            "--without-decisions",
            verbosity=0,
            stdout=StringIO(),
        )
        print(f"seeded {args.borrowers:,} borrowers in {time.perf_counter() - started:.1f} s")
    rules_ensure_defaults(actor=None)
    closed = outcomes_known_through()
    if closed is None or closed < args.end + timedelta(days=args.days):
        # monitoring.services.outcomes judges a borrower only once their window has ended by
        # the book's last day close: the window's later borrowers would be left out.
        print(
            f"WARNING: the book is closed through {closed}, before the end of the outcome "
            f"window ({args.end} + {args.days} days): only borrowers whose window has ended "
            "count. Seed the book as make run does (as of yesterday), or move the window back.\n"
        )
    zone = timezone.get_current_timezone()
    start = datetime.combine(args.start, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(args.end + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    versions = (
        RuleVersion.objects.filter(status="active")
        .select_related("rule")
        .order_by("rule__kind", "-version")
    )
    print(
        f"rule backtests {args.start} - {args.end}: lift = {args.dpd}+ DPD within "
        f"{args.days} days of the first hit, alerted vs everyone the rule judged\n"
    )
    header = (
        f"{'rule':<26} {'alerts':>7} {'alerted':>8} {'judged':>7} {'alerted bad':>12} "
        f"{'base bad':>9} {'lift':>7}  verdict  (s)"
    )
    print(header)
    failed = []
    seen_kinds: set[str] = set()
    for version in versions:
        kind = version.rule.kind
        if kind in seen_kinds or (args.rules and kind not in args.rules):
            continue
        seen_kinds.add(kind)
        started = time.perf_counter()
        f = backtest_figures(version, start=start, end=end, dpd=args.dpd, days=args.days)
        lift = float(f["lift"]) if f["lift"] is not None else None
        verdict = ""
        if kind in PLANTED:
            verdict = "PASS" if lift is not None and lift >= MIN_LIFT else "FAIL"
            if verdict == "FAIL":
                failed.append(kind)
        hit_rate = f"{float(f['hit_bad_rate']):.1%}" if f["hit_bad_rate"] is not None else "-"
        base_rate = f"{float(f['base_rate']):.1%}" if f["base_rate"] is not None else "-"
        print(
            f"{kind:<26} {f['alerts']:>7,} {f['borrowers']:>8,} {f['population']:>7,} "
            f"{hit_rate:>12} {base_rate:>9} {(f'{lift:.2f}x' if lift else '-'):>7}  "
            f"{verdict or '    ':<7}  {time.perf_counter() - started:.1f}"
        )
    print(f"\n{len(failed)} of {len(PLANTED & seen_kinds)} planted rules below {MIN_LIFT}x")
    if scratch:
        scratch.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
