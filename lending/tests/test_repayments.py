"""repayment_record: the repayment rules of lending.money as the book records them, each
refusal, permission denials, replays.

The loan in most tests: ¥10,000 over 12 months, equal instalments, 0.05%/day, drawn on 10 Jan
2026 (borrower_with_drawdown): ¥917.99 a month, the first 152.08 interest + 765.91 principal,
due on the 10th. Its penalty rate is 1.5 x 0.05% = 27.375% a year, capped at the 24% ceiling:
0.24 / 365 a day. The figures in the comments are worked by hand from the rules in lending.money.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from accounts.models import AuditEvent
from lending import money
from lending.choices import DrawdownStatus, LineStatus
from lending.errors import (
    DrawdownNotActive,
    DuplicateKeyConflict,
    InvalidAmount,
    InvalidDate,
    NotAllowed,
    UnknownLoan,
)
from lending.models import BankAccount, CreditLine, Drawdown, Repayment, RepaymentAllocation
from lending.services import line_freeze, repayment_record
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at, borrower_with_drawdown

pytestmark = pytest.mark.django_db

D = Decimal


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def pay(loan: Drawdown, reference: str, amount: str, when, **kwargs) -> Repayment:
    return repayment_record(
        actor=None,
        loan_no=loan.loan_no,
        reference=reference,
        amount=D(amount),
        paid_at=when,
        **kwargs,
    )


def line_of(borrower) -> CreditLine:
    return CreditLine.objects.get(borrower=borrower)


def payoff(loan: Drawdown, on: date) -> Decimal:
    return money.payoff_amount(
        list(loan.instalments.order_by("seq")),
        daily_rate=loan.daily_rate,
        disbursed_on=date(2026, 1, 10),
        on=on,
    )


def parts(repayment: Repayment) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    return {
        a.instalment.seq: (a.fee, a.interest, a.principal)
        for a in repayment.allocations.select_related("instalment")
    }


# --- on time, late, penalty -------------------------------------------------------------------


def test_an_on_time_payment_pays_the_first_instalment_and_moves_the_oldest_due_date(
    service_user,
):
    borrower, loan = borrower_with_drawdown()
    first = loan.instalments.get(seq=1)

    repayment = repayment_record(
        actor=service_user,
        loan_no=loan.loan_no,
        reference="R1",
        amount=D("917.99"),
        paid_at=at(2026, 2, 10, 9),
        card_no=loan.bank_account.card_no,
    )

    first.refresh_from_db()
    assert first.paid_off_at == at(2026, 2, 10, 9)
    assert first.fee_due == 0
    (alloc,) = repayment.allocations.all()
    assert (alloc.fee, alloc.interest, alloc.principal) == (D("0"), D("152.08"), D("765.91"))
    assert repayment.unapplied_amount == 0
    loan.refresh_from_db()
    assert loan.principal_outstanding == D("9234.09")
    line = line_of(borrower)
    assert line.used == D("9234.09")
    assert line.oldest_unpaid_due == date(2026, 3, 10)
    assert repayment.bank_account == loan.bank_account
    (event,) = audits("repayment.recorded")
    assert event.actor == service_user
    assert event.borrower_id == borrower.pk
    assert event.before["line"]["oldest_unpaid_due"] == "2026-02-10"
    assert event.after["line"]["oldest_unpaid_due"] == "2026-03-10"
    assert event.after["allocations"] == {
        "1": {"fee": "0.00", "interest": "152.08", "principal": "765.91"}
    }
    assert event.after["unapplied"] == "0.00"


def test_paying_the_instalment_shown_ten_days_late_clears_it_and_leaves_the_penalty_owed():
    borrower, loan = borrower_with_drawdown()

    # Ten days late on 765.91: 765.91 x 0.24 / 365 x 10 = 5.036 -> 5.04 of penalty. The
    # 917.99 pays interest and principal first, so the instalment is cleared for DPD and
    # only the penalty is left owed.
    repayment = pay(loan, "R-LATE", "917.99", at(2026, 2, 20))

    first = loan.instalments.get(seq=1)
    assert first.fee_due == D("5.04")
    assert (first.fee_paid, first.interest_paid, first.principal_paid) == (
        D("0"),
        D("152.08"),
        D("765.91"),
    )
    assert first.penalty_through == date(2026, 2, 20)
    assert first.paid_off_at == at(2026, 2, 20)
    assert first.remaining == D("5.04")
    assert parts(repayment) == {1: (D("0"), D("152.08"), D("765.91"))}
    assert audits("repayment.recorded")[0].after["penalty_accrued"] == "5.04"
    line = line_of(borrower)
    assert line.oldest_unpaid_due == date(2026, 3, 10)
    assert money.days_past_due(line.oldest_unpaid_due, date(2026, 3, 1)) == 0
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.ACTIVE


def test_late_penalty_costs_more_a_day_than_interest_on_time():
    _, loan = borrower_with_drawdown()
    pay(loan, "R-LATE", "917.99", at(2026, 3, 12))  # 30 days late

    first = loan.instalments.get(seq=1)
    # 765.91 x 0.24 / 365 x 30 = 15.11 of penalty, against 765.91 x 0.05% x 30 = 11.49 had
    # the principal stayed on at the contract rate: late costs 0.0658% a day, not 0.05%.
    assert first.fee_due == D("15.11")
    assert first.fee_due > money.daily_interest(
        principal=D("765.91"), daily_rate=loan.daily_rate, days=30
    )


def test_a_later_payment_pays_the_penalty_left_on_a_cleared_instalment():
    borrower, loan = borrower_with_drawdown()
    pay(loan, "R-LATE", "917.99", at(2026, 2, 20))

    # The second instalment (140.44 + 777.55) and the 5.04 left: interest and principal of
    # what is due first, then the penalty.
    repayment = pay(loan, "R-2", "923.03", at(2026, 3, 10))

    assert parts(repayment) == {
        1: (D("5.04"), D("0"), D("0")),
        2: (D("0"), D("140.44"), D("777.55")),
    }
    first, second = loan.instalments.get(seq=1), loan.instalments.get(seq=2)
    assert first.remaining == 0
    assert first.paid_off_at == at(2026, 2, 20)  # cleared when its principal was paid
    assert second.paid_off_at == at(2026, 3, 10)
    assert line_of(borrower).oldest_unpaid_due == date(2026, 4, 10)


def test_settling_needs_the_penalty_left_on_a_cleared_instalment():
    borrower, loan = borrower_with_drawdown()
    pay(loan, "R-LATE", "917.99", at(2026, 2, 20))

    # On 1 March: 5.04 penalty + 9,234.09 principal + 19 days on it (87.72) = 9,326.85.
    assert payoff(loan, date(2026, 3, 1)) == D("9326.85")
    pay(loan, "R-SHORT", "9321.81", at(2026, 3, 1))  # principal and interest, no penalty
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.ACTIVE

    _, loan = borrower_with_drawdown()
    pay(loan, "R-LATE-2", "917.99", at(2026, 2, 20))
    pay(loan, "R-SETTLE", "9326.85", at(2026, 3, 1))
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert all(i.remaining == 0 for i in loan.instalments.all())


def test_penalty_is_accrued_once_per_day_across_partial_payments():
    borrower, loan = borrower_with_drawdown()

    pay(loan, "R-P1", "100.00", at(2026, 2, 20))  # 10 days: 5.04 accrued; 100 of interest
    pay(loan, "R-P2", "100.00", at(2026, 2, 25))  # 15 days in all on 765.91: 7.55, so 2.51 more

    first = loan.instalments.get(seq=1)
    assert first.fee_due == D("7.55")
    assert first.penalty_through == date(2026, 2, 25)
    assert first.fee_paid == 0  # interest and principal come first
    assert first.interest_paid == D("152.08")
    assert first.principal_paid == D("200.00") - D("152.08")
    assert first.paid_off_at is None
    assert line_of(borrower).oldest_unpaid_due == date(2026, 2, 10)


def test_a_partial_payment_leaves_the_instalment_unpaid_and_the_line_in_arrears():
    borrower, loan = borrower_with_drawdown()

    with time_machine.travel(at(2026, 3, 1), tick=False):
        pay(loan, "R-PART", "500.00", at(2026, 2, 10))
        line = line_of(borrower)
        assert line.oldest_unpaid_due == date(2026, 2, 10)
        assert money.days_past_due(line.oldest_unpaid_due, date(2026, 3, 1)) == 19
        assert money.bucket_for(19) == "M1"
    first = loan.instalments.get(seq=1)
    assert first.interest_paid == D("152.08")
    assert first.principal_paid == D("347.92")
    assert line.used == D("10000.00") - D("347.92")


# --- ahead of time, settlement ----------------------------------------------------------------


def test_paying_ahead_clears_the_current_instalment_with_the_interest_earned_so_far():
    borrower, loan = borrower_with_drawdown()

    # Day 15: 10,000 x 0.05% x 15 = 75.00 earned, the other 1,425.00 repays principal: the
    # first instalment's 765.91 and 659.09 of the later ones, re-amortised over 11 months.
    repayment = pay(loan, "R-AHEAD", "1500.00", at(2026, 1, 25))

    assert parts(repayment) == {1: (D("0"), D("75.00"), D("1425.00"))}
    first, second = loan.instalments.get(seq=1), loan.instalments.get(seq=2)
    assert (first.interest_due, first.principal_due) == (D("75.00"), D("1425.00"))
    assert first.paid_off_at == at(2026, 1, 25)
    # The period's interest with 1,425 repaid on day 15: 152.0833 - 1,425 x 0.05% x
    # (30 5/12 - 15) = 141.10; 75.00 is paid, the 66.10 left runs on the 8,575.00 still owed
    # to 10 Feb and is due with the second instalment, beside its own month (130.41).
    assert second.interest_due == D("130.41") + D("66.10")
    assert sum(i.principal_due for i in loan.instalments.all()) == D("10000.00")
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.ACTIVE
    assert loan.principal_outstanding == D("8575.00")
    assert line_of(borrower).oldest_unpaid_due == date(2026, 3, 10)


def test_early_settlement_charges_interest_by_the_day_and_settles_the_loan():
    borrower, loan = borrower_with_drawdown()

    # 15 days after disbursement: 10,000 x 0.05% x 15 = 75.00 of interest, nothing after.
    assert payoff(loan, date(2026, 1, 25)) == D("10075.00")
    repayment = pay(loan, "R-SETTLE", "10075.00", at(2026, 1, 25))

    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert loan.settled_at == at(2026, 1, 25)
    assert loan.principal_outstanding == 0
    assert repayment.unapplied_amount == 0
    instalments = list(loan.instalments.order_by("seq"))
    assert (instalments[0].interest_due, instalments[0].principal_due) == (
        D("75.00"),
        D("10000.00"),
    )
    assert all(i.interest_due == 0 and i.principal_due == 0 for i in instalments[1:])
    assert all(i.paid_off_at == at(2026, 1, 25) for i in instalments)
    line = line_of(borrower)
    assert line.used == 0
    assert line.oldest_unpaid_due is None
    assert parts(repayment) == {1: (D("0"), D("75.00"), D("10000.00"))}


def test_one_fen_short_of_the_payoff_leaves_one_fen_of_principal_and_costs_no_more():
    borrower, loan = borrower_with_drawdown()

    # The old cliff: 10,074.99 was charged 1,002.12 of interest and left 927.13 owed.
    pay(loan, "R-SHORT", "10074.99", at(2026, 1, 25))

    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.ACTIVE
    assert loan.principal_outstanding == D("0.01")
    instalments = list(loan.instalments.order_by("seq"))
    assert instalments[0].interest_due == D("75.00")
    assert sum(i.interest_due - i.interest_paid for i in instalments) == 0
    assert instalments[-1].principal_due == D("0.01")  # re-amortised: due with the last one
    line = line_of(borrower)
    assert line.used == D("0.01")
    assert line.oldest_unpaid_due == date(2027, 1, 10)  # nothing overdue

    # The fen, paid any day, settles: 10,075.00 in all, as the exact payoff.
    assert payoff(loan, date(2026, 3, 1)) == D("0.01")
    pay(loan, "R-FEN", "0.01", at(2026, 3, 1))
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert sum(r.amount for r in Repayment.objects.filter(drawdown=loan)) == D("10075.00")


def test_paying_more_than_the_payoff_settles_and_keeps_the_excess_unapplied():
    borrower, loan = borrower_with_drawdown()

    repayment = pay(loan, "R-OVER", "10075.01", at(2026, 1, 25))

    assert repayment.unapplied_amount == D("0.01")
    allocated = sum(a.fee + a.interest + a.principal for a in repayment.allocations.all())
    assert allocated == D("10075.00")
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert audits("repayment.recorded")[0].after["unapplied"] == "0.01"
    assert line_of(borrower).used == 0


def test_an_overpaid_late_loan_settles_with_its_penalty_and_keeps_the_rest_unapplied():
    _, loan = borrower_with_drawdown(term_months=1, amount=D("1000"))

    # Due 10 Feb: 1,000 + 15.21 interest; 38 days late: 1,000 x 0.24 / 365 x 38 = 24.99.
    repayment = pay(loan, "R-OVER", "5000.00", at(2026, 3, 20))

    inst = loan.instalments.get()
    assert (inst.fee_due, inst.fee_paid) == (D("24.99"), D("24.99"))
    assert repayment.unapplied_amount == D("5000.00") - D("1040.20")
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED


def test_early_settlement_after_an_instalment_counts_days_from_its_due_date():
    borrower, loan = borrower_with_drawdown()
    pay(loan, "R-1", "917.99", at(2026, 2, 10))

    # 10 days after the 10 Feb due date on 9,234.09: 46.17 of interest.
    assert payoff(loan, date(2026, 2, 20)) == D("9280.26")
    pay(loan, "R-SETTLE", "9280.26", at(2026, 2, 20))

    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert loan.instalments.get(seq=2).interest_due == D("46.17")
    assert line_of(borrower).used == 0


def test_paying_part_ahead_then_settling_in_the_same_period_costs_less_than_settling_at_once():
    _, alone = borrower_with_drawdown()
    # Settling on 1 Feb, day 22: 10,000 x 0.05% x 22 = 110.00 of interest.
    assert payoff(alone, date(2026, 2, 1)) == D("10110.00")

    _, loan = borrower_with_drawdown()
    pay(loan, "R-PART", "1500.00", at(2026, 1, 25))
    # 8,575.00 left after day 15; 7 more days on it: 30.01 by the day (30.02 here: the
    # period's interest is rounded as a whole, so the two steps may differ by a fen).
    rest = payoff(loan, date(2026, 2, 1))
    assert rest == D("8605.02")
    pay(loan, "R-REST", str(rest), at(2026, 2, 1))
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert D("1500.00") + rest == D("10105.02")  # 4.98 less than settling on day 22 alone


def test_paying_every_instalment_on_its_due_date_settles_the_loan():
    borrower, loan = borrower_with_drawdown(amount=D("3000"), term_months=3)
    for inst in loan.instalments.order_by("seq"):
        pay(
            loan,
            f"R-{inst.seq}",
            str(inst.principal_due + inst.interest_due),
            at(inst.due_date.year, inst.due_date.month, inst.due_date.day),
        )

    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert loan.principal_outstanding == 0
    line = line_of(borrower)
    assert line.used == 0
    assert line.oldest_unpaid_due is None


# --- refusals, replays, permissions ----------------------------------------------------------


def test_a_settled_loan_refuses_a_further_repayment():
    _, loan = borrower_with_drawdown()
    pay(loan, "R-SETTLE", "10075.00", at(2026, 1, 25))
    with pytest.raises(DrawdownNotActive):
        pay(loan, "R-AFTER", "1.00", at(2026, 1, 26))


def test_a_repayment_replayed_returns_the_stored_one_and_writes_nothing():
    borrower, loan = borrower_with_drawdown()
    first = pay(loan, "R-TWICE", "917.99", at(2026, 2, 10))
    again = pay(loan, "R-TWICE", "917.99", at(2026, 2, 10))

    assert again.pk == first.pk
    assert Repayment.objects.count() == 1
    assert len(audits("repayment.recorded")) == 1
    assert line_of(borrower).used == D("9234.09")


def test_a_settling_repayment_replayed_is_still_a_replay_not_a_refusal():
    _, loan = borrower_with_drawdown()
    first = pay(loan, "R-SETTLE", "10075.00", at(2026, 1, 25))
    assert pay(loan, "R-SETTLE", "10075.00", at(2026, 1, 25)).pk == first.pk


def test_an_overpaying_repayment_replayed_is_a_replay():
    _, loan = borrower_with_drawdown()
    first = pay(loan, "R-OVER", "10100.00", at(2026, 1, 25))
    assert pay(loan, "R-OVER", "10100.00", at(2026, 1, 25)).pk == first.pk
    assert Repayment.objects.get().unapplied_amount == D("25.00")


def test_a_repayment_reference_with_other_data_is_a_conflict():
    _, loan = borrower_with_drawdown()
    pay(loan, "R-DUP", "917.99", at(2026, 2, 10))
    with pytest.raises(DuplicateKeyConflict):
        pay(loan, "R-DUP", "900.00", at(2026, 2, 10))


def test_a_repayment_is_refused_for_an_unknown_loan_bad_amount_or_date():
    _, loan = borrower_with_drawdown()
    with pytest.raises(UnknownLoan):
        repayment_record(
            actor=None, loan_no="NOPE", reference="R", amount=D("1"), paid_at=at(2026, 2, 1)
        )
    with pytest.raises(InvalidAmount):
        pay(loan, "R-ZERO", "0", at(2026, 2, 10))
    with pytest.raises(InvalidDate):
        pay(loan, "R-EARLY", "100", at(2026, 1, 9))
    assert not Repayment.objects.exists()


def test_a_repayment_is_refused_to_a_borrower_login(borrower_user):
    _, loan = borrower_with_drawdown()
    with pytest.raises(NotAllowed):
        repayment_record(
            actor=borrower_user,
            loan_no=loan.loan_no,
            reference="R",
            amount=D("1"),
            paid_at=at(2026, 2, 1),
        )


def test_a_repayment_from_a_new_card_notes_the_card():
    borrower, loan = borrower_with_drawdown()
    repayment = pay(loan, "R-CARD", "917.99", at(2026, 2, 10), card_no="6217000011112222")
    assert repayment.bank_account is not None
    assert repayment.bank_account.card_no == "6217000011112222"
    assert BankAccount.objects.filter(borrower=borrower).count() == 2


def test_a_frozen_line_still_takes_repayments():
    borrower, loan = borrower_with_drawdown()
    line_freeze(actor=None, line=line_of(borrower), reason="Collections hold")
    pay(loan, "R-FROZEN", "917.99", at(2026, 2, 10))
    line = line_of(borrower)
    assert line.status == LineStatus.FROZEN
    assert line.used == D("9234.09")


def test_the_oldest_unpaid_due_date_spans_every_drawdown_of_the_line():
    borrower = BorrowerFactory(credit_limit=D("50000"))
    older = DrawdownFactory(borrower=borrower, disbursed_at=at(2026, 1, 10))
    DrawdownFactory(borrower=borrower, disbursed_at=at(2026, 1, 20))
    assert line_of(borrower).oldest_unpaid_due == date(2026, 2, 10)

    pay(older, "R-OLD", "917.99", at(2026, 2, 10))
    assert line_of(borrower).oldest_unpaid_due == date(2026, 2, 20)
    assert line_of(borrower).used == D("20000.00") - D("765.91")


def test_allocations_add_up_to_the_repayment_less_what_is_unapplied():
    _, loan = borrower_with_drawdown()
    for n, (amount, when) in enumerate(
        [("300.00", at(2026, 1, 20)), ("917.99", at(2026, 2, 25)), ("9000.00", at(2026, 3, 5))]
    ):
        pay(loan, f"R-{n}", amount, when)
    for repayment in Repayment.objects.filter(drawdown=loan):
        total = sum(a.fee + a.interest + a.principal for a in repayment.allocations.all())
        assert total + repayment.unapplied_amount == repayment.amount
    assert RepaymentAllocation.objects.filter(repayment__drawdown=loan).exists()
