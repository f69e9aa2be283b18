"""The nightly day close (lending.services.day_close) and its task.

The loan of borrower_with_drawdown: ¥10,000 over 12 months at 0.05%/day, disbursed 2026-01-10;
instalments fall due on the 10th from 2026-02-10 (the first one's principal is ¥765.91).
"""

from __future__ import annotations

import copy
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection, connections

from accounts.models import AuditEvent
from lending import money
from lending.choices import DayCloseStatus, DrawdownStatus, LineStatus, TransitionKind
from lending.errors import DayCloseRunning, DayNotOver
from lending.models import CreditLine, DayClose, Drawdown, Instalment, LineTransition
from lending.services import day_close as day_close_module
from lending.services import day_close_catch_up, day_close_run, repayment_record
from lending.signals import line_transitions_recorded
from lending.tasks import day_close_task
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at, borrower_with_drawdown

pytestmark = pytest.mark.django_db

D = Decimal
FIRST_DUE = date(2026, 2, 10)


def close(day: date) -> DayClose:
    """Run the close of `day` as the nightly task would: just after it ended."""
    with time_machine.travel(
        at(day.year, day.month, day.day, 0, 5) + timedelta(days=1), tick=False
    ):
        return day_close_run(day=day)


def first_instalment(loan: Drawdown) -> Instalment:
    return Instalment.objects.get(drawdown=loan, seq=1)


def penalty_through(loan: Drawdown, day: date) -> dict[int, Decimal]:
    """What lending.money books on the loan's overdue instalments through `day`, from nothing."""
    fresh = [copy.copy(inst) for inst in Instalment.objects.filter(drawdown=loan)]
    for inst in fresh:
        inst.fee_due, inst.penalty_through = D("0.00"), None
    return money.accrue_penalties(fresh, daily_rate=loan.daily_rate, on=day)


def pay_first_instalment(loan: Drawdown) -> None:
    """¥950 on 2026-02-15: the first instalment with its penalty, the rest paid ahead."""
    repayment_record(
        actor=None,
        loan_no=loan.loan_no,
        reference="R-CURE",
        amount=D("950"),
        paid_at=at(2026, 2, 15),
    )


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def transitions(**filters) -> list[tuple[date, str, str, str, int]]:
    return [
        (t.day, t.kind, t.from_bucket, t.to_bucket, t.dpd)
        for t in LineTransition.objects.filter(**filters).order_by("day", "id")
    ]


# --- a. penalty -------------------------------------------------------------------------------


def test_the_day_close_books_penalty_through_the_day_and_records_its_counts():
    _borrower, loan = borrower_with_drawdown()

    result = close(date(2026, 2, 20))

    first = first_instalment(loan)
    expected = penalty_through(loan, date(2026, 2, 20))
    assert list(expected) == [1]
    assert expected[1] > 0
    assert first.fee_due == expected[1]
    assert first.penalty_through == date(2026, 2, 20)
    assert result.status == DayCloseStatus.DONE
    assert result.penalty_accrued == expected[1]
    assert result.instalments_accrued == 1
    assert result.finished_at is not None and result.finished_at >= result.started_at
    (event,) = audits("day_close.completed")
    assert event.actor is None
    assert event.after["penalty_accrued"] == str(expected[1])
    assert event.after["instalments_accrued"] == 1
    assert event.after["written_off"] == 0


def test_night_by_night_the_penalty_is_what_one_accrual_books_and_a_payment_adds_only_its_day():
    _borrower, loan = borrower_with_drawdown()
    for offset in range(1, 11):
        close(FIRST_DUE + timedelta(days=offset))
    assert first_instalment(loan).fee_due == penalty_through(loan, date(2026, 2, 20))[1]

    one_more_day = (
        penalty_through(loan, date(2026, 2, 21))[1] - penalty_through(loan, date(2026, 2, 20))[1]
    )
    repayment_record(
        actor=None, loan_no=loan.loan_no, reference="R-1", amount=D("2000"), paid_at=at(2026, 2, 21)
    )
    event = AuditEvent.objects.get(action="repayment.recorded")
    assert event.after["penalty_accrued"] == str(one_more_day)


def test_settled_and_written_off_loans_accrue_nothing():
    _borrower, loan = borrower_with_drawdown()
    Drawdown.objects.filter(pk=loan.pk).update(status=DrawdownStatus.WRITTEN_OFF)
    result = close(date(2026, 2, 20))
    assert result.penalty_accrued == 0
    assert first_instalment(loan).fee_due == 0


def test_a_rerun_of_a_closed_day_changes_nothing():
    _borrower, loan = borrower_with_drawdown()
    close(date(2026, 2, 11))
    first_run = close(date(2026, 3, 13))
    rows = transitions()
    fee = first_instalment(loan).fee_due

    again = close(date(2026, 3, 13))

    assert again.pk == first_run.pk
    assert (again.penalty_accrued, again.transitions, again.finished_at) == (
        first_run.penalty_accrued,
        first_run.transitions,
        first_run.finished_at,
    )
    assert transitions() == rows
    assert first_instalment(loan).fee_due == fee
    assert len(audits("day_close.completed")) == 2  # one per day closed, not per run


def test_a_day_not_yet_over_is_refused():
    with time_machine.travel(at(2026, 2, 20, 23, 59), tick=False):
        with pytest.raises(DayNotOver):
            day_close_run(day=date(2026, 2, 20))
        with pytest.raises(DayNotOver):
            day_close_run(day=date(2026, 2, 21))
    assert not DayClose.objects.exists()


def test_only_lines_that_can_change_are_read(django_assert_max_num_queries):
    borrower_with_drawdown()
    with (
        time_machine.travel(at(2026, 2, 21), tick=False),
        django_assert_max_num_queries(40) as captured,
    ):
        day_close_run(day=date(2026, 2, 20))
    small = len(captured)
    for n in range(20):  # twenty current lines more: not one query more
        DrawdownFactory(disbursed_at=at(2026, 2, 1), loan_no=f"L-CURRENT-{n}")
    with time_machine.travel(at(2026, 2, 22), tick=False), django_assert_max_num_queries(small):
        day_close_run(day=date(2026, 2, 21))


# --- b. transitions ---------------------------------------------------------------------------


def test_a_line_enters_m1_the_day_after_its_due_date_and_m2_thirty_days_later():
    borrower, _loan = borrower_with_drawdown()

    close(FIRST_DUE)  # due today is not late
    close(FIRST_DUE + timedelta(days=1))
    close(FIRST_DUE + timedelta(days=2))
    close(FIRST_DUE + timedelta(days=31))

    assert transitions() == [
        (date(2026, 2, 11), TransitionKind.ENTERED, "M0", "M1", 1),
        (date(2026, 3, 13), TransitionKind.ENTERED, "M1", "M2", 31),
    ]
    first = LineTransition.objects.order_by("day").first()
    assert first is not None
    assert first.borrower_id == borrower.pk
    assert first.balance == D("10000.00")


def test_a_repayment_of_everything_overdue_is_a_cure_that_day():
    _borrower, loan = borrower_with_drawdown()
    close(date(2026, 2, 11))
    repayment_record(
        actor=None,
        loan_no=loan.loan_no,
        reference="R-CURE",
        amount=D("950"),
        paid_at=at(2026, 2, 15),
    )

    close(date(2026, 2, 15))

    assert transitions(day=date(2026, 2, 15)) == [
        (date(2026, 2, 15), TransitionKind.CURED, "M1", "M0", 0)
    ]


def test_a_day_caught_up_later_is_recorded_as_it_was():
    # The cure on 2026-02-15 is seen even when the close of 02-11 runs after it.
    _borrower, loan = borrower_with_drawdown()
    repayment_record(
        actor=None,
        loan_no=loan.loan_no,
        reference="R-CURE",
        amount=D("950"),
        paid_at=at(2026, 2, 15),
    )
    close(date(2026, 2, 11))
    close(date(2026, 2, 15))
    assert [row[1:4] for row in transitions()] == [
        (TransitionKind.ENTERED, "M0", "M1"),
        (TransitionKind.CURED, "M1", "M0"),
    ]


def test_the_transitions_are_published_after_commit(django_capture_on_commit_callbacks):
    borrower_with_drawdown()
    heard = []

    def receiver(sender, day, transition_ids, **kwargs):
        heard.append((day, transition_ids))

    line_transitions_recorded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            close(date(2026, 2, 11))
    finally:
        line_transitions_recorded.disconnect(receiver)
    assert heard == [(date(2026, 2, 11), list(LineTransition.objects.values_list("pk", flat=True)))]


def test_a_failing_receiver_fails_neither_the_day_close_nor_the_other_receivers(
    django_capture_on_commit_callbacks, caplog
):
    borrower_with_drawdown()
    heard = []

    def broken(sender, **kwargs):
        raise RuntimeError("scores are down")

    def listening(sender, day, transition_ids, **kwargs):
        heard.append(day)

    line_transitions_recorded.connect(broken)
    line_transitions_recorded.connect(listening)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = close(date(2026, 2, 11))
    finally:
        line_transitions_recorded.disconnect(broken)
        line_transitions_recorded.disconnect(listening)
    assert result.status == DayCloseStatus.DONE
    assert heard == [date(2026, 2, 11)]
    assert "scores are down" in caplog.text


# --- c. write-off -----------------------------------------------------------------------------


def test_a_loan_is_written_off_at_exactly_the_threshold_and_not_a_day_before():
    borrower, loan = borrower_with_drawdown()
    threshold_day = FIRST_DUE + timedelta(days=180)  # 2026-08-09

    day_before = close(threshold_day - timedelta(days=1))
    assert day_before.written_off == 0
    assert Drawdown.objects.get(pk=loan.pk).status == DrawdownStatus.ACTIVE

    on_the_day = close(threshold_day)

    written = Drawdown.objects.get(pk=loan.pk)
    assert written.status == DrawdownStatus.WRITTEN_OFF
    assert written.written_off_principal == D("10000.00")
    assert written.principal_outstanding == 0
    line = CreditLine.objects.get(borrower=borrower)
    assert line.status == LineStatus.CLOSED
    assert line.used == 0
    assert on_the_day.written_off == 1
    assert transitions(kind=TransitionKind.WRITTEN_OFF) == [
        (threshold_day, TransitionKind.WRITTEN_OFF, "M6", "M6", 180)
    ]
    (event,) = audits("drawdown.written_off")
    assert event.actor is None
    assert len(audits("line.closed")) == 1
    # Penalty was booked through the day of the write-off, and no further.
    assert first_instalment(loan).penalty_through == threshold_day
    after = close(threshold_day + timedelta(days=1))
    assert after.penalty_accrued == 0


def test_the_write_off_threshold_is_configurable(settings):
    _borrower, loan = borrower_with_drawdown()
    settings.RISKOPS_WRITE_OFF_DPD = 90
    close(FIRST_DUE + timedelta(days=89))
    assert Drawdown.objects.get(pk=loan.pk).status == DrawdownStatus.ACTIVE
    close(FIRST_DUE + timedelta(days=90))
    assert Drawdown.objects.get(pk=loan.pk).status == DrawdownStatus.WRITTEN_OFF


# --- runs: claim, failure, catch-up -----------------------------------------------------------


def test_a_fresh_claim_of_another_run_is_respected_and_a_stale_one_taken_over():
    borrower_with_drawdown()
    with time_machine.travel(at(2026, 2, 21, 0, 5), tick=False):
        DayClose.objects.create(day=date(2026, 2, 20), started_at=at(2026, 2, 21, 0, 1))
        with pytest.raises(DayCloseRunning):
            day_close_run(day=date(2026, 2, 20))
    with time_machine.travel(at(2026, 2, 21, 2, 0), tick=False):
        result = day_close_run(day=date(2026, 2, 20))
    assert result.status == DayCloseStatus.DONE
    assert result.started_at == at(2026, 2, 21, 2, 0)


def test_a_failed_run_is_marked_and_the_next_resumes_without_counting_twice(monkeypatch):
    _borrower, loan = borrower_with_drawdown()

    def broken(*, day):
        raise RuntimeError("database went away")

    monkeypatch.setattr(day_close_module, "_write_off", broken)
    with pytest.raises(RuntimeError):
        close(date(2026, 2, 20))
    failed = DayClose.objects.get(day=date(2026, 2, 20))
    assert failed.status == DayCloseStatus.FAILED
    assert not audits("day_close.completed")

    monkeypatch.undo()
    resumed = close(date(2026, 2, 20))

    assert resumed.pk == failed.pk
    assert resumed.status == DayCloseStatus.DONE
    expected = penalty_through(loan, date(2026, 2, 20))[1]
    assert first_instalment(loan).fee_due == expected
    assert resumed.penalty_accrued == expected
    assert resumed.instalments_accrued == 1


def test_missed_days_are_caught_up_in_order():
    borrower_with_drawdown()
    close(date(2026, 2, 9))

    with time_machine.travel(at(2026, 2, 13, 0, 5), tick=False):
        caught_up = day_close_catch_up()

    assert [c.day for c in caught_up] == [
        date(2026, 2, 10),
        date(2026, 2, 11),
        date(2026, 2, 12),
    ]
    assert list(DayClose.objects.order_by("started_at", "id").values_list("day", flat=True)) == [
        date(2026, 2, 9),
        date(2026, 2, 10),
        date(2026, 2, 11),
        date(2026, 2, 12),
    ]
    assert transitions() == [(date(2026, 2, 11), TransitionKind.ENTERED, "M0", "M1", 1)]
    with time_machine.travel(at(2026, 2, 13, 0, 6), tick=False):
        assert day_close_catch_up() == []


def test_the_task_closes_yesterday_in_shanghai_on_a_first_night():
    # 00:05 on 21 February in Shanghai is still 20 February in UTC: the day is Shanghai's.
    borrower_with_drawdown()
    with time_machine.travel(at(2026, 2, 21, 0, 5), tick=False):
        assert day_close_task.delay().get() == ["2026-02-20"]
    assert list(DayClose.objects.values_list("day", "status")) == [(date(2026, 2, 20), "done")]
    event = AuditEvent.objects.get(action="day_close.completed")
    assert event.source == "task"
    assert event.actor_label == "lending.tasks.day_close_task"


def test_the_task_closes_a_given_day_and_steps_aside_for_a_running_one():
    with time_machine.travel(at(2026, 2, 21, 0, 5), tick=False):
        assert day_close_task.delay(day="2026-02-19").get() == ["2026-02-19"]
        DayClose.objects.create(day=date(2026, 2, 20), started_at=at(2026, 2, 21, 0, 4))
        assert day_close_task.delay().get() == []


def test_a_borrower_with_no_loan_is_not_touched():
    BorrowerFactory()
    result = close(date(2026, 2, 20))
    assert (result.penalty_accrued, result.transitions, result.written_off) == (0, 0, 0)


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


class _Slow:
    """lending.money as one module sees it, with one function slowed down: the caller then
    holds its row locks a while, so the other thread surely runs into them."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str):
        real = getattr(money, attr)
        if attr != self._name:
            return real

        def slowly(*args, **kwargs):
            time.sleep(0.3)
            return real(*args, **kwargs)

        return slowly


def _race(first, second) -> list[BaseException]:
    """Run `first` and, a moment later, `second` in two threads; return what they raised."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(call, delay: float) -> None:
        try:
            barrier.wait(timeout=10)
            time.sleep(delay)
            call()
        except BaseException as exc:  # noqa: BLE001 (returned to the test)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(first, 0)),
        threading.Thread(target=run, args=(second, 0.1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if any(thread.is_alive() for thread in threads):
        errors.append(TimeoutError("a thread is still waiting"))
    return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_day_close_beside_a_repayment_on_the_same_line_neither_deadlocks_nor_double_accrues(
    monkeypatch,
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serializes whole transactions")
    from lending.services import repayments as repayments_module

    loans = [borrower_with_drawdown()[1] for _ in range(3)]
    loan = loans[1]  # in the middle of the day close's chunk of three lines
    for attempt in range(4):
        day = date(2026, 2, 20) + timedelta(days=attempt)
        paid_at = at(day.year, day.month, day.day, 0, 3) + timedelta(days=1)

        def close_the_day(day: date = day) -> None:
            day_close_run(day=day)

        def pay(attempt: int = attempt, paid_at=paid_at) -> None:
            repayment_record(
                actor=None,
                loan_no=loan.loan_no,
                reference=f"R-RACE-{attempt}",
                amount=D("10"),
                paid_at=paid_at,
            )

        # Even attempts: the close takes the lines' locks first and holds them while it
        # accrues; the payment waits. Odd ones: the payment holds its line while it plans;
        # the close waits.
        monkeypatch.undo()
        if attempt % 2 == 0:
            monkeypatch.setattr(day_close_module, "money", _Slow("accrue_penalties"))
            order: tuple[Any, Any] = (close_the_day, pay)
        else:
            monkeypatch.setattr(repayments_module, "money", _Slow("plan_repayment"))
            order = (pay, close_the_day)
        with time_machine.travel(paid_at + timedelta(minutes=2), tick=False):
            assert _race(*order) == []
    monkeypatch.undo()

    # Whatever the order, each day of penalty is booked once: the penalty booked on the loan
    # equals one accrual through the last payment's date; the others', through the last close.
    last_paid = date(2026, 2, 24)
    expected = penalty_through(loan, last_paid)
    for inst in Instalment.objects.filter(drawdown=loan, fee_due__gt=0):
        assert inst.fee_due == expected[inst.seq]
        assert inst.penalty_through == last_paid
    for other in (loans[0], loans[2]):
        assert first_instalment(other).fee_due == penalty_through(other, date(2026, 2, 23))[1]
    assert DayClose.objects.filter(status=DayCloseStatus.DONE).count() == 4
