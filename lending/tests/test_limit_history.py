"""A line's limit history (LimitChange): every path that sets a limit or a status leaves
exactly one row in the same transaction, and limit_as_of reads the limit in force at a moment
(a change effective exactly then included), so a past date is judged with the limit it had."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from lending.choices import LimitChangeKind, LineStatus, LineStatusCode
from lending.models import CreditLine, LimitChange
from lending.selectors import limit_as_of, limit_history, limits_as_of
from lending.services import (
    LineChange,
    line_close,
    line_freeze,
    line_freeze_bulk,
    line_limit_set,
    line_limits_set_bulk,
    line_unfreeze,
)
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db

D = Decimal
NOW = at(2026, 3, 20, 15, 0)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def _rows(line: CreditLine) -> list[tuple]:
    return list(
        LimitChange.objects.filter(line=line)
        .order_by("effective_at", "id")
        .values_list(
            "kind",
            "old_limit",
            "new_limit",
            "old_status",
            "new_status",
            "reason_code",
            "automatic",
            "decided_by",
            "approved_by",
        )
    )


def _change(line: CreditLine, new_limit: str | None = None, code: str = "") -> LineChange:
    return LineChange(
        borrower_id=line.borrower_id,
        line_id=line.pk,
        old_limit=line.credit_limit,
        status=line.status,
        status_code=line.status_code,
        status_reason=line.status_reason,
        locked_until=line.locked_until,
        new_limit=D(new_limit) if new_limit else None,
        code=code,
    )


# --- every writing path: one row ------------------------------------------------------------


def test_opening_a_line_writes_its_opening_row_at_the_opening_time():
    borrower = BorrowerFactory(credit_limit=D("8000.00"), opened_at=at(2026, 1, 3, 9))
    row = LimitChange.objects.get(line__borrower=borrower)
    assert row.effective_at == at(2026, 1, 3, 9)
    assert _rows(borrower.line) == [
        (
            LimitChangeKind.OPENING,
            D("8000.00"),
            D("8000.00"),
            "active",
            "active",
            "opened",
            False,
            "",
            "",
        )
    ]


def test_a_limit_change_writes_one_row_and_a_replay_none(manager, head_of_risk):
    line = BorrowerFactory(credit_limit=D("8000.00")).line
    line_limit_set(actor=manager, line=line, new_limit=D("12000"), reason_code="manual")
    line_limit_set(actor=manager, line=line, new_limit=D("12000"), reason_code="manual")
    line_limit_set(
        actor=None,
        line=line,
        new_limit=D("9000"),
        reason_code=LineStatusCode.OVERRIDE,
        approved_by=head_of_risk,
    )
    line_limit_set(actor=None, line=line, new_limit=D("9500"), reason_code="policy", automatic=True)

    assert _rows(line)[1:] == [
        ("limit", D("8000.00"), D("12000.00"), "active", "active", "manual", False, "mia", ""),
        ("limit", D("12000.00"), D("9000.00"), "active", "active", "override", False, "", "hank"),
        ("limit", D("9000.00"), D("9500.00"), "active", "active", "policy", True, "", ""),
    ]


def test_a_refused_limit_change_writes_no_row(analyst):
    from lending.errors import NotAllowed

    line = BorrowerFactory().line
    with pytest.raises(NotAllowed):
        line_limit_set(actor=analyst, line=line, new_limit=D("1"), reason_code="manual")
    assert [r[0] for r in _rows(line)] == ["opening"]


def test_freeze_unfreeze_and_close_each_write_one_row_keeping_the_limit(analyst, manager):
    line = BorrowerFactory(credit_limit=D("5000.00")).line
    line_freeze(actor=analyst, line=line, status_code="fraud")
    line_unfreeze(actor=analyst, line=line, status_code="manual")
    line_close(actor=manager, line=line, reason_code="customer_request")

    assert _rows(line)[1:] == [
        ("freeze", D("5000.00"), D("5000.00"), "active", "frozen", "fraud", False, "alice", ""),
        (
            "unfreeze",
            D("5000.00"),
            D("5000.00"),
            "frozen",
            "active",
            "manual",
            False,
            "alice",
            "",
        ),
        (
            "close",
            D("5000.00"),
            D("5000.00"),
            "active",
            "closed",
            "customer_request",
            False,
            "mia",
            "",
        ),
    ]


def test_the_bulk_limit_path_writes_one_row_per_line_applied_and_a_redelivery_none():
    lines = [BorrowerFactory(credit_limit=D("5000.00")).line for _ in range(3)]
    changes = [_change(lines[0], "6000"), _change(lines[1], "4000"), _change(lines[2], "5000")]
    applied = line_limits_set_bulk(actor=None, changes=changes, reason_code="policy")
    again = line_limits_set_bulk(actor=None, changes=changes, reason_code="policy")

    assert [c.line_id for c in applied] == [lines[0].pk, lines[1].pk]
    assert again == []
    assert _rows(lines[0])[1:] == [
        ("limit", D("5000.00"), D("6000.00"), "active", "active", "policy", True, "", "")
    ]
    assert _rows(lines[1])[1:] == [
        ("limit", D("5000.00"), D("4000.00"), "active", "active", "policy", True, "", "")
    ]
    assert len(_rows(lines[2])) == 1  # the same limit: nothing but its opening row


def test_the_bulk_freeze_writes_one_row_per_line_frozen():
    line = BorrowerFactory(credit_limit=D("5000.00")).line
    change = _change(line, code="overdue")
    line_freeze_bulk(actor=None, changes=[change])
    line_freeze_bulk(actor=None, changes=[change])  # redelivered: the line moved, skipped

    assert _rows(line)[1:] == [
        ("freeze", D("5000.00"), D("5000.00"), "active", "frozen", "overdue", True, "", "")
    ]


# --- the limit as of a moment ----------------------------------------------------------------


def test_limit_as_of_before_at_and_after_a_change(manager):
    line = BorrowerFactory(credit_limit=D("8000.00"), opened_at=at(2026, 1, 3)).line
    changed = at(2026, 2, 1, 12)
    with time_machine.travel(changed, tick=False):
        line_limit_set(actor=manager, line=line, new_limit=D("3000"), reason_code="overdue")

    tick = timedelta(microseconds=1)
    assert limit_as_of(line_id=line.pk, at=changed - tick) == D("8000.00")
    assert limit_as_of(line_id=line.pk, at=changed) == D("3000.00")  # in force from then
    assert limit_as_of(line_id=line.pk, at=changed + tick) == D("3000.00")
    assert limit_as_of(line_id=line.pk, at=at(2025, 12, 1)) == D("8000.00")  # before opening
    assert limits_as_of(borrower_ids=[line.borrower_id], at=changed - tick) == {
        line.borrower_id: D("8000.00")
    }


def test_a_line_opened_in_bulk_without_rows_reads_its_first_change_old_limit(
    borrower_record, manager
):
    """The demo book opens its lines by COPY with no opening row: before the first change the
    line had that change's old limit, and with no change at all the limit it has now."""
    line = borrower_record.line
    assert limit_as_of(line_id=line.pk, at=at(2026, 2, 1)) == D("20000.00")
    line_limit_set(actor=manager, line=line, new_limit=D("26000"), reason_code="manual")

    assert limit_as_of(line_id=line.pk, at=at(2026, 2, 1)) == D("20000.00")
    assert limit_as_of(line_id=line.pk, at=NOW) == D("26000.00")
    assert [r.new_limit for r in limit_history(line_id=line.pk)] == [D("26000.00")]


def test_the_policy_raise_of_many_lines_reads_differently_before_and_after_it():
    lines = [BorrowerFactory(credit_limit=D("5000.00")).line for _ in range(2)]
    with time_machine.travel(at(2026, 3, 21, 2), tick=False):
        line_limits_set_bulk(
            actor=None, changes=[_change(c, "7000") for c in lines], reason_code="policy"
        )
    ids = [c.borrower_id for c in lines]
    assert set(limits_as_of(borrower_ids=ids, at=at(2026, 3, 21, 1)).values()) == {D("5000.00")}
    assert set(limits_as_of(borrower_ids=ids, at=at(2026, 3, 21, 3)).values()) == {D("7000.00")}
    assert CreditLine.objects.get(pk=lines[0].pk).status == LineStatus.ACTIVE


def test_the_migration_backfills_the_history_of_lines_changed_before_it(analyst, manager):
    """Lines changed before LimitChange existed: their audit rows become the history, so a
    past date reads the limit of then, not today's."""
    import importlib

    from django.apps import apps

    backfill = importlib.import_module("lending.migrations.0008_limit_change_backfill").backfill
    line = BorrowerFactory(credit_limit=D("8000.00"), opened_at=at(2026, 1, 3)).line
    with time_machine.travel(at(2026, 2, 1), tick=False):
        line_limit_set(actor=manager, line=line, new_limit=D("6000"), reason_code="manual")
    with time_machine.travel(at(2026, 2, 10), tick=False):
        line_freeze(actor=analyst, line=line, status_code="overdue")
    with time_machine.travel(at(2026, 3, 1), tick=False):
        line_limit_set(actor=None, line=line, new_limit=D("3000"), reason_code="policy")
    written = _rows(line)[1:]
    LimitChange.objects.all().delete()  # as before the history existed

    backfill(apps, None)

    assert _rows(line) == written
    assert limit_as_of(line_id=line.pk, at=at(2026, 1, 20)) == D("8000.00")
    assert limit_as_of(line_id=line.pk, at=at(2026, 2, 15)) == D("6000.00")
    assert limit_as_of(line_id=line.pk, at=NOW) == D("3000.00")
