"""Borrowing here to repay elsewhere, fund-flow paths between borrowers, repayments from
another's account, blocked cards and identity rules: firing and non-firing edges."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from lending.services import identity_check_record
from monitoring.choices import ListKind, RuleKind
from monitoring.models import ManagedList
from monitoring.services import list_version_activate, list_version_draft, rules_ensure_defaults
from monitoring.tests.factories import (
    BankAccountChangeEventFactory,
    LineOpenedEventFactory,
    RepaymentEventFactory,
    TransferOutEventFactory,
)
from monitoring.tests.rules_helpers import LIST_CHANGED, alerts, drawdown, feb, post, set_params

pytestmark = pytest.mark.django_db
B2R = RuleKind.BORROW_TO_REPAY  # to a lender within 24 h of a drawdown; 3 in 90 days: critical
FLOW = RuleKind.FUND_FLOW_PATH
FOREIGN = RuleKind.FOREIGN_REPAYMENT_ACCOUNT
A_CARD = "6222020000001234"  # the factories' payout card
B_CARD = "6222020000007777"
C_CARD = "6222020000008888"


@pytest.fixture(autouse=True)
def _rules(borrower_record):
    rules_ensure_defaults()


def _list(kind: str, *entries: str) -> None:
    """The list changed on 1 February, before the events (a rule reads the version in force
    at the event's own time)."""
    with time_machine.travel(LIST_CHANGED, tick=False):
        version = list_version_draft(
            actor=None, managed_list=ManagedList.objects.get(kind=kind), entries=list(entries)
        )
        list_version_activate(actor=None, version=version)


def _transfer(at: str, **extra: object) -> dict:
    return TransferOutEventFactory(occurred_at=at, **extra)


# --- 以贷养贷 ------------------------------------------------------------------------------------


def test_a_transfer_to_a_lender_exactly_a_window_after_a_drawdown_fires():
    loan = drawdown(feb(2, 10), "6000.00")
    transfer = _transfer(feb(3, 10), amount="5800.00")
    post(loan, transfer)

    (alert,) = alerts(B2R)
    assert alert.evidence["transfer"] == transfer["event_id"]
    assert alert.evidence["loan_nos"] == [loan["loan_no"]]
    assert alert.severity == 3
    assert alert.category == "credit"


def test_a_second_later_or_to_a_non_lender_or_a_fen_too_small_does_not_fire():
    post(
        drawdown(feb(2, 10), "6000.00"),
        _transfer(feb(3, 10, 0, 1)),
        _transfer(feb(2, 11), counterparty_is_lender=False, counterparty_name="张三"),
        _transfer(feb(2, 12), amount="99.99"),
    )

    assert alerts(B2R) == []


def test_a_counterparty_on_the_known_lenders_list_is_a_lender():
    _list(ListKind.KNOWN_LENDERS, "某某小贷")

    post(drawdown(feb(2, 10)), _transfer(feb(2, 12), amount="400.00", counterparty_is_lender=False))

    assert len(alerts(B2R)) == 1


def test_the_third_episode_within_ninety_days_is_critical():
    post(drawdown(feb(2, 10)), _transfer(feb(2, 12), amount="400.00"))
    post(drawdown(feb(9, 10)), _transfer(feb(9, 12), amount="400.00"))
    post(drawdown(feb(16, 10)), _transfer(feb(16, 12), amount="400.00"))

    assert [a.severity for a in alerts(B2R)] == [3, 3, 4]
    assert [a.evidence["episodes"] for a in alerts(B2R)] == [1, 2, 3]
    assert alerts(B2R)[-1].evidence["repeated"] is True


# --- fund-flow paths -----------------------------------------------------------------------------


def _borrower(customer_no: str, card: str) -> str:
    """Another borrower with a line and a loan paid out to `card` on 1 February."""
    post(
        LineOpenedEventFactory(
            customer_no=customer_no, national_id=f"3101011990{customer_no[-7:]}1"
        )
    )
    loan = drawdown(feb(1, 9), "3000.00", customer_no=customer_no, card_no=card)
    post(loan)
    return loan["loan_no"]


def test_a_drawdown_transferred_to_another_borrower_who_repays_within_a_day_flags_both():
    b_loan = _borrower("C80000001", B_CARD)
    a_loan = drawdown(feb(10, 10), "4000.00")
    post(a_loan, _transfer(feb(10, 11), counterparty_is_lender=False, counterparty_account=B_CARD))

    post(
        RepaymentEventFactory(
            customer_no="C80000001",
            loan_no=b_loan,
            amount="500.00",
            occurred_at=feb(11, 10),
            card_no=B_CARD,
        )
    )

    found = alerts(FLOW)
    assert {a.borrower.customer_no for a in found} == {"C00000001", "C80000001"}
    assert found[0].evidence["origin_loan_no"] == a_loan["loan_no"]
    assert found[0].evidence["path"][0]["to"] == "C80000001"
    assert alerts(FOREIGN) == []  # B repaid from their own payout card


def test_a_repayment_a_second_past_the_window_is_no_path():
    b_loan = _borrower("C80000001", B_CARD)
    post(
        drawdown(feb(10, 10), "4000.00"),
        _transfer(feb(10, 11), counterparty_is_lender=False, counterparty_account=B_CARD),
    )

    post(
        RepaymentEventFactory(
            customer_no="C80000001",
            loan_no=b_loan,
            amount="500.00",
            occurred_at=feb(11, 10, 0, 1),
            card_no=B_CARD,
        )
    )

    assert alerts(FLOW) == []


def test_a_path_over_two_transfers_is_found():
    b_loan = _borrower("C80000001", B_CARD)
    _borrower("C80000002", C_CARD)
    post(
        drawdown(feb(10, 10), "4000.00"),
        _transfer(feb(10, 11), counterparty_is_lender=False, counterparty_account=C_CARD),
    )
    post(
        _transfer(
            feb(10, 12),
            customer_no="C80000002",
            counterparty_is_lender=False,
            counterparty_account=B_CARD,
        )
    )

    post(
        RepaymentEventFactory(
            customer_no="C80000001",
            loan_no=b_loan,
            amount="500.00",
            occurred_at=feb(10, 20),
            card_no=B_CARD,
        )
    )

    found = [a for a in alerts(FLOW) if a.borrower.customer_no == "C80000001"]
    assert len(found) == 1
    assert found[0].evidence["hops"] == 2
    assert [hop["from"] for hop in found[0].evidence["path"]] == ["C00000001", "C80000002"]


# --- repayment from an account not the borrower's own ---------------------------------------------


def _repay(at: str, card: str | None) -> dict:
    loan = drawdown(feb(2, 10), "3000.00")
    post(loan)
    event = RepaymentEventFactory(loan_no=loan["loan_no"], amount="300.00", occurred_at=at)
    if card:
        event["card_no"] = card
    post(event)
    return event


def test_a_repayment_from_an_unknown_card_fires_and_from_the_payout_card_does_not():
    _repay(feb(3, 10), "6222020000009999")
    _repay(feb(3, 11), A_CARD)
    _repay(feb(3, 12), None)

    (alert,) = alerts(FOREIGN)
    assert alert.evidence["card_last4"] == "9999"
    assert alert.evidence["own_card"] is False


def test_a_card_bound_before_the_repayment_is_own_and_after_it_is_not():
    post(BankAccountChangeEventFactory(card_no="6222020000005555", occurred_at=feb(3, 10)))
    _repay(feb(3, 10), "6222020000005555")  # bound at that very time: own
    assert alerts(FOREIGN) == []

    post(BankAccountChangeEventFactory(card_no="6222020000006666", occurred_at=feb(4, 10, 0, 1)))
    _repay(feb(4, 10), "6222020000006666")  # bound a second after the repayment
    assert len(alerts(FOREIGN)) == 1


def test_another_borrowers_card_is_named_and_counts_even_when_only_those_are_judged():
    set_params(FOREIGN, other_borrowers_only=True)
    _borrower("C80000001", B_CARD)
    _repay(feb(3, 9), "6222020000009999")  # unknown, but nobody else's: not judged
    _repay(feb(3, 10), B_CARD)

    (alert,) = alerts(FOREIGN)
    assert alert.evidence["also_used_by"] == ["C80000001"]


# --- blocked cards and identity ------------------------------------------------------------------


def test_a_drawdown_to_a_blocked_card_is_critical_and_others_pass():
    _list(ListKind.BLOCKED_CARDS, A_CARD)

    post(drawdown(feb(2, 10)), drawdown(feb(2, 11), card_no=B_CARD))

    (alert,) = alerts(RuleKind.BLOCKED_CARD)
    assert alert.severity == 4
    assert alert.evidence["card_last4"] == "1234"


def test_a_mismatched_identity_check_fires_on_drawdowns_after_it_only(borrower_record):
    identity_check_record(
        actor=None,
        borrower=borrower_record,
        result="mismatched",
        source="PBOC-ID",
        checked_at=datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("Asia/Shanghai")),
    )
    post(drawdown(feb(1, 8, 59)))
    assert alerts(RuleKind.IDENTITY_MISMATCH) == []

    post(drawdown(feb(1, 9)), drawdown(feb(2, 9)))

    (alert,) = alerts(RuleKind.IDENTITY_MISMATCH)  # one per check
    assert alert.evidence["checked_at"].startswith("2026-02-01T01:00")


def test_a_second_borrower_with_the_same_national_id_is_flagged():
    post(LineOpenedEventFactory(customer_no="C80000001", national_id="31010119900101001X"))
    post(LineOpenedEventFactory(customer_no="C80000002", national_id="31010119900101002X"))
    assert alerts(RuleKind.SHARED_IDENTITY) == []

    post(LineOpenedEventFactory(customer_no="C80000003", national_id="31010119900101001X"))

    (alert,) = alerts(RuleKind.SHARED_IDENTITY)
    assert alert.borrower.customer_no == "C80000003"
    assert alert.event is not None
    assert alert.evidence == {
        "event_id": alert.event.event_id,
        "shared_with": ["C80000001"],
        "fields": ["national_id"],
    }
