"""Time the embedded demo seed: 10,000 borrowers over 12 months on SQLite (the `make run` path).

    .venv/bin/python bench/seed_small.py [--borrowers 10000] [--months 12]

Uses a throwaway SQLite file (RISKOPS_SQLITE_PATH in a temporary folder), migrates it, and
runs `manage.py seed_demo` as `make run` would. Prints wall and CPU time; the target is under
60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--borrowers", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "RISKOPS_PROFILE": "embedded",
            "RISKOPS_SQLITE_PATH": str(Path(folder) / "bench.sqlite3"),
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)  # noqa: S603
        started = time.perf_counter()
        subprocess.run(  # noqa: S603
            [
                *manage,
                "seed_demo",
                "--borrowers",
                str(args.borrowers),
                "--months",
                str(args.months),
                "--seed",
                "2026",
                "--as-of",
                "2026-11-01",
            ],
            env=env,
            check=True,
            cwd=ROOT,
        )
        wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"\nseed_demo {args.borrowers:,} borrowers x {args.months} months on SQLite: "
        f"{wall:.1f} s wall, {usage.ru_utime + usage.ru_stime:.1f} s CPU (incl. migrate), "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
