from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from accounts.models import AuditEvent
from demo import feed as demo_feed
from demo.tasks import demo_event_feed_task
from lending.models import Repayment
from monitoring.models import Event
from monitoring.services import event_ingest
from monitoring.tests.factories import DrawdownEventFactory, LoginEventFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Two days after the default drawdown's first due date (1 March).
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def due_loan(borrower_record, service_user) -> str:
    event = DrawdownEventFactory()
    event_ingest(actor=service_user, events=[event])
    return event["loan_no"]


def test_the_feed_posts_nothing_when_it_is_off(due_loan, settings):
    settings.RISKOPS_DEMO_FEED = False
    before = Event.objects.count()

    assert demo_event_feed_task.apply().get() == 0

    assert Event.objects.count() == before


def test_the_feed_repays_an_instalment_that_just_fell_due(due_loan, settings):
    settings.RISKOPS_DEMO_FEED = True

    with time_machine.travel(NOW, tick=False):
        recorded = demo_event_feed_task.apply().get()

    assert recorded >= 1
    repayment = Repayment.objects.get(drawdown__loan_no=due_loan)
    assert repayment.reference.startswith("demo-202603031000-repay")
    assert repayment.allocations.get().instalment.seq == 1
    event = Event.objects.get(event_id=repayment.reference)
    assert event.posted_by is None
    # The audit rows name the task that wrote them.
    row = AuditEvent.objects.get(action="repayment.recorded")
    assert row.source == "task"
    assert row.actor is None


def test_the_feed_builds_the_same_events_for_the_same_minute(due_loan):
    with time_machine.travel(NOW, tick=False):
        first = demo_feed.demo_events_build(now=NOW, seed=1)
        second = demo_feed.demo_events_build(now=NOW, seed=1)

    assert first == second
    assert first[0]["kind"] == "repayment"


def test_a_redelivered_feed_run_records_nothing_twice(due_loan, settings):
    settings.RISKOPS_DEMO_FEED = True
    with time_machine.travel(NOW, tick=False):
        demo_event_feed_task.apply().get()
        count = Event.objects.count()
        demo_event_feed_task.apply().get()

    assert Event.objects.count() == count
    assert Repayment.objects.filter(drawdown__loan_no=due_loan).count() == 1


def test_a_refused_event_is_logged_and_the_others_still_go_in(
    borrower_record, settings, monkeypatch, caplog
):
    settings.RISKOPS_DEMO_FEED = True
    refused = LoginEventFactory(customer_no="C-NOBODY")
    accepted = LoginEventFactory()
    monkeypatch.setattr(demo_feed, "demo_events_build", lambda **_: [refused, accepted])

    with caplog.at_level(logging.INFO, logger="demo.tasks"):
        recorded = demo_event_feed_task.apply().get()

    assert recorded == 1
    assert list(Event.objects.values_list("event_id", flat=True)) == [accepted["event_id"]]
    assert refused["event_id"] in caplog.text


def test_half_an_hour_of_feed_moves_the_book_without_refusals(due_loan, settings, caplog):
    settings.RISKOPS_DEMO_FEED = True
    event_ingest(actor=None, events=[LoginEventFactory()])  # a known device to log in from

    with caplog.at_level(logging.INFO, logger="demo.tasks"):
        for minute in range(30):
            with time_machine.travel(NOW + timedelta(minutes=minute), tick=False):
                demo_event_feed_task.apply().get()

    kinds = set(Event.objects.filter(posted_by=None).values_list("kind", flat=True))
    assert {"repayment", "login", "device_change", "drawdown"} <= kinds
    assert "not recorded" not in caplog.text
