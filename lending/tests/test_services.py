"""The lending services: happy paths, each refusal, permission denials, replays, the money."""

from __future__ import annotations

import contextlib
import threading
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection, connections

from accounts.models import AuditEvent
from lending import money
from lending.choices import DrawdownStatus, LineStatus
from lending.errors import (
    AlreadyFrozen,
    DrawdownNotActive,
    DuplicateKeyConflict,
    InsufficientAvailable,
    InvalidAmount,
    InvalidChoice,
    InvalidData,
    InvalidDate,
    InvalidRate,
    InvalidTerm,
    LineClosed,
    LineNotActive,
    NotAllowed,
    NotFrozen,
    Overpayment,
    ReasonRequired,
    UnknownLoan,
)
from lending.models import (
    BankAccount,
    BookSnapshot,
    Borrower,
    CreditLine,
    DeclaredAsset,
    Device,
    Drawdown,
    Instalment,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)
from lending.services import (
    asset_declare,
    bank_account_seen,
    book_snapshot_take,
    borrower_register,
    device_seen,
    drawdown_create,
    identity_check_record,
    line_freeze,
    line_refresh_arrears,
    line_unfreeze,
    repayment_record,
    transfer_out_record,
)
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at, borrower_with_drawdown

pytestmark = pytest.mark.django_db

D = Decimal


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def register_kwargs(**overrides):
    kwargs = {
        "customer_no": "C90000001",
        "name": "李四",
        "national_id": "110101199003078888",
        "mobile": "13912345678",
        "city": "Hangzhou",
        "income_band": "10k_20k",
        "employer": "West Lake Tea",
        "registered_at": at(2026, 1, 3),
        "credit_limit": D("30000.00"),
        "daily_rate": D("0.000400"),
    }
    kwargs.update(overrides)
    return kwargs


def pay(loan: Drawdown, reference: str, amount: str, when, **kwargs) -> Repayment:
    return repayment_record(
        actor=None,
        loan_no=loan.loan_no,
        reference=reference,
        amount=D(amount),
        paid_at=when,
        **kwargs,
    )


def line_of(borrower: Borrower) -> CreditLine:
    return CreditLine.objects.get(borrower=borrower)


# --- borrower_register ------------------------------------------------------------------------


def test_register_creates_the_borrower_its_line_and_an_audit_row_without_clear_pii(service_user):
    borrower = borrower_register(actor=service_user, **register_kwargs())

    line = line_of(borrower)
    assert borrower.national_id_last4 == "8888"
    assert borrower.mobile_last4 == "5678"
    assert line.credit_limit == D("30000.00")
    assert line.daily_rate == D("0.000400")
    assert line.status == LineStatus.ACTIVE
    assert line.used == 0
    assert line.oldest_unpaid_due is None
    assert line.opened_at == at(2026, 1, 3)
    (event,) = audits("borrower.registered")
    assert event.actor == service_user
    assert event.borrower_id == borrower.pk
    assert event.after["credit_limit"] == "30000.00"
    assert event.after["national_id"] == "110101********8888"
    assert "110101199003078888" not in str(event.after)
    assert "13912345678" not in str(event.after)


def test_register_replayed_with_the_same_data_returns_the_borrower_and_writes_nothing():
    first = borrower_register(actor=None, **register_kwargs())
    again = borrower_register(actor=None, **register_kwargs(credit_limit="30000"))

    assert again.pk == first.pk
    assert Borrower.objects.count() == 1
    assert len(audits("borrower.registered")) == 1


def test_register_the_same_customer_number_with_different_data_is_a_conflict():
    borrower_register(actor=None, **register_kwargs())

    with pytest.raises(DuplicateKeyConflict) as exc:
        borrower_register(actor=None, **register_kwargs(credit_limit=D("50000"), city="Beijing"))
    assert "city" in exc.value.message
    assert "credit_limit" in exc.value.message
    assert exc.value.code == "duplicate_key_conflict"


@pytest.mark.parametrize("rate", [D("0"), D("-0.0001"), D("0.000987")])
def test_register_refuses_a_rate_outside_the_legal_range(rate):
    with pytest.raises(InvalidRate):
        borrower_register(actor=None, **register_kwargs(daily_rate=rate))
    assert not Borrower.objects.exists()


def test_register_refuses_a_negative_limit():
    with pytest.raises(InvalidAmount):
        borrower_register(actor=None, **register_kwargs(credit_limit=D("-1")))


def test_register_refuses_an_unknown_income_band():
    with pytest.raises(InvalidChoice):
        borrower_register(actor=None, **register_kwargs(income_band="millionaire"))


def test_register_refuses_a_field_that_does_not_fit():
    with pytest.raises(InvalidData) as exc:
        borrower_register(actor=None, **register_kwargs(mobile="1391234567890"))
    assert "mobile" in exc.value.message
    assert not Borrower.objects.exists()


def test_register_is_refused_to_a_borrower_login_and_a_deactivated_account(borrower_user, outsider):
    for actor in (borrower_user, outsider):
        with pytest.raises(NotAllowed):
            borrower_register(actor=actor, **register_kwargs())
    assert not Borrower.objects.filter(customer_no="C90000001").exists()


# --- identity_check_record --------------------------------------------------------------------


def test_identity_check_is_recorded_with_source_date_and_audit(analyst):
    borrower: Borrower = BorrowerFactory()

    borrower = identity_check_record(
        actor=analyst,
        borrower=borrower,
        result="mismatched",
        source="PBOC-ID",
        checked_at=at(2026, 1, 4),
    )

    borrower.refresh_from_db()
    assert borrower.identity_check == "mismatched"
    assert borrower.identity_check_source == "PBOC-ID"
    assert borrower.identity_checked_at == at(2026, 1, 4)
    (event,) = audits("borrower.identity_checked")
    assert event.before["identity_check"] == "not_checked"
    assert event.after["identity_check"] == "mismatched"
    assert event.borrower_id == borrower.pk


def test_identity_check_replayed_writes_no_second_audit_row():
    borrower = BorrowerFactory()
    for _ in range(2):
        identity_check_record(
            actor=None,
            borrower=borrower,
            result="matched",
            source="Telco",
            checked_at=at(2026, 1, 4),
        )
    assert len(audits("borrower.identity_checked")) == 1


def test_identity_check_refuses_an_unknown_result_and_a_borrower_login(borrower_user):
    borrower = BorrowerFactory()
    with pytest.raises(InvalidChoice):
        identity_check_record(actor=None, borrower=borrower, result="maybe", source="Telco")
    with pytest.raises(NotAllowed):
        identity_check_record(actor=borrower_user, borrower=borrower, result="matched", source="x")
    assert not audits("borrower.identity_checked")


# --- asset_declare ----------------------------------------------------------------------------


def test_asset_declared_verified_is_stamped_and_audited():
    borrower = BorrowerFactory()
    asset = asset_declare(
        actor=None,
        borrower=borrower,
        kind="deposit",
        amount=D("50000"),
        declared_at=at(2026, 1, 5),
        verified=True,
    )
    assert asset.verified_at == at(2026, 1, 5)
    assert asset.amount == D("50000.00")
    (event,) = audits("asset.declared")
    assert event.after == {"kind": "deposit", "amount": "50000.00", "verified": True}


def test_asset_declaration_replayed_returns_the_same_asset():
    borrower = BorrowerFactory()
    first = asset_declare(
        actor=None, borrower=borrower, kind="wealth", amount=D("8000"), declared_at=at(2026, 1, 5)
    )
    again = asset_declare(
        actor=None,
        borrower=borrower,
        kind="wealth",
        amount=D("8000.00"),
        declared_at=at(2026, 1, 5),
    )
    assert again.pk == first.pk
    assert DeclaredAsset.objects.count() == 1
    assert len(audits("asset.declared")) == 1


def test_asset_declaration_refuses_bad_amount_kind_and_borrower_login(borrower_user):
    borrower = BorrowerFactory()
    with pytest.raises(InvalidAmount):
        asset_declare(actor=None, borrower=borrower, kind="deposit", amount=D("0"))
    with pytest.raises(InvalidChoice):
        asset_declare(actor=None, borrower=borrower, kind="gold_bars", amount=D("1"))
    with pytest.raises(NotAllowed):
        asset_declare(actor=borrower_user, borrower=borrower, kind="deposit", amount=D("1"))
    assert not DeclaredAsset.objects.exists()


# --- bank_account_seen / device_seen ----------------------------------------------------------


def test_a_new_card_is_added_once_and_later_sightings_only_move_last_seen():
    borrower = BorrowerFactory()
    first = bank_account_seen(
        actor=None,
        borrower=borrower,
        card_no="6222021234567890123",
        bank_name="ICBC",
        seen_at=at(2026, 1, 5),
    )
    again = bank_account_seen(
        actor=None,
        borrower=borrower,
        card_no="6222021234567890123",
        bank_name="ICBC",
        seen_at=at(2026, 2, 5),
    )
    assert again.pk == first.pk
    again.refresh_from_db()
    assert again.first_seen_at == at(2026, 1, 5)
    assert again.last_seen_at == at(2026, 2, 5)
    (event,) = audits("bank_account.added")
    assert event.after["card_no"] == "622202*********0123"


def test_the_same_card_under_two_borrowers_is_two_accounts():
    a, b = BorrowerFactory(), BorrowerFactory()
    for borrower in (a, b):
        bank_account_seen(
            actor=None,
            borrower=borrower,
            card_no="6222020000000001",
            bank_name="ABC",
            seen_at=at(2026, 1, 5),
        )
    assert BankAccount.objects.filter(card_no="6222020000000001").count() == 2


def test_a_blank_card_and_a_borrower_login_are_refused(borrower_user):
    borrower = BorrowerFactory()
    with pytest.raises(InvalidData):
        bank_account_seen(
            actor=None, borrower=borrower, card_no="", bank_name="ABC", seen_at=at(2026, 1, 5)
        )
    with pytest.raises(NotAllowed):
        bank_account_seen(
            actor=borrower_user,
            borrower=borrower,
            card_no="6222020000000001",
            bank_name="ABC",
            seen_at=at(2026, 1, 5),
        )
    assert not BankAccount.objects.exists()


def test_a_new_device_is_added_once_and_later_sightings_only_move_last_seen(service_user):
    borrower = BorrowerFactory()
    for day in (5, 9, 7):
        device_seen(
            actor=service_user,
            borrower=borrower,
            device_id="IMEI-1",
            platform="android",
            seen_at=at(2026, 1, day),
        )
    device = Device.objects.get()
    assert device.first_seen_at == at(2026, 1, 5)
    assert device.last_seen_at == at(2026, 1, 9)
    assert len(audits("device.added")) == 1


def test_a_blank_device_and_a_borrower_login_are_refused(borrower_user):
    borrower = BorrowerFactory()
    with pytest.raises(InvalidData):
        device_seen(actor=None, borrower=borrower, device_id="", seen_at=at(2026, 1, 5))
    with pytest.raises(NotAllowed):
        device_seen(actor=borrower_user, borrower=borrower, device_id="X", seen_at=at(2026, 1, 5))
    assert not Device.objects.exists()


# --- drawdown_create --------------------------------------------------------------------------


def test_drawdown_builds_the_schedule_fixes_the_apr_and_uses_the_line(service_user):
    borrower = BorrowerFactory()

    loan = drawdown_create(
        actor=service_user,
        borrower=borrower,
        loan_no="L1",
        amount=D("10000"),
        term_months=12,
        repayment_mode="equal_instalment",
        purpose="travel",
        card_no="6222020000000001",
        bank_name="ICBC",
        device_id="IMEI-9",
        disbursed_at=at(2026, 1, 10),
    )

    instalments = list(loan.instalments.order_by("seq"))
    assert len(instalments) == 12
    assert instalments[0].due_date == date(2026, 2, 10)
    assert instalments[0].principal_due + instalments[0].interest_due == D("917.99")
    assert sum(i.principal_due for i in instalments) == D("10000.00")
    assert loan.apr == D("0.1825")
    assert loan.daily_rate == D("0.000500")  # the line's
    assert loan.principal_outstanding == D("10000.00")
    assert loan.bank_account.card_no == "6222020000000001"
    assert loan.device is not None
    assert loan.device.device_id == "IMEI-9"
    line = line_of(borrower)
    assert line.used == D("10000.00")
    assert line.available == D("10000.00")
    assert line.oldest_unpaid_due == date(2026, 2, 10)
    (event,) = audits("drawdown.created")
    assert event.borrower_id == borrower.pk
    assert event.before["line"]["used"] == "0.00"
    assert event.after["line"]["used"] == "10000.00"
    assert event.after["apr"] == "0.1825"
    assert event.after["card_no"] == "622202******0001"
    assert len(audits("bank_account.added")) == 1
    assert len(audits("device.added")) == 1


def test_drawdown_at_its_own_rate_and_mode_keeps_that_rate():
    loan = DrawdownFactory(
        daily_rate=D("0.0003"), repayment_mode="interest_first", amount=D("6000"), term_months=6
    )
    instalments = list(loan.instalments.order_by("seq"))
    assert loan.daily_rate == D("0.000300")
    assert loan.apr == D("0.1095")
    assert [i.principal_due for i in instalments] == [D("0.00")] * 5 + [D("6000.00")]


def test_drawdown_replayed_returns_the_same_loan_and_writes_nothing():
    borrower = BorrowerFactory()
    kwargs: dict[str, Any] = {
        "borrower": borrower,
        "loan_no": "L-REPLAY",
        "amount": D("5000"),
        "term_months": 6,
        "repayment_mode": "equal_principal",
        "purpose": "daily",
        "card_no": "6222020000000001",
        "bank_name": "ICBC",
        "disbursed_at": at(2026, 1, 10),
    }
    first = drawdown_create(actor=None, **kwargs)
    again = drawdown_create(actor=None, **kwargs)

    assert again.pk == first.pk
    assert Drawdown.objects.count() == 1
    assert Instalment.objects.count() == 6
    assert line_of(borrower).used == D("5000.00")
    assert len(audits("drawdown.created")) == 1


def test_drawdown_replayed_after_the_line_froze_still_answers_the_stored_loan():
    loan = DrawdownFactory(loan_no="L-FROZEN-LATER")
    line_freeze(actor=None, line=loan.line, reason="Fraud ring suspected")
    again = DrawdownFactory(
        borrower=loan.borrower,
        loan_no="L-FROZEN-LATER",
        card_no=loan.bank_account.card_no,
        disbursed_at=loan.disbursed_at,
    )
    assert again.pk == loan.pk


def test_drawdown_with_a_used_loan_number_and_other_data_is_a_conflict():
    loan = DrawdownFactory(loan_no="L-DUP")
    with pytest.raises(DuplicateKeyConflict) as exc:
        DrawdownFactory(
            borrower=loan.borrower,
            loan_no="L-DUP",
            amount=D("999"),
            card_no=loan.bank_account.card_no,
        )
    assert "amount" in exc.value.message
    assert Drawdown.objects.count() == 1


@pytest.mark.parametrize("amount", [D("0"), D("-5")])
def test_drawdown_refuses_an_amount_that_is_not_positive(amount):
    borrower = BorrowerFactory()
    with pytest.raises(InvalidAmount):
        DrawdownFactory(borrower=borrower, amount=amount)
    assert line_of(borrower).used == 0


@pytest.mark.parametrize("term", [0, 37])
def test_drawdown_refuses_a_term_outside_one_to_thirty_six_months(term):
    with pytest.raises(InvalidTerm):
        DrawdownFactory(term_months=term)


def test_drawdown_refuses_a_rate_above_the_cap_and_unknown_mode_or_purpose():
    borrower = BorrowerFactory()
    with pytest.raises(InvalidRate):
        DrawdownFactory(borrower=borrower, daily_rate=D("0.001"))
    with pytest.raises(InvalidChoice):
        DrawdownFactory(borrower=borrower, repayment_mode="balloon")
    with pytest.raises(InvalidChoice):
        DrawdownFactory(borrower=borrower, purpose="gambling")
    assert not Drawdown.objects.exists()


def test_drawdown_refuses_more_than_the_available_and_takes_exactly_the_available():
    borrower = BorrowerFactory(credit_limit=D("20000"))
    DrawdownFactory(borrower=borrower, amount=D("15000"))

    with pytest.raises(InsufficientAvailable) as exc:
        DrawdownFactory(borrower=borrower, amount=D("5000.01"))
    assert exc.value.extra["available"] == D("5000.00")

    DrawdownFactory(borrower=borrower, amount=D("5000.00"))
    line = line_of(borrower)
    assert line.used == line.credit_limit
    assert line.available == 0


def test_used_never_exceeds_the_limit_over_many_drawdowns():
    borrower = BorrowerFactory(credit_limit=D("10000"))
    for _ in range(12):
        with contextlib.suppress(InsufficientAvailable):
            DrawdownFactory(borrower=borrower, amount=D("1700"))
        line = line_of(borrower)
        assert line.used <= line.credit_limit
    assert line_of(borrower).used == D("8500.00")
    assert Drawdown.objects.filter(borrower=borrower).count() == 5


def test_a_frozen_line_refuses_a_drawdown():
    borrower = BorrowerFactory()
    line_freeze(actor=None, line=line_of(borrower), reason="Multi-lender borrowing")
    with pytest.raises(LineNotActive) as exc:
        DrawdownFactory(borrower=borrower)
    assert exc.value.code == "line_not_active"
    assert line_of(borrower).used == 0


def test_a_closed_line_refuses_a_drawdown():
    borrower = BorrowerFactory()
    CreditLine.objects.filter(borrower=borrower).update(status=LineStatus.CLOSED)
    with pytest.raises(LineNotActive):
        DrawdownFactory(borrower=borrower)


def test_drawdown_is_refused_to_a_borrower_login(borrower_user, borrower_record):
    with pytest.raises(NotAllowed):
        DrawdownFactory(borrower=borrower_record, actor=borrower_user)
    assert not Drawdown.objects.exists()


# --- repayment_record -------------------------------------------------------------------------


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


def test_a_late_payment_accrues_penalty_on_overdue_principal_and_pays_it_first():
    borrower, loan = borrower_with_drawdown()

    # Ten days late: penalty = 765.91 x 0.05% x 0.5 x 10 = 1.91.
    repayment = pay(loan, "R-LATE", "919.90", at(2026, 2, 20))

    first = loan.instalments.get(seq=1)
    assert first.fee_due == D("1.91")
    assert first.penalty_through == date(2026, 2, 20)
    assert first.paid_off_at == at(2026, 2, 20)
    (alloc,) = repayment.allocations.all()
    assert (alloc.fee, alloc.interest, alloc.principal) == (D("1.91"), D("152.08"), D("765.91"))
    assert audits("repayment.recorded")[0].after["penalty_accrued"] == "1.91"
    assert line_of(borrower).oldest_unpaid_due == date(2026, 3, 10)


def test_penalty_is_accrued_once_per_day_across_partial_payments():
    borrower, loan = borrower_with_drawdown()

    pay(loan, "R-P1", "100.00", at(2026, 2, 20))  # 10 days: 1.91, then 98.09 of interest
    pay(loan, "R-P2", "100.00", at(2026, 2, 25))  # 5 more days on 765.91: 0.96

    first = loan.instalments.get(seq=1)
    assert first.fee_due == D("1.91") + D("0.96")
    assert first.penalty_through == date(2026, 2, 25)
    assert first.fee_paid == first.fee_due
    assert first.interest_paid == D("152.08")
    assert first.principal_paid == D("200.00") - first.fee_due - D("152.08")
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


def test_paying_ahead_of_time_pays_the_next_instalments_in_order_without_settling():
    borrower, loan = borrower_with_drawdown()

    repayment = pay(loan, "R-AHEAD", "1500.00", at(2026, 1, 25))

    first, second = loan.instalments.get(seq=1), loan.instalments.get(seq=2)
    assert first.paid_off_at == at(2026, 1, 25)
    assert first.interest_due == D("152.08")  # the schedule stands
    assert second.interest_paid == second.interest_due
    assert second.principal_paid == D("1500.00") - D("917.99") - second.interest_due
    assert repayment.allocations.count() == 2
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.ACTIVE
    assert line_of(borrower).oldest_unpaid_due == date(2026, 3, 10)


def test_early_settlement_charges_interest_by_the_day_and_settles_the_loan():
    borrower, loan = borrower_with_drawdown()

    # 15 days after disbursement: 10,000 x 0.05% x 15 = 75.00 of interest, later periods waived.
    pay(loan, "R-SETTLE", "10075.00", at(2026, 1, 25))

    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert loan.settled_at == at(2026, 1, 25)
    assert loan.principal_outstanding == 0
    instalments = list(loan.instalments.order_by("seq"))
    assert instalments[0].interest_due == D("75.00")
    assert all(i.interest_due == 0 for i in instalments[1:])
    assert all(i.paid_off_at == at(2026, 1, 25) for i in instalments)
    line = line_of(borrower)
    assert line.used == 0
    assert line.oldest_unpaid_due is None
    assert RepaymentAllocation.objects.count() == 12


def test_early_settlement_after_an_instalment_counts_days_from_its_due_date():
    borrower, loan = borrower_with_drawdown()
    pay(loan, "R-1", "917.99", at(2026, 2, 10))

    # 10 days after the 10 Feb due date on 9,234.09: 46.17 of interest.
    pay(loan, "R-SETTLE", "9280.26", at(2026, 2, 20))

    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    assert loan.instalments.get(seq=2).interest_due == D("46.17")
    assert line_of(borrower).used == 0


def test_paying_more_than_the_payoff_is_refused_and_changes_nothing():
    borrower, loan = borrower_with_drawdown()

    with pytest.raises(Overpayment) as exc:
        pay(loan, "R-OVER", "10075.01", at(2026, 1, 25))

    assert exc.value.extra["payoff"] == D("10075.00")
    assert not Repayment.objects.exists()
    assert not audits("repayment.recorded")
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.ACTIVE
    assert loan.instalments.get(seq=1).interest_due == D("152.08")


def test_an_overpayment_of_a_late_loan_accrues_no_penalty():
    borrower, loan = borrower_with_drawdown(term_months=1, amount=D("1000"))
    with pytest.raises(Overpayment):
        pay(loan, "R-OVER", "5000.00", at(2026, 3, 20))
    assert loan.instalments.get().fee_due == 0


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


# --- transfer_out_record ----------------------------------------------------------------------


def transfer(borrower, **overrides):
    kwargs = {
        "borrower": borrower,
        "reference": "T1",
        "amount": D("4000"),
        "occurred_at": at(2026, 1, 10, 23, 30),
        "counterparty_name": "QuickCash Ltd",
        "counterparty_account": "9558800000000001",
        "counterparty_is_lender": True,
        "card_no": "6222020000000001",
    }
    kwargs.update(overrides)
    return transfer_out_record(actor=kwargs.pop("actor", None), **kwargs)


def test_a_transfer_out_is_recorded_with_its_card_and_audited():
    borrower = BorrowerFactory()
    out = transfer(borrower)
    assert out.amount == D("4000.00")
    assert out.counterparty_is_lender
    assert out.bank_account.card_no == "6222020000000001"
    (event,) = audits("transfer_out.recorded")
    assert event.borrower_id == borrower.pk
    assert event.after["counterparty_is_lender"] is True


def test_a_transfer_out_replayed_is_recorded_once():
    borrower = BorrowerFactory()
    assert transfer(borrower).pk == transfer(borrower, amount="4000.00").pk
    assert TransferOut.objects.count() == 1
    assert len(audits("transfer_out.recorded")) == 1


def test_a_transfer_reference_with_other_data_is_a_conflict():
    borrower = BorrowerFactory()
    transfer(borrower)
    with pytest.raises(DuplicateKeyConflict):
        transfer(borrower, counterparty_is_lender=False)


def test_a_transfer_out_refuses_a_bad_amount_a_blank_counterparty_and_a_borrower_login(
    borrower_user,
):
    borrower = BorrowerFactory()
    with pytest.raises(InvalidAmount):
        transfer(borrower, amount=D("0"))
    with pytest.raises(InvalidData):
        transfer(borrower, counterparty_name="")
    with pytest.raises(NotAllowed):
        transfer(borrower, actor=borrower_user)
    assert not TransferOut.objects.exists()


# --- line_freeze / line_unfreeze --------------------------------------------------------------


def test_staff_freeze_and_unfreeze_a_line_with_audit_rows(analyst, manager):
    borrower = BorrowerFactory()

    line = line_freeze(actor=analyst, line=line_of(borrower), reason="Device shared in a ring")
    assert line.status == LineStatus.FROZEN
    assert line.available == 0
    line = line_unfreeze(actor=manager, line=line, reason="Ring cleared by investigation")
    assert line.status == LineStatus.ACTIVE
    assert line.status_reason == "Ring cleared by investigation"

    frozen, unfrozen = audits("line.frozen")[0], audits("line.unfrozen")[0]
    assert frozen.actor == analyst
    assert frozen.before["status"] == "active"
    assert frozen.after["status"] == "frozen"
    assert frozen.note == "Device shared in a ring"
    assert unfrozen.before["status"] == "frozen"
    assert unfrozen.borrower_id == borrower.pk


def test_the_system_may_freeze_a_line():
    borrower = BorrowerFactory()
    assert line_freeze(actor=None, line=line_of(borrower), reason="Rule hit").status == "frozen"
    assert audits("line.frozen")[0].actor is None


def test_freezing_a_frozen_line_is_refused_and_writes_no_second_audit_row():
    borrower = BorrowerFactory()
    line_freeze(actor=None, line=line_of(borrower), reason="First")
    with pytest.raises(AlreadyFrozen):
        line_freeze(actor=None, line=line_of(borrower), reason="Second")
    assert len(audits("line.frozen")) == 1


def test_unfreezing_an_active_line_is_refused():
    borrower = BorrowerFactory()
    with pytest.raises(NotFrozen):
        line_unfreeze(actor=None, line=line_of(borrower), reason="Nothing to lift")


def test_a_closed_line_can_be_neither_frozen_nor_unfrozen():
    borrower = BorrowerFactory()
    CreditLine.objects.filter(borrower=borrower).update(status=LineStatus.CLOSED)
    with pytest.raises(LineClosed):
        line_freeze(actor=None, line=line_of(borrower), reason="Too late")
    with pytest.raises(LineClosed):
        line_unfreeze(actor=None, line=line_of(borrower), reason="Too late")


def test_a_freeze_needs_a_reason():
    borrower = BorrowerFactory()
    with pytest.raises(ReasonRequired):
        line_freeze(actor=None, line=line_of(borrower), reason="   ")


def test_only_staff_may_freeze_or_unfreeze(borrower_user, service_user, outsider):
    borrower = BorrowerFactory()
    for actor in (borrower_user, service_user, outsider):
        with pytest.raises(NotAllowed):
            line_freeze(actor=actor, line=line_of(borrower), reason="Not mine to decide")
    line_freeze(actor=None, line=line_of(borrower), reason="System rule")
    with pytest.raises(NotAllowed):
        line_unfreeze(actor=service_user, line=line_of(borrower), reason="Not mine to decide")
    assert line_of(borrower).status == LineStatus.FROZEN
    assert len(audits("line.frozen")) == 1


# --- line_refresh_arrears ---------------------------------------------------------------------


def test_refresh_arrears_repairs_derived_fields_from_the_schedule():
    borrower, loan = borrower_with_drawdown()
    CreditLine.objects.filter(borrower=borrower).update(oldest_unpaid_due=None, used=D("1"))

    line_refresh_arrears(line=line_of(borrower))

    line = line_of(borrower)
    assert line.oldest_unpaid_due == date(2026, 2, 10)
    assert line.used == D("10000.00")


# --- book_snapshot_take -----------------------------------------------------------------------


def make_book():
    """Four lines on 15 Mar 2026: current, 33 days late (M2), no loan, and closed."""
    late = BorrowerFactory(credit_limit=D("20000"))
    DrawdownFactory(borrower=late, amount=D("10000"), disbursed_at=at(2026, 1, 10))
    current = BorrowerFactory(credit_limit=D("30000"))
    DrawdownFactory(borrower=current, amount=D("5000"), disbursed_at=at(2026, 3, 1))
    BorrowerFactory(credit_limit=D("8000"))
    closed = BorrowerFactory(credit_limit=D("4000"))
    CreditLine.objects.filter(borrower=closed).update(status=LineStatus.CLOSED)
    # Registered after the day: not in it.
    BorrowerFactory(registered_at=at(2026, 3, 16, 9))


def test_the_book_snapshot_sums_the_lines_and_buckets_the_balance(django_assert_max_num_queries):
    make_book()

    # Two aggregates, the upsert and the audit row (plus savepoints), whatever the book's size.
    with django_assert_max_num_queries(12):
        snapshot = book_snapshot_take(day=date(2026, 3, 15))

    assert snapshot.borrowers == 4
    assert snapshot.open_lines == 3
    assert snapshot.total_limit == D("58000.00")
    assert snapshot.outstanding == D("15000.00")
    assert snapshot.balance_by_bucket["M2"] == "10000.00"
    assert snapshot.balance_by_bucket["M0"] == "5000.00"
    assert sum(D(v) for v in snapshot.balance_by_bucket.values()) == snapshot.outstanding
    assert set(snapshot.balance_by_bucket) == {name for name, _, _ in money.BUCKETS}


def test_the_book_snapshot_follows_the_day_it_is_taken_for():
    make_book()
    on_due_date = book_snapshot_take(day=date(2026, 2, 10))
    assert on_due_date.balance_by_bucket["M0"] == "15000.00"  # due today is not late
    next_day = book_snapshot_take(day=date(2026, 2, 11))
    assert next_day.balance_by_bucket["M1"] == "10000.00"


def test_the_book_snapshot_taken_twice_keeps_one_row_per_day():
    make_book()
    first = book_snapshot_take(day=date(2026, 3, 15))
    borrower = BorrowerFactory(registered_at=at(2026, 3, 15, 12))
    second = book_snapshot_take(day=date(2026, 3, 15))
    assert second.pk == first.pk
    assert BookSnapshot.objects.count() == 1
    assert second.borrowers == first.borrowers + 1
    assert borrower.pk


def test_the_book_snapshot_of_an_empty_book_is_zeros():
    snapshot = book_snapshot_take(day=date(2026, 3, 15))
    assert snapshot.borrowers == 0
    assert snapshot.outstanding == 0
    assert snapshot.balance_by_bucket["M0"] == "0.00"


# --- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drawdowns_at_once_beyond_the_limit_only_one_succeeds():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serializes whole transactions")
    borrower = BorrowerFactory(credit_limit=D("20000"))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def draw(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            DrawdownFactory(borrower=borrower, loan_no=f"L-RACE-{n}", amount=D("15000"))
            outcomes.append("ok")
        except InsufficientAvailable:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=draw, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert sorted(outcomes) == ["ok", "refused"]
    line = line_of(borrower)
    assert line.used == D("15000.00")
    assert Drawdown.objects.filter(borrower=borrower).count() == 1


def test_time_in_tests_is_shanghai_time():
    with time_machine.travel(at(2026, 3, 1, 0, 30), tick=False):
        from django.utils import timezone

        assert timezone.localdate() == date(2026, 3, 1)
        assert timezone.localdate() - timedelta(days=1) == date(2026, 2, 28)


def test_a_blank_card_or_device_from_a_client_means_none_and_replays_cleanly():
    borrower = BorrowerFactory()
    loan = DrawdownFactory(borrower=borrower, loan_no="L-BLANK", device_id="")
    assert loan.device is None
    again = DrawdownFactory(
        borrower=borrower,
        loan_no="L-BLANK",
        device_id=None,
        card_no=loan.bank_account.card_no,
        disbursed_at=loan.disbursed_at,
    )
    assert again.pk == loan.pk
    first = pay(loan, "R-BLANK", "100", at(2026, 2, 10), card_no="")
    assert first.bank_account is None
    assert pay(loan, "R-BLANK", "100", at(2026, 2, 10)).pk == first.pk
