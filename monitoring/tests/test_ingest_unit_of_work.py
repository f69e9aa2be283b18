"""A batch leaves the book exactly as the same events posted one at a time would.

Inside a batch the lending services work on the batch's instances (lending.services.batch):
rows read once, new rows written together at the end (ids reserved on PostgreSQL), updates
written once, a line's totals computed from the batch's own loans. These tests post one stream
of events for some customers one event per request, and the same stream for others as one
batch, and compare everything the book holds for them, row by row, and the answers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import AuditEvent
from lending.models import (
    BankAccount,
    CreditLine,
    Device,
    Drawdown,
    Instalment,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)
from monitoring.services import event_ingest
from monitoring.services.events import DEFER_INSERTS_FROM
from monitoring.tests.factories import (
    BankAccountChangeEventFactory,
    DrawdownEventFactory,
    LineOpenedEventFactory,
    LoginEventFactory,
    RepaymentEventFactory,
    TransferOutEventFactory,
)

pytestmark = pytest.mark.django_db


def _opened(customer: str) -> None:
    event_ingest(
        actor=None,
        events=[
            LineOpenedEventFactory(customer_no=customer, occurred_at="2026-01-05T09:00:00+08:00"),
            # Known before the stream: a loan (repaid in it), its card and device.
            DrawdownEventFactory(
                customer_no=customer,
                loan_no=f"{customer}-old",
                occurred_at="2026-01-10T10:00:00+08:00",
                amount="3000.00",
                card_no="6222020000000001",
                device_id="dev-old",
            ),
        ],
    )


def _stream(customer: str) -> list[dict[str, Any]]:
    """Every kind of event, touching rows the book had and rows the stream itself creates."""
    c = {"customer_no": customer}
    return [
        LoginEventFactory(**c, device_id="dev-old", occurred_at="2026-02-01T08:00:00+08:00"),
        LoginEventFactory(**c, device_id="dev-new", occurred_at="2026-02-01T09:00:00+08:00"),
        # A new loan paid to a new card from the new device, another to the known card.
        DrawdownEventFactory(
            **c,
            loan_no=f"{customer}-a",
            amount="4000.00",
            card_no="6222020000000002",
            device_id="dev-new",
            occurred_at="2026-02-01T10:00:00+08:00",
        ),
        DrawdownEventFactory(
            **c,
            loan_no=f"{customer}-b",
            amount="1500.00",
            term_months=3,
            card_no="6222020000000001",
            device_id="dev-old",
            occurred_at="2026-02-02T10:00:00+08:00",
        ),
        # The old loan's first instalment (due 10 February), paid late: penalty accrues.
        RepaymentEventFactory(
            **c,
            loan_no=f"{customer}-old",
            amount="600.00",
            card_no="6222020000000001",
            occurred_at="2026-02-14T12:00:00+08:00",
        ),
        # A card seen earlier than it was first seen, with its bank now named.
        BankAccountChangeEventFactory(
            **c,
            card_no="6222020000000002",
            bank_name="CCB",
            occurred_at="2026-01-20T08:00:00+08:00",
        ),
        TransferOutEventFactory(
            **c,
            amount="3500.00",
            card_no="6222020000000002",
            occurred_at="2026-02-01T11:00:00+08:00",
        ),
        # Loan b paid off in full ahead of time, loan a partly (both paid out in the stream).
        RepaymentEventFactory(
            **c, loan_no=f"{customer}-b", amount="1600.00", occurred_at="2026-02-20T12:00:00+08:00"
        ),
        RepaymentEventFactory(
            **c,
            loan_no=f"{customer}-a",
            amount="700.00",
            card_no="6222020000000003",
            occurred_at="2026-02-21T12:00:00+08:00",
        ),
        # The line, freed by the payments, lends again (no device named).
        {
            key: value
            for key, value in DrawdownEventFactory(
                **c,
                loan_no=f"{customer}-c",
                amount="2500.00",
                card_no="6222020000000003",
                occurred_at="2026-02-22T10:00:00+08:00",
            ).items()
            if key != "device_id"
        },
        RepaymentEventFactory(
            **c, loan_no=f"{customer}-old", amount="50.00", occurred_at="2026-02-23T12:00:00+08:00"
        ),
        LoginEventFactory(**c, device_id="dev-new", occurred_at="2026-01-31T07:00:00+08:00"),
    ]


def _book_of(customer: str) -> dict[str, Any]:
    """Everything the book holds for the customer, without ids or customer numbers."""

    def loan(loan_no: str) -> str:
        return loan_no.removeprefix(customer)

    line = CreditLine.objects.get(borrower__customer_no=customer)
    drawdowns = Drawdown.objects.filter(borrower=line.borrower).select_related(
        "bank_account", "device"
    )
    return {
        "line": (line.used, line.oldest_unpaid_due, line.status, line.credit_limit),
        "drawdowns": sorted(
            (
                loan(d.loan_no),
                d.amount,
                d.apr,
                d.principal_outstanding,
                d.status,
                d.settled_at,
                d.bank_account.card_no,
                d.device.device_id if d.device else None,
            )
            for d in drawdowns
        ),
        "instalments": sorted(
            (
                loan(i.drawdown.loan_no),
                i.seq,
                i.due_date,
                i.principal_due,
                i.interest_due,
                i.fee_due,
                i.principal_paid,
                i.interest_paid,
                i.fee_paid,
                i.penalty_through,
                i.paid_off_at,
            )
            for i in Instalment.objects.filter(drawdown__in=drawdowns).select_related("drawdown")
        ),
        "repayments": sorted(
            (
                loan(r.drawdown.loan_no),
                r.amount,
                r.paid_at,
                r.unapplied_amount,
                r.bank_account.card_no if r.bank_account else None,
            )
            for r in Repayment.objects.filter(borrower=line.borrower).select_related(
                "drawdown", "bank_account"
            )
        ),
        "allocations": sorted(
            (loan(a.instalment.drawdown.loan_no), a.instalment.seq, a.fee, a.interest, a.principal)
            for a in RepaymentAllocation.objects.filter(
                repayment__borrower=line.borrower
            ).select_related("instalment__drawdown")
        ),
        "cards": sorted(
            (a.card_no, a.bank_name, a.first_seen_at, a.last_seen_at)
            for a in BankAccount.objects.filter(borrower=line.borrower)
        ),
        "devices": sorted(
            (d.device_id, d.platform, d.first_seen_at, d.last_seen_at)
            for d in Device.objects.filter(borrower=line.borrower)
        ),
        "transfers": sorted(
            (
                t.amount,
                t.occurred_at,
                t.counterparty_is_lender,
                t.bank_account.card_no if t.bank_account else None,
            )
            for t in TransferOut.objects.filter(borrower=line.borrower).select_related(
                "bank_account"
            )
        ),
        "audit": [
            row.action
            for row in AuditEvent.objects.filter(borrower_id=line.borrower_id).order_by("id")
        ],
    }


def _answers(results: list[dict[str, Any]]) -> list[tuple[str, str, list[str]]]:
    return [(r["kind"], r["status"], sorted(k for k in r if k.endswith("_id"))) for r in results]


def test_a_batch_leaves_the_book_as_the_same_events_one_at_a_time():
    _opened("CS1")
    _opened("CB1")
    single = [event_ingest(actor=None, events=[event])[0] for event in _stream("CS1")]
    stream = _stream("CB1")
    assert len(stream) >= DEFER_INSERTS_FROM  # the batch writes its new rows at its end
    batched = event_ingest(actor=None, events=stream)

    one_by_one, together = _book_of("CS1"), _book_of("CB1")
    for part in one_by_one:
        assert together[part] == one_by_one[part], part
    assert _answers(batched) == _answers(single)
    # The stream did what it says: loan b settled, the old loan paid late, cards and devices.
    assert [(d[0], d[4]) for d in together["drawdowns"]] == [
        ("-a", "active"),
        ("-b", "settled"),
        ("-c", "active"),
        ("-old", "active"),
    ]
    assert any(i[5] > 0 for i in together["instalments"])  # the late payment's penalty
    assert len(together["cards"]) == 3 and len(together["devices"]) == 2
    assert together["line"][0] == sum(
        (d[3] for d in together["drawdowns"] if d[4] == "active"), Decimal("0.00")
    )


def test_answers_of_a_batch_name_the_rows_it_wrote():
    _opened("CB2")
    results = event_ingest(actor=None, events=_stream("CB2"))

    by_kind: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        by_kind.setdefault(result["kind"], []).append(result)
    drawdowns = Drawdown.objects.in_bulk([r["drawdown_id"] for r in by_kind["drawdown"]])
    assert sorted(d.loan_no for d in drawdowns.values()) == ["CB2-a", "CB2-b", "CB2-c"]
    repayments = Repayment.objects.in_bulk([r["repayment_id"] for r in by_kind["repayment"]])
    assert [repayments[r["repayment_id"]].drawdown_id for r in by_kind["repayment"]] == [
        r["drawdown_id"] for r in by_kind["repayment"]
    ]
    transfer = TransferOut.objects.get(pk=by_kind["transfer_out"][0]["transfer_out_id"])
    assert transfer.amount == Decimal("3500.00")
    devices = {r["device_record_id"] for r in by_kind["login"]}
    assert Device.objects.filter(pk__in=devices).count() == 2


def test_a_refused_event_leaves_nothing_of_the_batch():
    _opened("CB3")
    stream = _stream("CB3")
    stream.append(
        DrawdownEventFactory(
            customer_no="CB3",
            loan_no="CB3-z",
            amount="999999.00",
            occurred_at="2026-02-25T10:00:00+08:00",
        )
    )
    before = _book_of("CB3")
    with pytest.raises(Exception, match="refused"):
        event_ingest(actor=None, events=stream)
    assert _book_of("CB3") == before


def _newcomer(customer: str) -> list[dict[str, Any]]:
    """A borrower registered by the stream itself, then borrowing and repaying in it."""
    c = {"customer_no": customer}
    opened = LineOpenedEventFactory(
        **c,
        national_id=f"1101011990{customer[-4:]}123X"[:18],
        occurred_at="2026-01-05T09:00:00+08:00",
    )
    # The lending core posting the same registration again, under another event id.
    again = {**opened, "event_id": f"{opened['event_id']}-again"}
    return [
        opened,
        again,
        LoginEventFactory(**c, device_id="dev-n", occurred_at="2026-01-06T08:00:00+08:00"),
        DrawdownEventFactory(
            **c,
            loan_no=f"{customer}-n",
            amount="2000.00",
            card_no="6222020000000009",
            device_id="dev-n",
            occurred_at="2026-01-10T10:00:00+08:00",
        ),
        RepaymentEventFactory(
            **c, loan_no=f"{customer}-n", amount="400.00", occurred_at="2026-02-10T12:00:00+08:00"
        ),
        BankAccountChangeEventFactory(
            **c, card_no="6222020000000010", occurred_at="2026-02-11T08:00:00+08:00"
        ),
        TransferOutEventFactory(
            **c,
            amount="100.00",
            card_no="6222020000000010",
            occurred_at="2026-02-11T09:00:00+08:00",
        ),
        DrawdownEventFactory(
            **c,
            loan_no=f"{customer}-m",
            amount="700.00",
            card_no="6222020000000010",
            occurred_at="2026-02-12T10:00:00+08:00",
        ),
    ]


def test_a_borrower_registered_in_a_batch_is_the_batchs_to_the_end():
    single = [event_ingest(actor=None, events=[event])[0] for event in _newcomer("CS9001")]
    stream = _newcomer("CB9002")
    assert len(stream) >= DEFER_INSERTS_FROM
    batched = event_ingest(actor=None, events=stream)

    one_by_one, together = _book_of("CS9001"), _book_of("CB9002")
    for part in one_by_one:
        assert together[part] == one_by_one[part], part
    assert _answers(batched) == _answers(single)
    # The second registration answers with the first's borrower and line.
    assert batched[1]["borrower_id"] == batched[0]["borrower_id"]
    assert batched[1]["line_id"] == batched[0]["line_id"]
    assert len(together["drawdowns"]) == 2 and len(together["repayments"]) == 1
