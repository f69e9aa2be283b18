"""How fast are the home figures and the borrower list on a large book?

    python bench/bench_pages.py [--database riskops_bench] [--borrowers 50000] [--repeat 30]

Runs on PostgreSQL (the production profile). Uses the book in `--database` if it holds one
(bench/seed_million.py --keep leaves a million borrowers in riskops_bench); otherwise it
creates `riskops_bench_pages` and seeds `--borrowers` (default $RISKOPS_BENCH_BORROWERS, else
50,000) in bulk mode first. Static files are collected first, as a deployment does: pages
render with the production profile's manifest storage, which a fresh clone has no manifest for.

Measured in one run, each against its naive baseline:
1. Headline figures (lending.selectors.book_summary, cache cleared each time): one
   conditional-aggregate pass in SQL, vs loading every line and computing DPD per row in Python.
2. The borrower list through the real page (Django test client, logged in as an analyst):
   first page, a page deep in the book by keyset cursor, a bucket filter, a last-4 search,
   a name-prefix search; and the deep page's query by keyset vs OFFSET with a COUNT(*)
   (Django's Paginator), the naive way.
Prints requests/s, p50/p95/p99 latency, peak RSS and the ratios.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# The production profile refuses a short or published SECRET_KEY, and demo logins with the
# published password: both are random, for this run only (nothing signed outlives it).
_SECRET_KEY = secrets.token_urlsafe(50)
_DEMO_PASSWORD = secrets.token_urlsafe(24)


def _configure(database: str) -> None:
    os.environ.update(
        RISKOPS_PROFILE="production",
        SECRET_KEY=_SECRET_KEY,
        RISKOPS_DEMO_PASSWORD=_DEMO_PASSWORD,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        REDIS_URL="redis://127.0.0.1:6379/7",
        RISKOPS_LOG_LEVEL="WARNING",
        RISKOPS_INSECURE_COOKIES="1",
        DJANGO_SETTINGS_MODULE="riskops.settings",
    )
    sys.path.insert(0, str(ROOT))


def _admin_connection(database: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}", autocommit=True)


def _borrowers_in(database: str) -> int:
    """How many borrowers the database holds; 0 when it or its tables do not exist."""
    try:
        with _admin_connection(database) as conn:
            row = conn.execute("SELECT count(*) FROM lending_borrower").fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def _seed(database: str, borrowers: int) -> None:
    with _admin_connection() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database}")  # a name of ours, not user input
        conn.execute(f"CREATE DATABASE {database}")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, cwd=ROOT)  # noqa: S603
    subprocess.run(  # noqa: S603
        [
            *manage,
            "seed_demo",
            "--borrowers",
            str(borrowers),
            "--months",
            "12",
            "--seed",
            "7",
            "--bulk",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def _collectstatic() -> None:
    """The manifest the production profile's pages need, as a deployment builds it.

    Without it every page fails ("Missing staticfiles manifest entry"). Later runs only
    re-hash: unchanged files are not copied again.
    """
    subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0"],
        check=True,
        cwd=ROOT,
    )


def _timed(func: Callable[[], object], repeat: int) -> list[float]:
    func()  # warm the connection and the database's caches once
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _pct(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _report(name: str, samples: list[float]) -> float:
    p50 = statistics.median(samples)
    print(
        f"  {name:<34} {1000 / statistics.mean(samples):8.1f} req/s   p50 {p50:8.1f} ms"
        f"   p95 {_pct(samples, 95):8.1f} ms   p99 {_pct(samples, 99):8.1f} ms"
    )
    return p50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="riskops_bench")
    parser.add_argument(
        "--borrowers", type=int, default=int(os.environ.get("RISKOPS_BENCH_BORROWERS", "50000"))
    )
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    database = args.database
    if _borrowers_in(database) == 0:
        database = "riskops_bench_pages"
        if _borrowers_in(database) == 0:
            _configure(database)
            print(f"seeding {args.borrowers:,} borrowers into {database} ...", flush=True)
            _seed(database, args.borrowers)
    _configure(database)
    started = time.perf_counter()
    _collectstatic()
    print(f"static files collected ({time.perf_counter() - started:.1f} s)", flush=True)

    import django

    django.setup()
    from django.core.cache import cache
    from django.core.paginator import Paginator
    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from lending import money
    from lending.models import Borrower, CreditLine
    from lending.selectors import book_summary, borrower_list, keyset_page

    today = timezone.localdate()
    size = Borrower.objects.count()
    print(f"book: {size:,} borrowers in {database}, as of {today}")

    # 1. Headline figures.
    def summary() -> None:
        cache.clear()
        book_summary(today=today)

    def summary_naive() -> None:
        totals: dict[str, int] = {}
        for used, due in CreditLine.objects.values_list("used", "oldest_unpaid_due").iterator(
            chunk_size=20_000
        ):
            bucket = money.bucket_for(money.days_past_due(due, today))
            totals[bucket] = totals.get(bucket, 0) + int(used)

    print("home figures (uncached):")
    fast = _report("book_summary (SQL aggregate)", _timed(summary, max(args.repeat // 3, 5)))
    slow = _report("naive: per-row DPD in Python", _timed(summary_naive, 2))
    print(f"  ratio naive / aggregate: {slow / fast:.1f}x")

    # 2. The borrower list page.
    analyst, _ = User.objects.get_or_create(username="bench-analyst", defaults={"role": "analyst"})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(analyst)
    deep_id = Borrower.objects.order_by("id").values_list("id", flat=True)[size // 2]
    last4 = Borrower.objects.order_by("-id").values_list("mobile_last4", flat=True).first()
    surname = (Borrower.objects.order_by("-id").values_list("name", flat=True).first() or "")[:1]

    def page(query: str) -> Callable[[], None]:
        def get() -> None:
            response = client.get(f"/borrowers/?{query}")
            assert response.status_code == 200, response.status_code

        return get

    def page_offset_naive() -> None:
        queryset = Borrower.objects.select_related("line").order_by("-id")
        paginator = Paginator(queryset, 50)
        list(paginator.page(paginator.num_pages // 2).object_list)  # COUNT(*) then OFFSET

    print("borrower list (whole page, test client):")
    results = {}
    for name, query in [
        ("first page", ""),
        ("deep page (keyset ?after=)", f"after={deep_id}"),
        ("bucket M2 filter", "bucket=M2"),
        ("mobile last-4 search", f"q={last4}"),
        ("name prefix search", f"q={surname}"),
        ("status frozen filter", "status=frozen"),
    ]:
        results[name] = _report(name, _timed(page(query), args.repeat))
    print("deep page, query only (same rows, no rendering):")
    keyset = _report(
        "keyset (id < cursor)",
        _timed(lambda: keyset_page(borrower_list(user=analyst), after=deep_id), args.repeat),
    )
    naive = _report("naive: OFFSET + COUNT(*)", _timed(page_offset_naive, 5))
    print(f"  ratio naive / keyset: {naive / keyset:.1f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
