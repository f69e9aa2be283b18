"""The lending services: happy paths, each refusal, permission denials, replays, the money.

repayment_record has its own module, test_repayments.py."""

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
from lending.choices import LineStatus
from lending.errors import (
    AlreadyFrozen,
    DuplicateKeyConflict,
    InsufficientAvailable,
    InvalidAmount,
    InvalidChoice,
    InvalidData,
    InvalidRate,
    InvalidTerm,
    LineClosed,
    LineNotActive,
    NotAllowed,
    NotFrozen,
    ReasonRequired,
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

    # Three aggregates (what is owed beyond principal too), the upsert, and the audit row with
    # its hash chain (the chain's lock and the previous row's hash), plus savepoints: a fixed
    # number whatever the book's size.
    with django_assert_max_num_queries(16):
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
