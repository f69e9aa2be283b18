"""audit_bulk of many rows (written by COPY on PostgreSQL): the same chain as row by row, its
rows read back as they were hashed, tampering still found, and concurrent bulk writers that
never fork the chain."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from accounts import audit as audit_module
from accounts.audit import AuditRow, audit, audit_bulk, compute_row_hash, verify_chain
from accounts.models import AuditEvent
from accounts.tests.test_audit_chain import _as_owner_without_triggers

pytestmark = pytest.mark.django_db

MANY = 3000  # well past COPY_FROM, as a book-wide run's limit changes are


def _many(user, n: int = MANY, tag: str = "bulk") -> list[AuditRow]:
    return [
        AuditRow(
            action=f"test.{tag}",
            obj=user,
            borrower_id=i,
            before={"limit": Decimal("20000.00") + i, "ratio": i / 7, "big": 1e20},
            after={"limit": Decimal("18000.00"), "名字": "张浩浩", "nested": [1, 2.0, None]},
            note=f"C01 P01 {i}",
        )
        for i in range(n)
    ]


def test_thousands_of_bulk_rows_chain_onto_the_tail_and_verify(analyst):
    assert MANY >= audit_module.COPY_FROM
    tail = audit(actor=analyst, action="test.before", obj=analyst)

    rows = audit_bulk(_many(analyst))
    after = audit(actor=analyst, action="test.after", obj=analyst)

    assert rows[0].prev_hash == tail.row_hash
    assert after.prev_hash == rows[-1].row_hash
    assert [r.pk for r in rows] == sorted(r.pk for r in rows)
    assert tail.pk < rows[0].pk and rows[-1].pk < after.pk
    stored = list(AuditEvent.objects.filter(action="test.bulk").order_by("pk"))
    assert [s.pk for s in stored] == [r.pk for r in rows]
    # What was returned is what was stored, and each stored row hashes to its own row_hash.
    assert stored[5].after == rows[5].after and stored[5].before == rows[5].before
    assert all(s.row_hash == compute_row_hash(s, s.prev_hash) for s in stored[:50])
    report = verify_chain()
    assert report.ok and report.rows == MANY + 2 and report.head_hash == after.row_hash


def test_a_row_altered_inside_a_bulk_append_is_found(analyst):
    rows = audit_bulk(_many(analyst))
    target = rows[MANY // 2]
    _as_owner_without_triggers(
        "UPDATE accounts_auditevent SET after = %s WHERE id = %s",
        ['{"limit": "99999.00"}', target.pk],
    )

    with pytest.raises(CommandError, match=rf"broken at row id {target.pk}: row_hash"):
        call_command("audit_verify")


def test_a_row_removed_from_a_bulk_append_is_found(analyst):
    rows = audit_bulk(_many(analyst, 200))
    _as_owner_without_triggers("DELETE FROM accounts_auditevent WHERE id = %s", [rows[100].pk])

    assert verify_chain().broken_id == rows[101].pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bulk_writers_never_fork_the_chain(analyst):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers already; the race needs PostgreSQL")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(3):
                with transaction.atomic():
                    audit(actor=analyst, action=f"test.w{n}.{i}", obj=analyst)
                    audit_bulk(_many(analyst, 120, tag=f"w{n}"))
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    prev = list(AuditEvent.objects.order_by("pk").values_list("prev_hash", flat=True))
    assert len(prev) == 4 * 3 * 121
    assert len(set(prev)) == len(prev)
    assert verify_chain().ok
