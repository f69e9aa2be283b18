"""How fast does POST /api/v1/events/ take the lending core's events?

    python bench/bench_events.py [--borrowers 1000] [--batch 500] [--singles 120]
                                 [--postgres] [--rules compare|on|off]

--book riskops_bench posts into a seeded million-borrower book (bench/seed_million.py --keep)
instead of an empty database, as the issue measures it (its borrowers stay there: a second run
on the same book takes --offset 100000000). Otherwise it runs against a scratch
SQLite file in a temporary folder (the embedded profile; nothing of
var/ is touched), or with --postgres against a scratch PostgreSQL database
(riskops_bench_events on 127.0.0.1, user postgres, trust; dropped and created), through
Django's test client with the service account's token, so the figures include
authentication, JSON parsing, validation, the lending services, the rule evaluation and the
audit rows: everything but the network.

--rules compare (the default) runs steps 2 and 3 twice, on fresh borrowers each time: first
with every rule version retired (evaluation finds nothing live), then with the shipped
rules active, and prints the ratio; on or off runs them once. The mixed workload carries
patterns the rules catch (bursts of small drawdowns, transfers to lenders an hour after a
drawdown, night withdrawals), so alerts are written as they would be live. Steps:

1. Open `--borrowers` lines with line_opened events (batches of `--batch`), timed as such.
2. The mixed workload: per borrower a drawdown, a login, a bank-account change, then in a
   later batch a repayment of the first instalment and a transfer out; posted in batches.
3. The baseline, measured in the same run: the same mix for other borrowers, one event per
   request (how a naive client would post).
4. A replay of a whole batch (every event already recorded).
5. Peak memory: the process's maximum RSS, and Python's traced peak for one batch of 1,000.

Prints events/s, latency per batch (p50/p95/p99) and the batched/one-by-one ratio. It stops
early, with what it has, if a step runs past its share of a 100-second budget.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 100.0
PG_DATABASE = "riskops_bench_events"
# However late a pass runs, it measures at least this much, so its percentiles mean something.
MIN_BATCHES = 2
MIN_SINGLES = 40


def _configure_postgres(database: str, redis_url: str, *, fresh: bool = True) -> None:
    """The production profile pointed at `database`: a fresh scratch database, or (fresh
    False) a seeded book kept as it is."""
    import secrets

    import psycopg

    if fresh:
        with psycopg.connect(
            "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database}")  # a scratch name, not input
            conn.execute(f"CREATE DATABASE {database}")
    os.environ.update(
        RISKOPS_PROFILE="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        REDIS_URL=redis_url,
        RISKOPS_DEBUG="0",
        RISKOPS_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="riskops.settings",
    )
    sys.path.insert(0, str(ROOT))


def _configure(workdir: Path) -> None:
    """Point the embedded profile at a scratch folder before Django reads its settings."""
    os.environ["RISKOPS_PROFILE"] = "embedded"
    os.environ["RISKOPS_VAR_DIR"] = str(workdir)
    os.environ["RISKOPS_SQLITE_PATH"] = str(workdir / "bench.sqlite3")
    os.environ["RISKOPS_DEBUG"] = "0"  # DEBUG keeps every query in memory
    os.environ["RISKOPS_LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_SETTINGS_MODULE"] = "riskops.settings"
    sys.path.insert(0, str(ROOT))


def _loadavg() -> str:
    """The machine's 1, 5 and 15-minute load averages (figures taken under load mean less)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def _when(day: int, hour: int) -> str:
    return f"2026-{1 + day // 28:02d}-{1 + day % 28:02d}T{hour:02d}:15:00+08:00"


def _workload(
    first: int, count: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Events for borrowers first..first+count: (opening, first wave, second wave)."""
    opening: list[dict[str, Any]] = []
    wave1: list[dict[str, Any]] = []
    wave2: list[dict[str, Any]] = []
    for n in range(first, first + count):
        customer = f"B{n:08d}"
        card = f"62220200{n:08d}"
        opening.append(
            {
                "event_id": f"open-{n}",
                "kind": "line_opened",
                "occurred_at": _when(0, 9),
                "customer_no": customer,
                "name": "王五",
                "national_id": f"{110101 + n // 10**7}1990{n % 10**7:07d}X",
                "mobile": f"13{n:09d}",
                "city": "Chengdu",
                "employer": "Acme",
                "income_band": "5k_10k",
                "credit_limit": "20000.00",
                "daily_rate": "0.000500",
            }
        )
        wave1 += [
            {
                "event_id": f"login-{n}",
                "kind": "login",
                "occurred_at": _when(30, 22),
                "customer_no": customer,
                "device_id": f"dev-{n}",
                "platform": "android",
                "ip": "10.0.0.1",
            },
            {
                "event_id": f"draw-{n}",
                "kind": "drawdown",
                "occurred_at": _when(31, 10),
                "customer_no": customer,
                "loan_no": f"L{n:010d}",
                "amount": "6000.00",
                "term_months": 12,
                "repayment_mode": "equal_instalment",
                "purpose": "daily",
                "card_no": card,
                "bank_name": "ICBC",
                "device_id": f"dev-{n}",
            },
            {
                "event_id": f"card-{n}",
                "kind": "bank_account_change",
                "occurred_at": _when(32, 11),
                "customer_no": customer,
                "card_no": f"62284800{n:08d}",
                "bank_name": "ABC",
            },
        ]
        if n % 10 == 0:  # a burst of small drawdowns: the velocity rule's pattern
            wave1 += [
                {
                    "event_id": f"small-{n}-{k}",
                    "kind": "drawdown",
                    "occurred_at": _when(33, 14 + k),
                    "customer_no": customer,
                    "loan_no": f"S{n:010d}{k}",
                    "amount": "300.00",
                    "term_months": 3,
                    "repayment_mode": "equal_instalment",
                    "purpose": "daily",
                    "card_no": card,
                    "bank_name": "ICBC",
                }
                for k in range(4)
            ]
        if n % 10 == 1:  # a large withdrawal at night
            wave1.append(
                {
                    "event_id": f"night-{n}",
                    "kind": "drawdown",
                    "occurred_at": _when(34, 2),
                    "customer_no": customer,
                    "loan_no": f"N{n:010d}",
                    "amount": "8000.00",
                    "term_months": 6,
                    "repayment_mode": "equal_instalment",
                    "purpose": "daily",
                    "card_no": card,
                    "bank_name": "ICBC",
                }
            )
        wave2 += [
            {
                "event_id": f"transfer-{n}",
                "kind": "transfer_out",
                "occurred_at": _when(31, 11),
                "customer_no": customer,
                "amount": "5000.00",
                "counterparty_name": "某小贷",
                "counterparty_is_lender": n % 5 == 0,
                "card_no": card,
            },
            {
                "event_id": f"repay-{n}",
                "kind": "repayment",
                "occurred_at": _when(59, 12),
                "customer_no": customer,
                "loan_no": f"L{n:010d}",
                "amount": "547.99",
                "card_no": card,
            },
        ]
    return opening, wave1, wave2


class Poster:
    """Posts bodies through the test client with the service account's token."""

    def __init__(self, token: str) -> None:
        from django.test import Client

        self.client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {token}")
        self.latencies: list[float] = []

    def post(self, body: Any) -> dict[str, Any]:
        data = json.dumps(body)
        started = time.perf_counter()
        response = self.client.post("/api/v1/events/", data, content_type="application/json")
        self.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"unexpected {response.status_code}: {response.content[:500]!r}")
        result: dict[str, Any] = response.json()
        return result


def _batches(events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def _report(label: str, events: int, seconds: float, latencies: list[float], cpu: float) -> float:
    """One line of figures; CPU seconds too, since wall time suffers on a shared machine."""
    rate = events / seconds if seconds else float("nan")
    print(
        f"{label:<24} {events:>6} events {seconds:6.2f} s (cpu {cpu:6.2f} s) "
        f"{rate:8.1f} events/s  "
        f"per request p50 {_percentile(latencies, 50) * 1000:8.1f} ms  "
        f"p95 {_percentile(latencies, 95) * 1000:8.1f} ms  "
        f"p99 {_percentile(latencies, 99) * 1000:8.1f} ms ({len(latencies)} requests)"
    )
    return rate


def _rules_set(live: bool) -> str:
    """Switch the rules off (retire every live version) or on (a new active version of each
    at the shipped thresholds), through the rule services as a manager would."""
    from monitoring.models import Rule
    from monitoring.services import (
        rule_version_activate,
        rule_version_draft,
        rule_version_retire,
        rules_ensure_defaults,
    )

    rules_ensure_defaults()
    for rule in Rule.objects.all():
        active = rule.versions.filter(status="active").first()
        if active is not None and not live:
            rule_version_retire(actor=None, version=active)
        if active is None and live:
            draft = rule_version_draft(actor=None, rule=rule, params={})
            rule_version_activate(actor=None, version=draft)
    return "rules on" if live else "rules off"


class EvaluationClock:
    """Time spent judging events (events_evaluate inside ingestion), wall and CPU: the
    rules' own share of a request, readable however loaded the machine is."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.calls = 0

    def install(self) -> None:
        from monitoring.services import events as ingestion

        original = getattr(ingestion, "events_evaluate")  # noqa: B009 (imported there, not exported)

        def timed(**kwargs: Any) -> Any:
            w, c = time.perf_counter(), time.process_time()
            try:
                return original(**kwargs)
            finally:
                self.wall += time.perf_counter() - w
                self.cpu += time.process_time() - c
                self.calls += 1

        setattr(ingestion, "events_evaluate", timed)  # noqa: B010 (the name ingestion calls)

    def reset(self) -> None:
        self.wall = self.cpu = 0.0
        self.calls = 0

    def report(self, label: str, events: int) -> None:
        per_event = self.wall / events * 1000 if events else float("nan")
        print(
            f"  rule evaluation ({label}): {self.wall:6.2f} s wall, {self.cpu:6.2f} s cpu in "
            f"{self.calls} calls; {per_event:.2f} ms per event"
        )


CLOCK = EvaluationClock()


def _pass(
    token: str, label: str, first: int, args: argparse.Namespace, deadline: float
) -> tuple[float, float, list[float]]:
    """Steps 2 and 3 on fresh borrowers from `first`: (batched rate, single rate, single
    latencies). Their lines are opened first, batched, untimed."""
    opening, wave1, wave2 = _workload(first, args.borrowers)
    s_open, s_wave1, s_wave2 = _workload(first + 5 * 10**6, args.singles)
    for batch in _batches(opening + s_open, args.batch):
        Poster(token).post({"events": batch})

    poster = Poster(token)
    mixed = wave1 + wave2
    CLOCK.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    posted = 0
    for batch in _batches(wave1, args.batch) + _batches(wave2, args.batch):
        poster.post({"events": batch})
        posted += len(batch)
        late = time.perf_counter() > deadline - 0.4 * args.budget / args.passes
        if late and len(poster.latencies) >= MIN_BATCHES:
            print("  (stopped early: time budget)")
            break
    batched_rate = _report(
        f"mixed, batched, {label}",
        posted or len(mixed),
        time.perf_counter() - t0,
        poster.latencies,
        time.process_time() - c0,
    )
    CLOCK.report(f"batched, {label}", posted)

    poster = Poster(token)
    CLOCK.reset()
    t0, c0 = time.perf_counter(), time.process_time()
    for event in s_wave1 + s_wave2:
        poster.post(event)
        if time.perf_counter() > deadline and len(poster.latencies) >= MIN_SINGLES:
            print("  (stopped early: time budget)")
            break
    single_rate = _report(
        f"one per request, {label}",
        len(poster.latencies),
        time.perf_counter() - t0,
        poster.latencies,
        time.process_time() - c0,
    )
    CLOCK.report(f"one per request, {label}", len(poster.latencies))
    by_kind: dict[str, list[float]] = {}
    for event, latency in zip(s_wave1 + s_wave2, poster.latencies, strict=False):
        by_kind.setdefault(event["kind"], []).append(latency)
    print(
        "  by kind: "
        + "; ".join(
            f"{kind} p50 {_percentile(values, 50) * 1000:.1f} p95 "
            f"{_percentile(values, 95) * 1000:.1f} ms ({len(values)})"
            for kind, values in sorted(by_kind.items())
        )
    )
    return batched_rate, single_rate, poster.latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--borrowers", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500, help="events per batch (<= 1000)")
    parser.add_argument(
        "--singles",
        type=int,
        default=120,
        help="borrowers whose events are posted one per request (baseline)",
    )
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL database")
    parser.add_argument("--rules", choices=["compare", "on", "off"], default="compare")
    parser.add_argument(
        "--pg-database",
        default=PG_DATABASE,
        help="scratch database name (dropped and created; never riskops_bench)",
    )
    parser.add_argument(
        "--book",
        help="a seeded PostgreSQL book to post into instead of a scratch database (kept; "
        "e.g. riskops_bench from seed_million.py --keep: the issue's million borrowers); "
        "once per book, as the bench's borrowers are then on it",
    )
    parser.add_argument(
        "--offset",
        type=int,
        default=0,
        help="first customer number of the bench's borrowers (a multiple of 100000000: "
        "a second run on the same --book)",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS, help="seconds, about")
    args = parser.parse_args()
    args.passes = 2 if args.rules == "compare" else 1
    if args.pg_database == "riskops_bench" or not args.pg_database.isidentifier():
        raise SystemExit("--pg-database: a scratch name, not riskops_bench")
    if args.book and not args.book.isidentifier():
        raise SystemExit("--book: a database name")
    if args.book:
        args.postgres = True
    print(f"load average at start: {_loadavg()}")
    started = time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="riskops-bench-") as tmp:
        if args.book:
            _configure_postgres(args.book, args.redis_url, fresh=False)
            where = f"the seeded PostgreSQL book {args.book}"
        elif args.postgres:
            _configure_postgres(args.pg_database, args.redis_url)
            where = f"scratch PostgreSQL database {args.pg_database}"
        else:
            _configure(Path(tmp))
            where = f"scratch database {tmp}/bench.sqlite3"
        import django

        django.setup()
        from django.core.management import call_command
        from rest_framework.authtoken.models import Token

        from accounts.models import User
        from monitoring.models import Alert, Event

        call_command("migrate", verbosity=0)
        CLOCK.install()
        if args.book:
            from lending.models import Borrower

            if Borrower.objects.filter(customer_no=f"B{args.offset:08d}").exists():
                raise SystemExit(
                    f"{args.book} already holds this bench's borrowers: pass --offset "
                    f"{args.offset // 10**8 + 1}00000000"
                )
            user = User.objects.filter(role="service", is_active=True).first()
            if user is None:
                user = User.objects.create_user(
                    username="bench-core", password=None, role="service"
                )
            books = Borrower.objects.count()
            where += f" ({books:,} borrowers)"
        else:
            user = User.objects.create_user(username="lending-core", password=None, role="service")
        token = Token.objects.get_or_create(user=user)[0].key
        print(f"{where} ready in {time.perf_counter() - started:.1f} s; batches of {args.batch}")

        # 1. Lines opened, timed as such.
        opening, wave1, wave2 = _workload(args.offset, args.borrowers)
        poster = Poster(token)
        t0, c0 = time.perf_counter(), time.process_time()
        for batch in _batches(opening, args.batch):
            poster.post({"events": batch})
        _report(
            "line_opened, batched",
            len(opening),
            time.perf_counter() - t0,
            poster.latencies,
            time.process_time() - c0,
        )

        # 2-3. The mixed workload batched, then one event per request; per rules setting.
        settings = {"compare": [False, True], "on": [True], "off": [False]}[args.rules]
        figures: dict[bool, tuple[float, float, list[float]]] = {}
        for n, live in enumerate(settings):
            label = _rules_set(live)
            deadline = started + args.budget * 0.85 * (n + 1) / len(settings)
            figures[live] = _pass(token, label, args.offset + (n + 1) * 10**7, args, deadline)

        # 4. Replay of a full batch: nothing is applied, every answer comes from storage.
        poster = Poster(token)
        replay = wave1[: args.batch]
        for batch in _batches(wave1[: args.batch], args.batch):
            poster.post({"events": batch})
        poster = Poster(token)
        t0, c0 = time.perf_counter(), time.process_time()
        body = poster.post({"events": replay})
        assert all(r["status"] == "replayed" for r in body["results"])
        _report(
            "replay of one batch",
            len(replay),
            time.perf_counter() - t0,
            poster.latencies,
            time.process_time() - c0,
        )

        # 5. Memory: traced Python allocations for one batch of 1,000 new events.
        extra_open, extra_wave1, _ = _workload(args.offset + 9 * 10**7, 250)
        Poster(token).post({"events": extra_open})
        tracemalloc.start()
        Poster(token).post({"events": extra_wave1[: 1000 - 250] + extra_open[:250]})
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        max_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        print(f"events stored: {Event.objects.count()}; alerts raised: {Alert.objects.count()}")
        print(
            f"peak memory: process max RSS {max_rss_kb / 1024:.0f} MiB; "
            f"traced Python peak for one batch of 1,000 (750 new, 250 replayed) "
            f"{traced_peak / 2**20:.1f} MiB"
        )
        for live, (batched_rate, single_rate, latencies) in figures.items():
            print(
                f"{'rules on ' if live else 'rules off'}: batched {batched_rate:.0f} events/s; "
                f"one per request p50 {_percentile(latencies, 50) * 1000:.1f} ms, "
                f"p95 {_percentile(latencies, 95) * 1000:.1f} ms, "
                f"p99 {_percentile(latencies, 99) * 1000:.1f} ms; batched / one-per-request "
                f"{batched_rate / single_rate:.1f}x ({batched_rate:.0f} vs {single_rate:.0f} "
                f"events/s)"
            )
        if len(figures) == 2:
            on, off = figures[True], figures[False]
            print(
                f"rules on / off: batched {on[0] / off[0]:.2f}x, one per request "
                f"{on[1] / off[1]:.2f}x; single-event p95 {_percentile(on[2], 95) * 1000:.1f} "
                f"vs {_percentile(off[2], 95) * 1000:.1f} ms"
            )
        print(f"total {time.perf_counter() - started:.1f} s; load average at end: {_loadavg()}")
        from django.db import connections

        connections.close_all()
        if args.postgres and not args.book:
            import psycopg

            with psycopg.connect(
                "host=127.0.0.1 user=postgres dbname=postgres", autocommit=True
            ) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {args.pg_database}")


if __name__ == "__main__":
    main()
