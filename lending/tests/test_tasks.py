"""lending.tasks: thin wrappers over the services (Celery runs eagerly under pytest)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from accounts.models import AuditEvent
from lending.models import BookSnapshot
from lending.tasks import book_snapshot_task
from lending.tests.factories import DrawdownFactory, at

pytestmark = pytest.mark.django_db


def test_book_snapshot_task_stores_the_given_day():
    DrawdownFactory(amount=Decimal("10000"), disbursed_at=at(2026, 1, 10))

    book_snapshot_task.delay(day="2026-03-15")

    snapshot = BookSnapshot.objects.get(day=date(2026, 3, 15))
    assert snapshot.outstanding == Decimal("10000.00")
    assert snapshot.balance_by_bucket["M2"] == "10000.00"


def test_book_snapshot_task_defaults_to_yesterday_in_shanghai():
    # 00:10 on 1 March in Shanghai is still 28 February in UTC: the day is Shanghai's.
    with time_machine.travel(at(2026, 3, 1, 0, 10), tick=False):
        book_snapshot_task.delay()
    assert list(BookSnapshot.objects.values_list("day", flat=True)) == [date(2026, 2, 28)]


def test_book_snapshot_task_run_twice_keeps_one_row_and_names_itself_in_the_audit_log():
    book_snapshot_task.delay(day="2026-03-15")
    book_snapshot_task.delay(day="2026-03-15")

    assert BookSnapshot.objects.count() == 1
    events = AuditEvent.objects.filter(action="book_snapshot.taken")
    assert events.count() == 2
    assert {e.source for e in events} == {"task"}
    assert all(e.actor is None for e in events)
    assert all(e.actor_label == "lending.tasks.book_snapshot_task" for e in events)


def test_book_snapshot_task_refuses_a_malformed_day():
    with pytest.raises(ValueError, match="Invalid isoformat"):
        book_snapshot_task.delay(day="15/03/2026")
    assert not BookSnapshot.objects.exists()
