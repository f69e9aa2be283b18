"""How fast is the ring rule (linked identities) book-wide?

    .venv/bin/python bench/bench_rings.py [--borrowers 1000000] [--db] [--sample 300]

(A) The component search on a synthetic book of --borrowers (default 1,000,000) shaped like
    the demo's: one ring of 3-7 per 800 borrowers sharing phones, a Wi-Fi, an address and an
    organiser as emergency contact; 3% of borrowers in two-person households sharing an
    address, a phone, a Wi-Fi and each other's mobiles. Only shared values go in, as the SQL
    GROUP BY hands them over. Timed: monitoring.services.graph.rings_find (scipy csgraph)
    against a naive pure-Python union-find over the same rows.
(B) With --db: the database the settings point at (DATABASE_URL with the production profile,
    e.g. a seeded demo book): the SQL load of shared values (shared_values_load), the search,
    and a naive baseline of one neighbour query per borrower on --sample borrowers,
    extrapolated to the book. Writes nothing.

Prints rows, rings found, seconds, peak RSS and the ratio to the naive way.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riskops.settings")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic_rows(borrowers: int, seed: int = 7) -> list[tuple[int, str, str, datetime]]:
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows: list[tuple[int, str, str, datetime]] = []
    ids = list(range(1, borrowers + 1))
    rng.shuffle(ids)
    cursor = 0
    for ring in range(max(2, borrowers // 800)):
        size = rng.randint(3, 7)
        members, cursor = ids[cursor : cursor + size], cursor + size
        for m in members:
            at = t0 + timedelta(days=rng.randint(0, 300))
            rows.append((m, "device", f"ring-phone-{ring}-{rng.randint(0, 1)}", at))
            rows.append((m, "network", f"61.{ring % 256}.{ring // 256}.1", at))
            if rng.random() < 0.6:
                rows.append((m, "address", f"ring-address-{ring}", at))
            if rng.random() < 0.75:
                rows.append((m, "contact", f"139{ring:08d}", at))
    for house in range(int(borrowers * 0.03 / 2)):
        a, b = ids[cursor], ids[cursor + 1]
        cursor += 2
        at = t0 + timedelta(days=rng.randint(0, 300))
        for m in (a, b):
            rows.append((m, "device", f"home-pad-{house}", at))
            rows.append((m, "network", f"58.{house % 256}.{house // 256}.9", at))
            rows.append((m, "address", f"home-{house}", at))
            rows.append((m, "contact", f"137{a:08d}", at))
            rows.append((m, "contact", f"137{b:08d}", at))
    return rows


def naive_components(rows: list[tuple[int, str, str, datetime]], k: int) -> int:
    """Pure-Python union-find over borrower-value pairs: the baseline."""
    parent: dict[object, object] = {}

    def find(x: object) -> object:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for borrower, kind, value, _at in rows:
        ra, rb = find(("b", borrower)), find((kind, value))
        if ra != rb:
            parent[ra] = rb
    sizes: dict[object, int] = {}
    for node in list(parent):
        if node[0] == "b":  # type: ignore[index]
            root = find(node)
            sizes[root] = sizes.get(root, 0) + 1
    return sum(1 for size in sizes.values() if size >= k)


def part_a(borrowers: int) -> None:
    import django

    django.setup()
    import pandas  # noqa: F401 - imported before the clock starts: a one-off per process
    import scipy.sparse.csgraph  # noqa: F401

    from monitoring.services.graph import RingParams, rings_find

    started = time.perf_counter()
    rows = synthetic_rows(borrowers)
    built = time.perf_counter() - started
    params = RingParams()
    started = time.perf_counter()
    rings = rings_find(rows, params=params)
    fast = time.perf_counter() - started
    started = time.perf_counter()
    naive = naive_components(rows, params.min_ring_size)
    slow = time.perf_counter() - started
    print(f"(A) synthetic book of {borrowers:,} borrowers: {len(rows):,} shared-value rows")
    print(f"    rows built in {built:.2f} s (not part of the rule)")
    print(f"    rings_find (csgraph): {len(rings):,} rings in {fast:.2f} s")
    print(
        f"    pure-Python union-find (same rows): {naive:,} rings in {slow:.2f} s"
        f"  (ratio {slow / fast:.1f}x)"
    )
    print(f"    peak RSS {_rss_mb():.0f} MB")


def part_b(sample: int) -> None:
    import django

    django.setup()
    from django.db import connection

    from lending.models import Borrower, Device
    from monitoring.services.graph import (
        RingParams,
        ring_params,
        rings_find,
        shared_values_load,
    )
    from monitoring.services.graph import linked_identities_version as active

    version = active()
    params = ring_params(version.params) if version else RingParams()
    book = Borrower.objects.count()
    started = time.perf_counter()
    rows = shared_values_load(params=params)
    load = time.perf_counter() - started
    started = time.perf_counter()
    rings = rings_find(rows, params=params)
    search = time.perf_counter() - started
    print(f"(B) database {connection.settings_dict['NAME']}: {book:,} borrowers")
    print(f"    shared_values_load: {len(rows):,} rows in {load:.2f} s")
    print(
        f"    rings_find: {len(rings):,} rings, {sum(len(r.members) for r in rings):,} members "
        f"in {search:.2f} s (K={params.min_ring_size})"
    )
    total = load + search
    print(f"    total {total:.2f} s ({book / total:,.0f} borrowers/s), peak RSS {_rss_mb():.0f} MB")
    # Naive: for each borrower, one query per link kind for the others sharing a value.
    ids = list(Borrower.objects.order_by("?").values_list("id", flat=True)[:sample])
    started = time.perf_counter()
    for borrower_id in ids:
        me = Borrower.objects.get(pk=borrower_id)
        devices = list(Device.objects.filter(borrower_id=borrower_id))
        list(
            Device.objects.filter(device_id__in=[d.device_id for d in devices])
            .exclude(borrower_id=borrower_id)
            .values_list("borrower_id", flat=True)
        )
        list(
            Device.objects.filter(ip_address__in=[d.ip_address for d in devices if d.ip_address])
            .exclude(borrower_id=borrower_id)
            .values_list("borrower_id", flat=True)
        )
        if me.home_address:
            list(
                Borrower.objects.filter(home_address=me.home_address)
                .exclude(pk=me.pk)
                .values_list("id", flat=True)
            )
        if me.emergency_contact_mobile:
            list(
                Borrower.objects.filter(emergency_contact_mobile=me.emergency_contact_mobile)
                .exclude(pk=me.pk)
                .values_list("id", flat=True)
            )
    per = (time.perf_counter() - started) / max(len(ids), 1)
    naive = per * book
    print(
        f"    naive neighbour queries: {per * 1000:.1f} ms a borrower, {naive:.0f} s for the "
        f"book (one hop only; ratio {naive / total:.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--borrowers", type=int, default=1_000_000)
    parser.add_argument("--db", action="store_true")
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args()
    part_a(args.borrowers)
    if args.db:
        part_b(args.sample)


if __name__ == "__main__":
    main()
