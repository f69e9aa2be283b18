"""Borrowing here to repay elsewhere (以贷养贷): a transfer out to another lender within H
hours after a drawdown, and its repetition.

Judged on each transfer out. The counterparty is another lender when the lending core said
so (counterparty_is_lender) or its name or account is on the known-lenders list. The
drawdown must have been paid out at most H hours before the transfer (both ends count).
Repetition: the episodes (such transfers, each after a drawdown within H hours) in the
`repeat_days` up to this one, this one included; at `repeat_count` or more the hit takes
`repeat_severity`. Episodes are counted from the history, not from alerts raised, so a
backfill or a new version counts them the same.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, ListKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, Hit, TransferRec, hours, money
from monitoring.rules.params import Param

KIND = RuleKind.BORROW_TO_REPAY
CATEGORY = AlertCategory.CREDIT
SEVERITY = Severity.HIGH
TRIGGERS = frozenset({EventKind.TRANSFER_OUT})
LISTS: tuple[str, ...] = (ListKind.KNOWN_LENDERS,)
PARAMS = (
    Param("window_hours", "decimal", "24", _("Within (hours) of a drawdown"), Decimal("0.01")),
    Param("min_amount", "decimal", "100.00", _("Transfer at least (yuan)"), Decimal("0.01")),
    Param("repeat_days", "int", 90, _("Repetition counted over (days)"), Decimal(1)),
    Param("repeat_count", "int", 3, _("Repeated: this many episodes or more"), Decimal(2)),
    Param(
        "repeat_severity",
        "int",
        int(Severity.CRITICAL),
        _("Severity when repeated"),
        Decimal(1),
        Decimal(4),
    ),
)


def lookback(params: dict[str, Any]) -> timedelta:
    return timedelta(days=int(params["repeat_days"])) + hours(params["window_hours"])


def is_lender(history: BorrowerHistory, transfer: TransferRec) -> bool:
    return (
        transfer.counterparty_is_lender
        or history.lists.has(ListKind.KNOWN_LENDERS, transfer.counterparty_name, at=transfer.at)
        or history.lists.has(ListKind.KNOWN_LENDERS, transfer.counterparty_account, at=transfer.at)
    )


def _episode(
    params: dict[str, Any], history: BorrowerHistory, transfer: TransferRec
) -> list[str] | None:
    """The loan numbers of the drawdowns within the window before this transfer, when it is
    an episode (to a lender, large enough); else None."""
    if transfer.amount < money(params["min_amount"]) or not is_lender(history, transfer):
        return None
    before = history.drawdowns_between(transfer.at - hours(params["window_hours"]), transfer.at)
    return [d.loan_no for d in before] or None


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    if event.kind != EventKind.TRANSFER_OUT:
        return []
    transfer = next((t for t in history.transfers if t.pk == event.transfer_out_id), None)
    if transfer is None:
        return []
    loans = _episode(params, history, transfer)
    if loans is None:
        return []
    since = transfer.at - timedelta(days=int(params["repeat_days"]))
    episodes = [
        t.reference
        for t in history.transfers_between(since, transfer.at)
        if _episode(params, history, t) is not None
    ]
    repeated = len(episodes) >= int(params["repeat_count"])
    return [
        Hit(
            kind=KIND,
            borrower_id=event.borrower_id,
            occurred_at=event.occurred_at,
            evidence={
                "event_id": event.event_id,
                "transfer": transfer.reference,
                "amount": str(transfer.amount),
                "counterparty": transfer.counterparty_name,
                "loan_nos": loans,
                "episodes": len(episodes),
                "episode_transfers": episodes[-10:],
                "repeated": repeated,
            },
            dedupe_key=f"{KIND}:{transfer.reference}",
            event_pk=event.pk,
            severity=int(params["repeat_severity"]) if repeated else None,
        )
    ]
