"""Batch ingestion, made cheap: a batch's audit rows appended together and still chained,
its lines locked once, no savepoint per event, its answers stored in one statement; and the
live rule versions kept per process, yet a version activated, retired or switched off
applies to the very next event."""

from __future__ import annotations

import pytest

from accounts.audit import verify_chain
from accounts.models import AuditEvent
from lending.models import CreditLine, Device, Drawdown
from monitoring.choices import RuleKind
from monitoring.errors import EventBatchRefused
from monitoring.models import Event, RuleVersion
from monitoring.services import rule_version_retire, rules_ensure_defaults
from monitoring.tests.factories import (
    BankAccountChangeEventFactory,
    DrawdownEventFactory,
    LoginEventFactory,
)
from monitoring.tests.rules_helpers import alerts, drawdown, feb, post, set_params

pytestmark = pytest.mark.django_db
VELOCITY = RuleKind.SMALL_DRAWDOWN_VELOCITY


@pytest.fixture(autouse=True)
def _rules(borrower_record):
    rules_ensure_defaults()


def _velocity_active() -> RuleVersion:
    return RuleVersion.objects.get(rule__kind=VELOCITY, status="active")


def test_a_version_activated_between_two_posts_judges_the_next_event():
    rule_version_retire(actor=None, version=_velocity_active())
    post(*(drawdown(feb(2, 10 + n)) for n in range(4)))  # a burst, judged with the rule off
    assert alerts(VELOCITY) == []

    version = set_params(VELOCITY)
    answer = post(drawdown(feb(2, 15)))[0]

    raised = alerts(VELOCITY)
    assert raised and raised[-1].rule_version == version
    assert answer["alerts"]


def test_a_version_retired_or_switched_off_by_a_plain_update_stops_at_the_next_event():
    post(*(drawdown(feb(2, 10 + n)) for n in range(4)))
    assert len(alerts(VELOCITY)) == 1

    RuleVersion.objects.filter(rule__kind=VELOCITY).update(enabled=False)
    post(*(drawdown(feb(5, 10 + n)) for n in range(4)))
    assert len(alerts(VELOCITY)) == 1

    RuleVersion.objects.filter(rule__kind=VELOCITY).update(enabled=True)
    rule_version_retire(actor=None, version=_velocity_active())
    post(*(drawdown(feb(8, 10 + n)) for n in range(4)))
    assert len(alerts(VELOCITY)) == 1


def test_new_thresholds_apply_to_the_next_event():
    set_params(VELOCITY, count=5)
    post(*(drawdown(feb(2, 10 + n)) for n in range(4)))
    assert alerts(VELOCITY) == []

    set_params(VELOCITY, count=4)
    post(*(drawdown(feb(3, 1 + n)) for n in range(4)))
    assert alerts(VELOCITY)


def test_a_batch_audits_every_change_in_order_on_an_unbroken_chain():
    before = AuditEvent.objects.count()
    events = [
        DrawdownEventFactory(occurred_at=feb(2, 10), device_id="dev-1"),
        LoginEventFactory(occurred_at=feb(2, 11), device_id="dev-2"),
        BankAccountChangeEventFactory(occurred_at=feb(2, 12)),
        DrawdownEventFactory(occurred_at=feb(2, 13), amount="700.00", device_id="dev-1"),
    ]

    post(*events)

    rows = list(AuditEvent.objects.order_by("pk")[before:].values_list("action", "object_id"))
    loans = list(Drawdown.objects.order_by("pk").values_list("pk", flat=True))
    assert rows == [
        ("bank_account.added", rows[0][1]),
        ("device.added", rows[1][1]),
        ("drawdown.created", str(loans[0])),
        ("device.added", rows[3][1]),
        ("bank_account.added", rows[4][1]),
        ("drawdown.created", str(loans[1])),
        ("events.ingested", str(Event.objects.order_by("event_id")[0].pk)),
    ]
    assert verify_chain().ok


def test_a_refused_batch_leaves_no_audit_row_and_no_change():
    before = AuditEvent.objects.count()
    used = CreditLine.objects.get().used
    events = [
        DrawdownEventFactory(occurred_at=feb(2, 10)),
        LoginEventFactory(occurred_at=feb(2, 11), device_id="dev-new"),
        DrawdownEventFactory(occurred_at=feb(2, 12), amount="999999.00"),  # over the limit
    ]

    with pytest.raises(EventBatchRefused) as refused:
        post(*events)

    assert refused.value.errors[0]["index"] == 2
    assert AuditEvent.objects.count() == before
    assert CreditLine.objects.get().used == used
    assert not Device.objects.filter(device_id="dev-new").exists()
    assert not Event.objects.exists()
    assert verify_chain().ok


def test_the_line_is_read_once_per_batch_and_its_used_amount_follows_every_event():
    events = [DrawdownEventFactory(occurred_at=feb(2, 10 + n), amount="1000.00") for n in range(5)]

    post(*events)

    assert CreditLine.objects.get().used == 5000


def test_a_batch_of_known_devices_costs_two_statements_per_event(
    borrower_record, django_assert_max_num_queries
):
    post(LoginEventFactory(device_id="dev-1"))
    events = [
        LoginEventFactory(
            device_id="dev-1", occurred_at=f"2026-02-03T{n // 60:02d}:{n % 60:02d}:00+08:00"
        )
        for n in range(50)
    ]

    # The batch's fixed cost (stored ids twice, borrowers, the line lock, the claim, the
    # answers, the rules, the audit append), then per event the device's look-up and its
    # last-seen update: no savepoint, no line lock, no audit statements per event.
    with django_assert_max_num_queries(30 + 2 * 50):
        answers = post(*events)

    assert {a["status"] for a in answers} == {"recorded"}
    assert Event.objects.filter(kind="login").count() == 51


def test_other_apps_hear_once_per_borrower_and_kind_after_the_batch_commits(
    django_capture_on_commit_callbacks,
):
    from lending.signals import borrower_activity

    heard: list[tuple[list[int], str]] = []

    def receiver(sender, *, borrower_ids, kind, **_):
        heard.append((borrower_ids, kind))

    borrower_activity.connect(receiver, dispatch_uid="test-ingest-batch")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            post(
                *(
                    DrawdownEventFactory(occurred_at=feb(2, 10 + n), amount="500.00")
                    for n in range(3)
                )
            )
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(EventBatchRefused):
            post(
                DrawdownEventFactory(occurred_at=feb(3, 10), amount="500.00"),
                DrawdownEventFactory(occurred_at=feb(3, 11), amount="999999.00"),
            )
    finally:
        borrower_activity.disconnect(dispatch_uid="test-ingest-batch")

    assert heard == [([CreditLine.objects.get().borrower_id], "drawdown")]
