from __future__ import annotations

import hashlib
import json
import threading
import time
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection, transaction
from django.test import override_settings

from accounts.models import AuditEvent
from lending.choices import LineStatus
from lending.models import (
    BankAccount,
    Borrower,
    CreditLine,
    Device,
    Drawdown,
    Instalment,
    Repayment,
    TransferOut,
)
from monitoring.errors import (
    EventBatchInvalid,
    EventBatchRefused,
    EventBatchRetry,
    EventPostNotAllowed,
)
from monitoring.models import Event
from monitoring.services import event_ingest
from monitoring.services import events as services
from monitoring.tests.factories import (
    BankAccountChangeEventFactory,
    DeviceChangeEventFactory,
    DrawdownEventFactory,
    LineOpenedEventFactory,
    LoginEventFactory,
    RepaymentEventFactory,
    TransferOutEventFactory,
)
from monitoring.validation import canonical, events_parse

pytestmark = pytest.mark.django_db


def _book_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            Event,
            Borrower,
            Drawdown,
            Instalment,
            Repayment,
            Device,
            BankAccount,
            TransferOut,
            AuditEvent,
        )
    }


def test_line_opened_event_registers_the_borrower_and_opens_the_line(service_user):
    event = LineOpenedEventFactory(customer_no="C12345678", national_id="11010119900307123x")

    [result] = event_ingest(actor=service_user, events=[event])

    borrower = Borrower.objects.get(customer_no="C12345678")
    assert result == {
        "index": 0,
        "event_id": event["event_id"],
        "kind": "line_opened",
        "status": "recorded",
        "borrower_id": borrower.pk,
        "line_id": borrower.line.pk,
    }
    assert borrower.national_id == "11010119900307123X"  # the check letter, upper case
    assert borrower.line.credit_limit == Decimal("30000.00")
    assert borrower.line.daily_rate == Decimal("0.000500")
    stored = Event.objects.get(event_id=event["event_id"])
    assert stored.borrower == borrower
    assert stored.posted_by == service_user
    assert stored.result == result


def test_drawdown_event_builds_the_instalment_schedule_and_uses_the_line(
    borrower_record, service_user
):
    event = DrawdownEventFactory(amount=6000, term_months=6)

    [result] = event_ingest(actor=service_user, events=[event])

    drawdown = Drawdown.objects.get(loan_no=event["loan_no"])
    assert result["drawdown_id"] == drawdown.pk
    assert drawdown.instalments.count() == 6
    assert sum(i.principal_due for i in drawdown.instalments.all()) == Decimal("6000.00")
    line = CreditLine.objects.get(borrower=borrower_record)
    assert line.used == Decimal("6000.00")
    assert drawdown.device is not None
    assert drawdown.device.device_id == "dev-aaaa"
    assert drawdown.bank_account.card_no == "6222020000001234"


def test_repayment_event_is_allocated_to_the_due_instalment(borrower_record, service_user):
    drawdown = DrawdownEventFactory()
    repayment = RepaymentEventFactory(loan_no=drawdown["loan_no"])

    results = event_ingest(actor=service_user, events=[drawdown, repayment])

    paid = Repayment.objects.get(reference=repayment["event_id"])
    assert results[1]["repayment_id"] == paid.pk
    assert results[1]["drawdown_id"] == results[0]["drawdown_id"]
    first = Instalment.objects.get(drawdown_id=paid.drawdown_id, seq=1)
    assert first.remaining == 0
    assert first.paid_off_at is not None
    assert Instalment.objects.get(drawdown_id=paid.drawdown_id, seq=2).total_paid == 0


def test_login_device_and_bank_account_events_note_what_was_seen(borrower_record, service_user):
    results = event_ingest(
        actor=service_user,
        events=[
            LoginEventFactory(device_id="dev-1"),
            DeviceChangeEventFactory(device_id="dev-2"),
            LoginEventFactory(device_id="dev-1", occurred_at="2026-02-05T08:00:00+08:00"),
            BankAccountChangeEventFactory(card_no="6228480000005678"),
        ],
    )

    devices = {d.device_id: d for d in Device.objects.filter(borrower=borrower_record)}
    assert set(devices) == {"dev-1", "dev-2"}
    assert results[0]["device_record_id"] == results[2]["device_record_id"] == devices["dev-1"].pk
    assert devices["dev-1"].last_seen_at.isoformat() == "2026-02-05T00:00:00+00:00"
    assert results[3]["bank_account_id"] == BankAccount.objects.get(card_no="6228480000005678").pk


def test_transfer_out_event_is_recorded_with_the_event_id_as_reference(
    borrower_record, service_user
):
    event = TransferOutEventFactory()

    [result] = event_ingest(actor=service_user, events=[event])

    transfer = TransferOut.objects.get(reference=event["event_id"])
    assert result["transfer_out_id"] == transfer.pk
    assert transfer.counterparty_is_lender is True
    assert transfer.amount == Decimal("5800.00")


def test_a_batch_is_applied_in_order_so_later_events_see_earlier_ones(service_user):
    opened = LineOpenedEventFactory()
    drawdown = DrawdownEventFactory(customer_no=opened["customer_no"])
    repayment = RepaymentEventFactory(
        customer_no=opened["customer_no"], loan_no=drawdown["loan_no"]
    )

    results = event_ingest(actor=service_user, events=[opened, drawdown, repayment])

    assert [r["status"] for r in results] == ["recorded"] * 3
    assert [r["index"] for r in results] == [0, 1, 2]
    assert (
        Repayment.objects.get(reference=repayment["event_id"]).drawdown.loan_no
        == (drawdown["loan_no"])
    )


def test_a_replayed_event_is_recorded_once_and_answered_as_the_first_time(
    borrower_record, service_user
):
    event = DrawdownEventFactory()
    [first] = event_ingest(actor=service_user, events=[event])
    before = _book_counts()

    [again] = event_ingest(actor=service_user, events=[event])

    assert again == {**first, "status": "replayed"}
    assert _book_counts() == before


def test_a_replay_is_recognised_by_meaning_not_spelling(borrower_record, service_user):
    event = DrawdownEventFactory(amount="6000", occurred_at="2026-02-01T10:00:00+08:00")
    event_ingest(actor=service_user, events=[event])

    [again] = event_ingest(
        actor=service_user,
        events=[{**event, "amount": 6000.0, "occurred_at": "2026-02-01T02:00:00Z"}],
    )

    assert again["status"] == "replayed"
    assert Drawdown.objects.count() == 1


def test_a_replay_inside_one_batch_is_answered_from_its_first_occurrence(
    borrower_record, service_user
):
    event = LoginEventFactory()

    results = event_ingest(actor=service_user, events=[event, DeviceChangeEventFactory(), event])

    assert results[2] == {**results[0], "index": 2, "status": "replayed"}
    assert Event.objects.filter(event_id=event["event_id"]).count() == 1


def test_the_same_event_id_with_other_data_is_refused_and_nothing_recorded(
    borrower_record, service_user
):
    event = DrawdownEventFactory()
    event_ingest(actor=service_user, events=[event])
    before = _book_counts()

    with pytest.raises(EventBatchRefused) as refused:
        event_ingest(
            actor=service_user, events=[LoginEventFactory(), {**event, "amount": "7000.00"}]
        )

    [error] = refused.value.errors
    assert error["index"] == 1
    assert error["field"] == "event_id"
    assert error["code"] == "event_id_reused"
    assert _book_counts() == before


def test_an_event_id_reused_with_other_data_inside_one_batch_is_refused(
    borrower_record, service_user
):
    login = LoginEventFactory()

    with pytest.raises(EventBatchRefused) as refused:
        event_ingest(actor=service_user, events=[login, {**login, "device_id": "other"}])

    assert [(e["index"], e["code"]) for e in refused.value.errors] == [(1, "event_id_reused")]
    assert Event.objects.count() == 0


def test_an_event_id_reused_with_other_personal_data_that_masks_the_same_is_refused(
    service_user,
):
    # The stored payload cannot tell these two ID numbers apart; the digest of the full one can.
    opened = LineOpenedEventFactory(national_id="110101199003071238")
    event_ingest(actor=service_user, events=[opened])

    with pytest.raises(EventBatchRefused) as refused:
        event_ingest(actor=service_user, events=[{**opened, "national_id": "110101198512251238"}])

    assert [(e["index"], e["code"]) for e in refused.value.errors] == [(0, "event_id_reused")]


def test_the_stored_payload_keeps_personal_data_only_masked(borrower_record, service_user):
    opened = LineOpenedEventFactory(
        name="李四", national_id="110101199003071238", mobile="13912345678"
    )
    drawdown = DrawdownEventFactory(card_no="6222020000001234")
    transfer = TransferOutEventFactory(
        counterparty_account="6217000000009999", card_no="6222020000001234"
    )
    event_ingest(actor=service_user, events=[opened, drawdown, transfer])

    stored = {e.kind: e.payload for e in Event.objects.all()}
    assert (
        stored["line_opened"]["name"],
        stored["line_opened"]["national_id"],
        stored["line_opened"]["mobile"],
    ) == ("李*", "110101********1238", "139****5678")
    assert stored["line_opened"]["city"] == "Shanghai"  # the rest is kept as posted
    assert stored["drawdown"]["card_no"] == "622202******1234"
    assert stored["transfer_out"]["card_no"] == "622202******1234"
    assert stored["transfer_out"]["counterparty_account"] == "621700******9999"
    text = json.dumps(list(stored.values()), ensure_ascii=False)
    for full in ("110101199003071238", "13912345678", "6222020000001234", "6217000000009999"):
        assert full not in text


def test_the_payload_digest_is_keyed_not_a_plain_hash_of_the_payload(service_user):
    opened = LineOpenedEventFactory()
    event_ingest(actor=service_user, events=[opened])
    [valid], _ = events_parse([opened], max_events=1)
    text = json.dumps(canonical(valid), sort_keys=True, separators=(",", ":"))

    digest = Event.objects.get().payload_digest

    assert len(digest) == 64
    assert digest == services.event_storage_form(canonical(valid))[1]
    assert digest != hashlib.sha256(text.encode()).hexdigest()
    with override_settings(SECRET_KEY="another-key"):
        assert services.event_storage_form(canonical(valid))[1] != digest


def test_every_invalid_field_is_reported_with_its_index_and_nothing_is_recorded(
    borrower_record, service_user
):
    events: list[Any] = [
        LoginEventFactory(),
        DrawdownEventFactory(amount="10.005", term_months=0),
        RepaymentEventFactory(occurred_at="2026-03-01T12:00:00"),
        {**TransferOutEventFactory(), "amount": "-5", "colour": "red"},
        {"event_id": "x", "kind": "teleport"},
        "not an object",
        LineOpenedEventFactory(national_id="1234", mobile="1380000", income_band="rich"),
    ]
    before = _book_counts()

    with pytest.raises(EventBatchInvalid) as invalid:
        event_ingest(actor=service_user, events=events)

    found = {(e["index"], e["field"]) for e in invalid.value.errors}
    assert found == {
        (1, "amount"),
        (1, "term_months"),
        (2, "occurred_at"),
        (3, "amount"),
        (3, "colour"),
        (4, "kind"),
        (4, "occurred_at"),
        (4, "customer_no"),
        (5, None),
        (6, "national_id"),
        (6, "mobile"),
        (6, "income_band"),
    }
    naive = next(e for e in invalid.value.errors if e["index"] == 2)
    assert naive["code"] == "naive"
    assert naive["event_id"] == events[2]["event_id"]
    assert _book_counts() == before


def test_a_batch_larger_than_the_maximum_is_refused_whole(borrower_record, service_user, settings):
    settings.RISKOPS_EVENT_BATCH_MAX = 3

    with pytest.raises(EventBatchInvalid) as invalid:
        event_ingest(actor=service_user, events=[LoginEventFactory() for _ in range(4)])

    assert invalid.value.errors[0]["field"] == "events"
    assert invalid.value.errors[0]["code"] == "too_many"
    assert Event.objects.count() == 0


def test_a_business_refusal_rolls_back_the_whole_batch(borrower_record, service_user):
    line = borrower_record.line
    line.status = LineStatus.FROZEN
    line.save(update_fields=["status"])
    events = [LoginEventFactory(), BankAccountChangeEventFactory(), DrawdownEventFactory()]
    before = _book_counts()

    with pytest.raises(EventBatchRefused) as refused:
        event_ingest(actor=service_user, events=events)

    [error] = refused.value.errors
    assert (error["index"], error["field"], error["code"]) == (2, "customer_no", "line_not_active")
    assert error["event_id"] == events[2]["event_id"]
    assert _book_counts() == before


@pytest.mark.parametrize(
    ("event", "field", "code"),
    [
        (LoginEventFactory.build(customer_no="C-NOBODY"), "customer_no", "unknown_borrower"),
        (RepaymentEventFactory.build(loan_no="L-NONE"), "loan_no", "unknown_loan"),
        (DrawdownEventFactory.build(amount="50000.00"), "amount", "insufficient_available"),
    ],
)
def test_refusals_name_the_field_they_concern(borrower_record, service_user, event, field, code):
    with pytest.raises(EventBatchRefused) as refused:
        event_ingest(actor=service_user, events=[event])

    [error] = refused.value.errors
    assert (error["index"], error["field"], error["code"]) == (0, field, code)
    assert Event.objects.count() == 0


def test_a_repayment_for_another_customers_loan_is_refused(borrower_record, service_user):
    other = LineOpenedEventFactory()
    drawdown = DrawdownEventFactory()
    event_ingest(actor=service_user, events=[other, drawdown])

    with pytest.raises(EventBatchRefused) as refused:
        event_ingest(
            actor=service_user,
            events=[
                RepaymentEventFactory(customer_no=other["customer_no"], loan_no=drawdown["loan_no"])
            ],
        )

    assert refused.value.errors[0]["code"] == "loan_of_another_customer"
    assert refused.value.errors[0]["field"] == "loan_no"


@pytest.mark.parametrize("who", ["analyst", "manager", "borrower_user", "outsider"])
def test_only_the_service_account_or_an_admin_may_post_events(request, borrower_record, who):
    actor = request.getfixturevalue(who)

    with pytest.raises(EventPostNotAllowed):
        event_ingest(actor=actor, events=[LoginEventFactory()])

    assert Event.objects.count() == 0


def test_an_admin_and_the_system_may_post_events(borrower_record, admin_user):
    event_ingest(actor=admin_user, events=[LoginEventFactory()])
    [result] = event_ingest(actor=None, events=[LoginEventFactory()])

    assert result["status"] == "recorded"
    assert Event.objects.filter(posted_by=None).count() == 1


def test_the_batch_writes_one_audit_row_naming_the_poster(borrower_record, service_user):
    event_ingest(actor=service_user, events=[LoginEventFactory(), LoginEventFactory()])

    row = AuditEvent.objects.get(action="events.ingested")
    assert row.actor == service_user
    assert row.after["recorded"] == 2


def test_a_replayed_batch_costs_the_same_queries_whatever_its_size(
    borrower_record, service_user, django_assert_num_queries
):
    small = [LoginEventFactory() for _ in range(2)]
    large = [LoginEventFactory() for _ in range(40)]
    event_ingest(actor=service_user, events=small + large)

    # The transaction's start and end, and one look-up of the stored events.
    with django_assert_num_queries(3):
        event_ingest(actor=service_user, events=small)
    with django_assert_num_queries(3):
        event_ingest(actor=service_user, events=large)


def test_event_ingest_owns_its_transaction(borrower_record, service_user):
    with pytest.raises(RuntimeError), transaction.atomic():
        event_ingest(actor=service_user, events=[LoginEventFactory()])


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_posts_of_one_event_apply_it_once(service_user, borrower_record):
    """The second post waits on the first's line lock, then replays it (or is told to retry
    if it lost the race on the claim instead)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL's row locks")
    events = [DrawdownEventFactory()]
    first_applying = threading.Event()
    release = threading.Event()
    original = services.APPLY["drawdown"]

    def slow_drawdown(**kwargs):
        result = original(**kwargs)
        if threading.current_thread().name == "first":
            first_applying.set()
            release.wait(timeout=5)  # hold the claim while the second post arrives
        return result

    outcomes: dict[str, object] = {}

    def post(name: str) -> None:
        try:
            outcomes[name] = event_ingest(actor=service_user, events=events)[0]["status"]
        except (EventBatchRefused, EventBatchRetry) as exc:
            outcomes[name] = exc.code
        finally:
            connection.close()

    with mock.patch.dict(services.APPLY, {"drawdown": slow_drawdown}):
        first = threading.Thread(target=post, args=("first",), name="first")
        second = threading.Thread(target=post, args=("second",), name="second")
        first.start()
        assert first_applying.wait(timeout=5)
        second.start()
        time.sleep(0.5)  # the second is now blocked on the line the first holds
        release.set()
        first.join()
        second.join()

    assert outcomes["first"] == "recorded"
    assert outcomes["second"] in {"replayed", "retry"}
    assert Event.objects.count() == 1
    assert Drawdown.objects.count() == 1


def test_a_lost_race_rolls_the_batch_back_and_asks_for_a_retry(borrower_record, service_user):
    """A deadlock, or a key a concurrent request inserted first, is timing, not a bug."""

    class DeadlockDetected(Exception):
        sqlstate = "40P01"

    def deadlocked(**kwargs: Any) -> dict[str, int]:
        raise OperationalError("deadlock detected") from DeadlockDetected()

    before = _book_counts()
    with (
        mock.patch.dict(services.APPLY, {"login": deadlocked}),
        pytest.raises(EventBatchRetry) as retry,
    ):
        event_ingest(
            actor=service_user, events=[BankAccountChangeEventFactory(), LoginEventFactory()]
        )

    assert retry.value.code == "retry"
    assert retry.value.extra == {"reason": "deadlock", "retry_after": 1}
    assert _book_counts() == before


def test_a_database_error_that_is_not_a_race_is_not_hidden(borrower_record, service_user):
    def broken(**kwargs: Any) -> dict[str, int]:
        raise OperationalError("disk I/O error")

    with mock.patch.dict(services.APPLY, {"login": broken}), pytest.raises(OperationalError):
        event_ingest(actor=service_user, events=[LoginEventFactory()])
