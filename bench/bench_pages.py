"""How fast are the home figures, the borrower list and the borrower drill-down on a large book?

    python bench/bench_pages.py [--database riskops_bench] [--borrowers 50000] [--repeat 30]
                                [--scratch riskops_bench_pages]

Runs on PostgreSQL (the production profile). Uses the book in `--database` if it holds one
(bench/seed_million.py --keep leaves a million borrowers in riskops_bench); otherwise it
creates `--scratch` (riskops_bench_pages) and seeds `--borrowers` (default
$RISKOPS_BENCH_BORROWERS, else 50,000) in bulk mode first. Static files are collected first,
as a deployment does: pages render with the production profile's manifest storage, which a
fresh clone has no manifest for.

Measured in one run, each against its naive baseline:
1. Headline figures (lending.selectors.book_summary, cache cleared each time): one
   conditional-aggregate pass in SQL, vs loading every line and computing DPD per row in Python.
2. The borrower list through the real page (Django test client, logged in as an analyst):
   first page, a page deep in the book by keyset cursor, a bucket filter, a last-4 search,
   a name-prefix search; and the deep page's query by keyset vs OFFSET with a COUNT(*)
   (Django's Paginator), the naive way; sorted by limit (first and a deep page by keyset
   cursor), a masked mobile pasted from the screen, a customer-number prefix, a full ID number
   through its keyed digest, the last page; the CSV export of a filtered list (rows/s).
3. The borrower drill-down (issue 8: p95 under 150 ms): the borrower page itself, the
   timeline fragment (first page, an older page by cursor, one kind), the open-case badge,
   for a spread of borrowers and for the ones with the longest histories; the timeline vs
   the naive way (every row of every source loaded and sorted in Python).
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
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
        # A helper or CI job running beside others passes its own Redis db.
        REDIS_URL=os.environ.get("RISKOPS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
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
    # Fresh statistics, as autovacuum would gather them on a live book: without them the
    # planner scans every instalment for one borrower's missed due dates (0.4 s instead of 1 ms).
    with _admin_connection(database) as conn:
        conn.execute("ANALYZE")


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
    parser.add_argument("--scratch", default="riskops_bench_pages")
    parser.add_argument(
        "--drill-down-only",
        action="store_true",
        help="skip the home figures and the original list cases (issue 8's parts only)",
    )
    args = parser.parse_args()

    database = args.database
    if _borrowers_in(database) == 0:
        database = args.scratch
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

    if args.drill_down_only:
        analyst, _ = User.objects.get_or_create(
            username="bench-analyst", defaults={"role": "analyst"}
        )
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(analyst)
        _bench_list_extras(client, analyst, args.repeat)
        _bench_drill_down(client, args.repeat)
        return

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

    _bench_list_extras(client, analyst, args.repeat)
    _bench_drill_down(client, args.repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")


def _bench_list_extras(client: Any, analyst: Any, repeat: int) -> None:
    """The list's searches, sorts and pager edges added by issue 8, and the CSV export."""
    from accounts import masking
    from accounts.models import User
    from lending.models import Borrower

    newest = Borrower.objects.order_by("-id").values_list("mobile", "customer_no", "national_id")
    mobile, customer_no, national_id = newest.first() or ("13800000000", "C0", "0" * 18)
    senior, _ = User.objects.get_or_create(
        username="bench-senior", defaults={"role": "senior_analyst"}
    )
    senior_client = type(client)(HTTP_HOST="127.0.0.1")
    senior_client.force_login(senior)

    def get(query: str, who: Any = client) -> Callable[[], None]:
        def run() -> None:
            response = who.get(f"/borrowers/?{query}")
            assert response.status_code == 200, response.status_code

        return run

    from lending.selectors import borrower_list, parse_sort_cursor, sorted_keyset_page

    by_limit = borrower_list(user=analyst, sort="-limit")
    page = sorted_keyset_page(by_limit, sort="-limit")
    cursor = page.next_after
    for _ in range(20):  # twenty pages in: a deep page of a sorted list
        page = sorted_keyset_page(
            by_limit, sort="-limit", after=parse_sort_cursor(cursor or "", "-limit")
        )
        cursor = page.next_after or cursor
    cursor = urllib.parse.quote(cursor or "")
    print("borrower list, issue 8 additions (whole page, test client):")
    for name, run in [
        ("sort by limit, first page", get("sort=-limit")),
        ("sort by limit, 20 pages in", get(f"sort=-limit&after={cursor}")),
        ("sort most overdue first", get("sort=-dpd")),
        ("masked mobile pasted (138****5678)", get(f"q={masking.mask_mobile(mobile)}")),
        ("customer-number prefix", get(f"q={customer_no[:-3]}")),
        ("full ID number (keyed digest)", get(f"q={national_id}", senior_client)),
        ("last page", get("last=1")),
        ("cursor past the end", get("after=1")),
    ]:
        _report(name, _timed(run, repeat))

    started = time.perf_counter()
    response = client.get("/borrowers/export.csv?bucket=M2")
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    seconds = time.perf_counter() - started
    print(
        f"  CSV export, bucket M2: {lines:,} rows in {seconds:.2f} s"
        f" ({lines / seconds:,.0f} rows/s)"
    )


def _bench_drill_down(client: Any, repeat: int) -> None:
    """The borrower page and its timeline for ordinary and for the busiest borrowers."""
    from django.db.models import Count

    from accounts.models import User
    from lending.models import Borrower
    from monitoring.models import Event
    from monitoring.selectors.timeline import borrower_timeline

    ids = list(Borrower.objects.order_by("id").values_list("id", flat=True)[::997][:40])
    busiest = list(
        Event.objects.filter(borrower__isnull=False)
        .values("borrower_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("borrower_id", "n")[:5]
    )
    print(
        f"borrower drill-down ({len(ids)} borrowers spread over the book; busiest has "
        f"{busiest[0][1] if busiest else 0} events):"
    )
    position = {"i": 0}

    def rotating(path: str, htmx: bool = False, pool: list[int] = ids) -> Callable[[], None]:
        def run() -> None:
            borrower_id = pool[position["i"] % len(pool)]
            position["i"] += 1
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            response = client.get(path.format(id=borrower_id), **headers)
            assert response.status_code == 200, response.status_code

        return run

    heavy = [b for b, _ in busiest] or ids
    staff = User.objects.get(username="bench-analyst")
    older: dict[int, str] = {}
    for borrower_id in heavy:
        page = borrower_timeline(user=staff, borrower_id=borrower_id)
        older[borrower_id] = page.next_cursor

    def older_page() -> None:
        borrower_id = heavy[position["i"] % len(heavy)]
        position["i"] += 1
        cursor = older[borrower_id]
        query = f"?cursor={cursor}" if cursor else ""
        response = client.get(
            f"/monitoring/borrowers/{borrower_id}/timeline/{query}", HTTP_HX_REQUEST="true"
        )
        assert response.status_code == 200

    results = {}
    for name, run in [
        ("borrower page", rotating("/borrowers/{id}/")),
        ("borrower page, busiest", rotating("/borrowers/{id}/", pool=heavy)),
        ("timeline, first page", rotating("/monitoring/borrowers/{id}/timeline/", True)),
        (
            "timeline, busiest",
            rotating("/monitoring/borrowers/{id}/timeline/", True, pool=heavy),
        ),
        ("timeline, older page (busiest)", older_page),
        (
            "timeline, logins only (busiest)",
            rotating("/monitoring/borrowers/{id}/timeline/?kind=login", True, pool=heavy),
        ),
        ("open-case badge", rotating("/monitoring/borrowers/{id}/open-cases/", True)),
    ]:
        samples = _timed(run, repeat)
        results[name] = _report(name, samples)
        if _pct(samples, 95) >= 150:
            print("    ^ p95 over the 150 ms target")

    def naive_timeline() -> None:
        # Every row of every source for the borrower, merged and sorted in Python, then the
        # first 30: what a timeline without per-source limits and cursors costs.
        from accounts.models import AuditEvent
        from lending.models import Drawdown, Instalment, Repayment, TransferOut

        borrower_id = heavy[0]
        rows: list[Any] = []
        rows += [(d.disbursed_at, d) for d in Drawdown.objects.filter(borrower_id=borrower_id)]
        rows += [(r.paid_at, r) for r in Repayment.objects.filter(borrower_id=borrower_id)]
        rows += [(t.occurred_at, t) for t in TransferOut.objects.filter(borrower_id=borrower_id)]
        rows += [(e.occurred_at, e) for e in Event.objects.filter(borrower_id=borrower_id)]
        rows += [(a.at, a) for a in AuditEvent.objects.filter(borrower_id=borrower_id)]
        rows += [
            (i.due_date, i) for i in Instalment.objects.filter(drawdown__borrower_id=borrower_id)
        ]
        sorted(rows, key=lambda row: str(row[0]), reverse=True)[:30]

    def paged_timeline() -> None:
        borrower_timeline(user=staff, borrower_id=heavy[0])

    print("timeline query only, busiest borrower:")
    fast = _report("paged by source (the selector)", _timed(paged_timeline, repeat))
    slow = _report("naive: all rows, sorted in Python", _timed(naive_timeline, max(repeat // 3, 5)))
    print(f"  ratio naive / paged: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
