"""How fast are alert grouping and the case queue pages with many open cases?

    python bench/bench_case_queue.py [--cases 5000] [--repeat 30]

Runs on PostgreSQL (the production profile) in a scratch database, riskops_bench_cases,
dropped and rebuilt each run: `--cases` borrowers with a line each, one alert each (fraud and
credit alternately), grouped into cases through the real service (alerts_group), a quarter of
them assigned, some overdue.

Measured, each against its naive baseline:
1. Grouping: alerts/s through alerts_group in batches of 500 ids (as alerts_raised delivers
   a batch), vs one call per alert.
2. The pages through the Django test client (logged in): a queue's first page (priority
   order), sorted by amount, the overdue filter, "my cases", a case page, the team view, the
   live pulse fragment, the API list; and the queue's first page as SQL ORDER BY ... LIMIT vs
   the naive way (load every unresolved case, work out its SLA state in Python, sort).
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
DATABASE = "riskops_bench_cases"
_SECRET_KEY = secrets.token_urlsafe(50)


def _configure() -> None:
    os.environ.update(
        RISKOPS_PROFILE="production",
        SECRET_KEY=_SECRET_KEY,
        RISKOPS_DEMO_PASSWORD=secrets.token_urlsafe(24),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        REDIS_URL="redis://127.0.0.1:6379/6",
        RISKOPS_LOG_LEVEL="WARNING",
        RISKOPS_INSECURE_COOKIES="1",
        DJANGO_SETTINGS_MODULE="riskops.settings",
    )
    sys.path.insert(0, str(ROOT))


def _fresh_database() -> None:
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")  # our own name, not user input
        conn.execute(f"CREATE DATABASE {DATABASE}")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, cwd=ROOT)  # noqa: S603
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], check=True, cwd=ROOT)  # noqa: S603


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
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    _configure()
    print(f"building {DATABASE} ...", flush=True)
    _fresh_database()

    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.test import Client
    from django.utils import timezone

    from accounts.models import User
    from lending.models import Borrower, CreditLine
    from monitoring.choices import CaseStatus, RuleKind, RuleVersionStatus
    from monitoring.filters import SORTS
    from monitoring.models import Alert, Case, Rule, RuleVersion
    from monitoring.selectors.cases import sla_state
    from monitoring.services.cases import alerts_group

    now = timezone.now()
    n = args.cases
    borrowers = Borrower.objects.bulk_create(
        [
            Borrower(
                customer_no=f"B{i:09d}",
                name="赵六",
                national_id=f"110101199001{i:06d}",
                national_id_last4=f"{i:04d}"[-4:],
                mobile=f"137{i:08d}",
                mobile_last4=f"{i:04d}"[-4:],
                city="Shanghai",
                income_band="5k_10k",
                registered_at=now - timedelta(days=100),
            )
            for i in range(n)
        ],
        batch_size=5000,
    )
    CreditLine.objects.bulk_create(
        [
            CreditLine(
                borrower=b,
                credit_limit=Decimal("20000.00"),
                used=Decimal(1000 + (i * 37) % 18000),
                daily_rate=Decimal("0.000500"),
                opened_at=now - timedelta(days=100),
            )
            for i, b in enumerate(borrowers)
        ],
        batch_size=5000,
    )
    # The rules may be seeded by a migration already; any version of theirs will do.
    versions = {}
    for category, kind in (
        ("fraud", RuleKind.SMALL_DRAWDOWN_VELOCITY),
        ("credit", RuleKind.UTILISATION_JUMP),
    ):
        rule, _ = Rule.objects.get_or_create(kind=kind, defaults={"category": category})
        versions[category] = RuleVersion.objects.filter(rule=rule).order_by(
            "-version"
        ).first() or RuleVersion.objects.create(
            rule=rule, version=1, severity=3, status=RuleVersionStatus.ACTIVE, created_at=now
        )
    alerts = Alert.objects.bulk_create(
        [
            Alert(
                borrower=b,
                rule_version=versions["fraud" if i % 2 else "credit"],
                category="fraud" if i % 2 else "credit",
                severity=1 + i % 4,
                evidence={},
                occurred_at=now,
                raised_at=now - timedelta(minutes=i % 600),
                dedupe_key=f"b{i}",
            )
            for i, b in enumerate(borrowers)
        ],
        batch_size=5000,
    )
    ids = [a.pk for a in alerts]

    # 1. Grouping.
    print(f"grouping {n:,} alerts (one per borrower) ...", flush=True)
    naive_ids, batched_ids = ids[:500], ids[500:]
    started = time.perf_counter()
    for pk in naive_ids:
        alerts_group(alert_ids=[pk])
    naive_rate = len(naive_ids) / (time.perf_counter() - started)
    started = time.perf_counter()
    for start in range(0, len(batched_ids), 500):
        alerts_group(alert_ids=batched_ids[start : start + 500])
    batched_rate = len(batched_ids) / (time.perf_counter() - started)
    print(f"  batches of 500 ids: {batched_rate:8.1f} alerts/s")
    print(f"  naive, one call per alert: {naive_rate:8.1f} alerts/s")
    print(f"  ratio batched / naive: {batched_rate / naive_rate:.1f}x")

    analyst, _ = User.objects.get_or_create(username="bench-analyst", defaults={"role": "analyst"})
    manager, _ = User.objects.get_or_create(username="bench-manager", defaults={"role": "manager"})
    case_ids = list(Case.objects.order_by("id").values_list("id", flat=True))
    Case.objects.filter(pk__in=case_ids[::4]).update(
        assignee=analyst, assigned_at=now, status=CaseStatus.IN_PROGRESS
    )
    Case.objects.filter(pk__in=case_ids[1::10]).update(due_at=now - timedelta(hours=1))
    print(
        f"cases: {Case.objects.count():,} ({Case.objects.filter(assignee=analyst).count():,} "
        "assigned to the analyst)"
    )

    # 2. Pages.
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(analyst)
    boss = Client(HTTP_HOST="127.0.0.1")
    boss.force_login(manager)

    def get(c: Client, url: str) -> Callable[[], None]:
        def run() -> None:
            response = c.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return run

    repeat = args.repeat
    print("pages:")
    fast = _report(
        "fraud queue, first page", _timed(get(client, "/monitoring/queues/fraud/"), repeat)
    )
    _report("sorted by amount", _timed(get(client, "/monitoring/cases/?sort=amount"), repeat))
    _report("overdue filter", _timed(get(client, "/monitoring/cases/?sla=overdue"), repeat))
    _report("my cases", _timed(get(client, "/monitoring/cases/mine/"), repeat))
    _report("a case page", _timed(get(client, f"/monitoring/cases/{case_ids[7]}/"), repeat))
    _report("team view (manager)", _timed(get(boss, "/monitoring/cases/team/"), repeat))
    _report("live pulse fragment", _timed(get(client, "/monitoring/cases/pulse/"), repeat))
    _report("API: cases, first 50", _timed(get(client, "/api/v1/cases/?status=open"), repeat))

    def naive_first_page() -> None:
        rows = list(
            Case.objects.filter(queue__kind="fraud")
            .exclude(status=CaseStatus.RESOLVED)
            .select_related("queue", "borrower", "assignee")
        )
        states = {c.pk: sla_state(c, now) for c in rows}
        rows.sort(key=lambda c: (-c.priority, c.due_at, c.pk))
        assert len(states) >= len(rows[:50])

    def sql_first_page() -> None:
        list(
            Case.objects.filter(queue__kind="fraud")
            .exclude(status=CaseStatus.RESOLVED)
            .select_related("queue", "borrower", "assignee")
            .order_by(*SORTS["priority"])[:50]
        )

    print("the queue's first page, query only:")
    sql = _report("ORDER BY ... LIMIT 50", _timed(sql_first_page, repeat))
    naive = _report("naive: load all, sort in Python", _timed(naive_first_page, 5))
    print(f"  ratio naive / SQL: {naive / sql:.1f}x")
    print(f"  page vs the 150 ms target: p50 {fast:.1f} ms")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
