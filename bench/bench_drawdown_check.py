"""How fast does the drawdown check answer over HTTP on a large book? (issue 8: p95 < 20 ms)

    python bench/bench_drawdown_check.py [--database riskops_bench] [--borrowers 50000]
        [--scratch riskops_bench_checks] [--requests 400] [--clients 4] [--workers 2]
        [--threads 4] [--port 8765]

Runs on PostgreSQL (the production profile). Uses the book in `--database` if it holds one
(bench/seed_million.py --keep leaves a million borrowers in riskops_bench), read-mostly: the
only rows written are the checks themselves (and, for a check referred for review, its alert),
made by the bench's own service account `bench-lending-core` so they can be told apart;
otherwise it creates `--scratch` and seeds `--borrowers` in bulk mode first (then ANALYZE).

A real server process answers: gunicorn, started as scripts/run starts it (`--workers`,
`--threads`), on 127.0.0.1:`--port`, stopped at the end. The client fires POST
/api/v1/drawdown-checks/ with the service account's token for borrowers spread over the book
(amounts, terms and purposes varied; a device and a card on half of them):
1. one client, one request at a time, on one kept-alive connection;
2. `--clients` clients at once, each on its own kept-alive connection;
3. the naive baseline: one client, a new TCP connection for every request.
Prints throughput, p50/p95/p99 latency, the decisions' mix, the server's resident memory
(workers' peak) and the client's, and the ratio of the naive baseline to (1).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pages  # noqa: E402  (the shared set-up: configuration, seeding, static files)

ROOT = bench_pages.ROOT
PATH = "/api/v1/drawdown-checks/"
PURPOSES = ["daily", "travel", "education", "home", "medical", "other"]


def _bodies(customer_nos: list[str], count: int, seed: int = 8) -> list[bytes]:
    rng = random.Random(seed)  # noqa: S311  (a benchmark's spread, not a secret)
    bodies = []
    for n in range(count):
        body: dict[str, Any] = {
            "customer_no": rng.choice(customer_nos),
            "amount": f"{rng.choice([200, 500, 1000, 2000, 5000, 12000])}.00",
            "term_months": rng.choice([1, 3, 6, 12]),
            "purpose": rng.choice(PURPOSES),
        }
        if n % 2:
            body["device_id"] = f"bench-dev-{rng.randrange(10_000)}"
            body["card_no"] = f"62220200{rng.randrange(10**8):08d}"
        bodies.append(json.dumps(body).encode())
    return bodies


class Client:
    """One HTTP client: a kept-alive connection, or a new one per request (`fresh`)."""

    def __init__(self, port: int, token: str, fresh: bool = False) -> None:
        self.port, self.fresh = port, fresh
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.conn: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> tuple[float, int, str]:
        started = time.perf_counter()
        if self.conn is None or self.fresh:
            if self.conn is not None:
                self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        self.conn.request("POST", PATH, body=body, headers=self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if self.fresh:
            self.conn.close()
            self.conn = None
        elapsed = (time.perf_counter() - started) * 1000
        decision = json.loads(data).get("decision", "") if response.status == 200 else ""
        return elapsed, response.status, decision


def _run(port: int, token: str, bodies: list[bytes], clients: int, fresh: bool) -> dict[str, Any]:
    """Fire `bodies` split over `clients` threads; their latencies, statuses and decisions."""
    samples: list[float] = []
    statuses: Counter[int] = Counter()
    decisions: Counter[str] = Counter()
    lock = threading.Lock()

    def work(part: list[bytes]) -> None:
        client = Client(port, token, fresh=fresh)
        for body in part:
            elapsed, status, decision = client.post(body)
            with lock:
                samples.append(elapsed)
                statuses[status] += 1
                decisions[decision] += 1

    threads = [threading.Thread(target=work, args=(bodies[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"samples": samples, "statuses": statuses, "decisions": decisions, "wall": wall}


def _report(name: str, result: dict[str, Any]) -> float:
    samples = result["samples"]
    p50 = statistics.median(samples)
    print(
        f"  {name:<40} {len(samples) / result['wall']:8.1f} req/s   p50 {p50:7.1f} ms"
        f"   p95 {bench_pages._pct(samples, 95):7.1f} ms   p99 {bench_pages._pct(samples, 99):7.1f}"
        f" ms   statuses {dict(result['statuses'])}"
    )
    return bench_pages._pct(samples, 95)


def _rss_kib(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process, KiB; (0, 0) once it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":")[0]
            if key in values:
                values[key] = int(line.split()[1])
    except OSError:
        pass
    return values["VmRSS"], values["VmHWM"]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(240):
        if server.poll() is not None:
            raise SystemExit("gunicorn exited before answering (see its output above)")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("gunicorn did not answer /healthz within 2 minutes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="riskops_bench")
    parser.add_argument(
        "--borrowers", type=int, default=int(os.environ.get("RISKOPS_BENCH_BORROWERS", "50000"))
    )
    parser.add_argument("--scratch", default="riskops_bench_checks")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    database = args.database
    if bench_pages._borrowers_in(database) == 0:
        database = args.scratch
        if bench_pages._borrowers_in(database) == 0:
            bench_pages._configure(database)
            print(f"seeding {args.borrowers:,} borrowers into {database} ...", flush=True)
            bench_pages._seed(database, args.borrowers)
    bench_pages._configure(database)
    bench_pages._collectstatic()
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True, cwd=ROOT)  # noqa: S603

    import django

    django.setup()
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from lending.models import Borrower

    service, _ = User.objects.get_or_create(
        username="bench-lending-core", defaults={"role": "service"}
    )
    token = Token.objects.get_or_create(user=service)[0].key
    size = Borrower.objects.count()
    step = max(1, size // 2000)
    customer_nos = list(
        Borrower.objects.order_by("pk").values_list("customer_no", flat=True)[::step][:2000]
    )
    print(f"book: {size:,} borrowers in {database}; checks on {len(customer_nos):,} of them")

    server = subprocess.Popen(  # noqa: S603
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "riskops.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--timeout",
            "120",
            "--error-logfile",
            "-",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    try:
        _wait_ready(args.port, server)
        workers = _children(server.pid)
        print(
            f"gunicorn pid {server.pid}: {args.workers} workers x {args.threads} threads"
            f" on 127.0.0.1:{args.port}"
        )
        # Warm every worker: imports, connections, the rule versions' per-process cache.
        _run(
            args.port, token, _bodies(customer_nos, 20 * args.workers, seed=1), args.workers, False
        )
        bodies = _bodies(customer_nos, args.requests)
        print(f"{args.requests} checks per run:")
        one = _run(args.port, token, bodies, 1, fresh=False)
        p95_one = _report("one client, kept-alive connection", one)
        many = _run(args.port, token, bodies, args.clients, fresh=False)
        _report(f"{args.clients} clients at once, kept-alive", many)
        naive = _run(args.port, token, bodies, 1, fresh=True)
        p95_naive = _report("naive: new connection per request", naive)
        print(f"  decisions (one client): {dict(one['decisions'])}")
        p50_ratio = statistics.median(naive["samples"]) / statistics.median(one["samples"])
        print(f"  naive / kept-alive: p95 {p95_naive / p95_one:.2f}x, p50 {p50_ratio:.2f}x")
        for pid in workers:
            rss, peak = _rss_kib(pid)
            print(f"  worker {pid}: resident {rss / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB")
        peak_client = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"  bench client peak RSS {peak_client / 1024:.0f} MiB")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
