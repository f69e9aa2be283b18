"""Off-hours withdrawals, utilisation jumps and a new device then a maximum drawdown: each
rule's firing and non-firing edge, through the event ingestion service."""

from __future__ import annotations

import pytest
import time_machine

from monitoring.choices import ListKind, RuleKind
from monitoring.models import ManagedList
from monitoring.services import list_version_activate, list_version_draft, rules_ensure_defaults
from monitoring.tests.factories import DeviceChangeEventFactory, LoginEventFactory
from monitoring.tests.rules_helpers import LIST_CHANGED, alerts, drawdown, feb, post

pytestmark = pytest.mark.django_db
OFF_HOURS = RuleKind.OFF_HOURS_WITHDRAWAL  # >= 5,000.00 or >= 80% of the limit, outside 07-23
JUMP = RuleKind.UTILISATION_JUMP  # +50 points within 72 h, to 80% or more
NEW_DEVICE = RuleKind.NEW_DEVICE_MAX_DRAWDOWN  # device new within 24 h, >= 90% of available


@pytest.fixture(autouse=True)
def _rules(borrower_record):  # a ¥20,000 line, nothing drawn, employer "Acme"
    rules_ensure_defaults()


def _list(kind: str, *entries: str) -> None:
    """The list changed on 1 February, before the events (a rule reads the version in force
    at the event's own time)."""
    with time_machine.travel(LIST_CHANGED, tick=False):
        version = list_version_draft(
            actor=None, managed_list=ManagedList.objects.get(kind=kind), entries=list(entries)
        )
        list_version_activate(actor=None, version=version)


# --- off-hours ---------------------------------------------------------------------------------


def test_the_threshold_amount_at_the_first_minute_off_hours_fires():
    event = drawdown(feb(2, 23), "5000.00")
    post(event)

    (alert,) = alerts(OFF_HOURS)
    assert alert.evidence["local_time"] == "23:00"
    assert alert.evidence["loan_no"] == event["loan_no"]


def test_the_last_minute_of_working_hours_does_not_fire():
    post(drawdown(feb(2, 22, 59, 59), "5000.00"))

    assert alerts(OFF_HOURS) == []


def test_a_fen_under_the_amount_does_not_fire():
    post(drawdown(feb(2, 23), "4999.99"))

    assert alerts(OFF_HOURS) == []


def test_a_share_of_the_limit_fires_before_opening_and_not_at_opening():
    post(drawdown(feb(2, 6, 59), "16000.00", repayment_mode="equal_principal"))
    assert len(alerts(OFF_HOURS)) == 1  # 80% of ¥20,000 at 06:59

    post(drawdown(feb(9, 7), "3000.00"))
    assert len(alerts(OFF_HOURS)) == 1  # 07:00 is working hours


def test_a_trusted_employer_is_not_judged_off_hours():
    _list(ListKind.TRUSTED_EMPLOYERS, "  ACME ")

    post(drawdown(feb(2, 23, 30), "9000.00"))

    assert alerts(OFF_HOURS) == []


# --- utilisation jump --------------------------------------------------------------------------


def test_a_jump_to_exactly_eighty_percent_fires():
    post(drawdown(feb(2, 10), "6000.00"), drawdown(feb(4, 10), "10000.00"))

    (alert,) = alerts(JUMP)
    assert alert.evidence["used_before"] == "0.00"
    assert alert.evidence["utilisation_pct"] == "80.0"


def test_a_jump_ending_a_fen_under_eighty_percent_does_not_fire():
    post(drawdown(feb(2, 10), "6000.00"), drawdown(feb(4, 10), "9999.99"))

    assert alerts(JUMP) == []


def test_a_climb_slower_than_the_window_does_not_fire():
    # 30% drawn more than 72 hours before: the rise within the window is 50 points, to 80%.
    post(drawdown(feb(1, 9, 59), "6000.00"), drawdown(feb(4, 10), "10000.00"))
    assert len(alerts(JUMP)) == 1
    post(drawdown(feb(10, 9, 59), "1000.00"), drawdown(feb(13, 10), "1.00"))
    assert len(alerts(JUMP)) == 1


# --- new device, then a maximum drawdown -------------------------------------------------------


def _devices(new_at: str) -> None:
    post(
        LoginEventFactory(device_id="dev-old", occurred_at=feb(1, 9)),
        DeviceChangeEventFactory(device_id="dev-new", occurred_at=new_at),
    )


def test_ninety_percent_of_available_from_a_device_a_day_old_fires():
    _devices(feb(2, 10))

    post(drawdown(feb(3, 10), "18000.00", device_id="dev-new"))

    (alert,) = alerts(NEW_DEVICE)
    assert alert.evidence["device_id"] == "dev-new"
    assert alert.evidence["available_before"] == "20000.00"


def test_a_fen_under_ninety_percent_does_not_fire():
    _devices(feb(2, 10))

    post(drawdown(feb(3, 10), "17999.99", device_id="dev-new"))

    assert alerts(NEW_DEVICE) == []


def test_a_device_older_than_the_window_is_not_new():
    _devices(feb(2, 10))

    post(drawdown(feb(3, 10, 0, 1), "18000.00", device_id="dev-new"))

    assert alerts(NEW_DEVICE) == []


def test_the_first_device_a_borrower_ever_uses_is_not_a_change_of_device():
    post(drawdown(feb(3, 10), "18000.00", device_id="dev-first"))

    assert alerts(NEW_DEVICE) == []


def test_a_trusted_device_is_not_new():
    _list(ListKind.TRUSTED_DEVICES, "dev-new")
    _devices(feb(2, 10))

    post(drawdown(feb(3, 10), "18000.00", device_id="dev-new"))

    assert alerts(NEW_DEVICE) == []


def test_without_a_device_on_the_drawdown_a_device_new_that_day_counts():
    _devices(feb(3, 9))

    event = drawdown(feb(3, 10), "18000.00")
    del event["device_id"]
    post(event)

    assert len(alerts(NEW_DEVICE)) == 1
