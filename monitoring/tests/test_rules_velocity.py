"""Velocity of small drawdowns, through the event API's service: edges, point in time,
late events, replays."""

from __future__ import annotations

import pytest

from monitoring.choices import RuleKind
from monitoring.services import rules_ensure_defaults
from monitoring.tests.rules_helpers import alerts, drawdown, feb, post

pytestmark = pytest.mark.django_db
KIND = RuleKind.SMALL_DRAWDOWN_VELOCITY  # defaults: 4 or more of at most 1,000.00 within 24 h


@pytest.fixture(autouse=True)
def _rules(borrower_record):
    rules_ensure_defaults()


def test_four_drawdowns_of_exactly_the_ceiling_within_exactly_the_window_raise_one_alert():
    events = [
        drawdown(feb(2, 10), "1000.00"),
        drawdown(feb(2, 16), "1000.00"),
        drawdown(feb(2, 22), "1000.00"),
        drawdown(feb(3, 10), "1000.00"),  # exactly 24 hours after the first
    ]
    answers = post(*events)

    (alert,) = alerts(KIND)
    assert alert.evidence["loan_nos"] == [e["loan_no"] for e in events]
    assert alert.evidence["count"] == 4
    assert alert.event is not None
    assert alert.event.event_id == events[-1]["event_id"]
    assert alert.severity == 2
    assert answers[-1]["alerts"] == [alert.pk]
    assert "alerts" not in answers[0]


def test_three_drawdowns_raise_nothing():
    post(drawdown(feb(2, 10)), drawdown(feb(2, 11)), drawdown(feb(2, 12)))

    assert alerts(KIND) == []


def test_one_fen_over_the_ceiling_does_not_count():
    post(
        drawdown(feb(2, 10)),
        drawdown(feb(2, 11)),
        drawdown(feb(2, 12)),
        drawdown(feb(2, 13), "1000.01"),
    )

    assert alerts(KIND) == []


def test_a_second_past_the_window_does_not_count():
    post(
        drawdown(feb(2, 10)),
        drawdown(feb(2, 16)),
        drawdown(feb(2, 22)),
        drawdown(feb(3, 10, 0, 1)),  # 24 h and one second after the first
    )

    assert alerts(KIND) == []


def test_a_back_filled_drawdown_is_judged_on_what_had_happened_by_its_own_time():
    later = [drawdown(feb(5, 10)), drawdown(feb(5, 11)), drawdown(feb(5, 12))]
    post(*later)
    # Posted last, dated first: at 09:00 the three later ones had not happened yet, so it
    # fires nothing itself; at 12:00, live, there would have been four (09 to 12).
    back_filled = drawdown(feb(5, 9))
    post(back_filled)

    (alert,) = alerts(KIND)
    assert alert.evidence["loan_no"] == later[-1]["loan_no"]
    assert alert.evidence["loan_nos"][0] == back_filled["loan_no"]


def test_a_back_filled_drawdown_alone_in_its_window_fires_nothing():
    post(drawdown(feb(6, 10)), drawdown(feb(6, 11)), drawdown(feb(6, 12)))
    post(drawdown(feb(5, 9)))  # more than 24 hours before the 12:00 one

    assert alerts(KIND) == []


def test_a_late_drawdown_completes_the_run_of_a_later_one_which_is_judged_again():
    first = [drawdown(feb(5, 10)), drawdown(feb(5, 11)), drawdown(feb(5, 13))]
    post(*first)
    late = drawdown(feb(5, 12))
    post(late)

    # At 12:00 there were three (10, 11, 12); at 13:00, with the late one, four.
    (alert,) = alerts(KIND)
    assert alert.evidence["loan_no"] == first[-1]["loan_no"]
    assert alert.evidence["count"] == 4


def test_a_replayed_batch_raises_nothing_twice():
    events = [drawdown(feb(2, h)) for h in (10, 11, 12, 13, 14)]
    post(*events)
    assert len(alerts(KIND)) == 2

    answers = post(*events)

    assert len(alerts(KIND)) == 2
    assert {a["status"] for a in answers} == {"replayed"}


def test_a_burst_raises_one_alert_per_drawdown_that_ends_a_run():
    post(*[drawdown(feb(2, 10, m)) for m in range(6)])

    assert [a.evidence["count"] for a in alerts(KIND)] == [4, 5, 6]
