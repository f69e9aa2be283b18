"""Rules that read the limit judge an event with the limit in force at the event's own time:
a drawdown back-filled after the policy moved the limit meets the limit it met then."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from lending.services import line_limit_set
from monitoring.choices import RuleKind
from monitoring.services import rules_ensure_defaults
from monitoring.tests.rules_helpers import alerts, drawdown, feb, post

pytestmark = pytest.mark.django_db
OFF_HOURS = RuleKind.OFF_HOURS_WITHDRAWAL  # >= 5,000.00 or >= 80% of the limit, outside 07-23
JUMP = RuleKind.UTILISATION_JUMP  # +50 points within 72 h, to 80% or more


@pytest.fixture(autouse=True)
def _rules(borrower_record):  # a ¥20,000 line opened in January, nothing drawn
    rules_ensure_defaults()


def _limit(borrower, amount: str, manager) -> None:
    """The limit moves now (15 March), after the February events below happened."""
    line_limit_set(
        actor=manager, line=borrower.line, new_limit=Decimal(amount), reason_code="manual"
    )


def test_a_back_filled_jump_is_judged_against_the_limit_before_a_later_raise(
    borrower_record, manager
):
    _limit(borrower_record, "40000.00", manager)  # 16,000 is 40% of this: would not fire

    post(drawdown(feb(2, 10), "6000.00"), drawdown(feb(4, 10), "10000.00"))

    (alert,) = alerts(JUMP)
    assert alert.evidence["credit_limit"] == "20000.00"
    assert alert.evidence["utilisation_pct"] == "80.0"


def test_a_back_filled_night_drawdown_is_not_a_large_share_of_a_limit_cut_later(
    borrower_record, manager
):
    _limit(borrower_record, "4000.00", manager)  # 3,500 is 87.5% of this: would fire

    post(drawdown(feb(2, 6, 30), "3500.00"))

    assert alerts(OFF_HOURS) == []


def test_a_night_drawdown_after_a_cut_is_judged_against_the_cut_limit(borrower_record, manager):
    with time_machine.travel(feb(1, 12), tick=False):
        _limit(borrower_record, "4000.00", manager)

    post(drawdown(feb(2, 6, 30), "3500.00"))

    (alert,) = alerts(OFF_HOURS)
    assert alert.evidence["credit_limit"] == "4000.00"
    assert alert.evidence["share_of_limit_pct"] == "87.5"
