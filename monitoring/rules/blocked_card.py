"""Card on the blocked list: a drawdown paid out to, a repayment from, or a binding of a
card on the blocked-cards list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from monitoring.choices import AlertCategory, EventKind, ListKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, Hit
from monitoring.rules.params import Param

KIND = RuleKind.BLOCKED_CARD
CATEGORY = AlertCategory.FRAUD
SEVERITY = Severity.CRITICAL
TRIGGERS = frozenset({EventKind.DRAWDOWN, EventKind.REPAYMENT, EventKind.BANK_ACCOUNT_CHANGE})
LISTS: tuple[str, ...] = (ListKind.BLOCKED_CARDS,)
PARAMS: tuple[Param, ...] = ()


def lookback(params: dict[str, Any]) -> timedelta:
    return timedelta(0)


def _card_pk(history: BorrowerHistory, event: EventView) -> int | None:
    if event.kind == EventKind.DRAWDOWN:
        drawdown = next((d for d in history.drawdowns if d.pk == event.drawdown_id), None)
        return drawdown.bank_account_id if drawdown else None
    if event.kind == EventKind.REPAYMENT:
        repayment = next((r for r in history.repayments if r.pk == event.repayment_id), None)
        return repayment.bank_account_id if repayment else None
    return event.bank_account_id


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    if event.kind not in TRIGGERS:
        return []
    pk = _card_pk(history, event)
    card = history.cards.get(pk) if pk is not None else None
    if card is None or not history.lists.has(
        ListKind.BLOCKED_CARDS, card.card_no, at=event.occurred_at
    ):
        return []
    return [
        Hit(
            kind=KIND,
            borrower_id=event.borrower_id,
            occurred_at=event.occurred_at,
            evidence={
                "event_id": event.event_id,
                "event_kind": event.kind,
                "loan_no": event.loan_no,
                "card_last4": card.card_no[-4:],
            },
            dedupe_key=f"{KIND}:{event.event_id}",
            event_pk=event.pk,
        )
    ]
