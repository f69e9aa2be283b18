"""Repayment from an account that is not the borrower's own.

Judged on each repayment made from a card. The borrower's own cards, by the repayment's
time, are those their drawdowns were paid out to and those they bound (a bank-card change);
a card first seen on a repayment is not thereby theirs. A card the book also has for another
borrower (seen by then) is named in the evidence and raises the hit even when
`other_borrowers_only` is on, which keeps only that case.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, Hit
from monitoring.rules.params import Param

KIND = RuleKind.FOREIGN_REPAYMENT_ACCOUNT
CATEGORY = AlertCategory.FRAUD
SEVERITY = Severity.MEDIUM
TRIGGERS = frozenset({EventKind.REPAYMENT})
LISTS: tuple[str, ...] = ()
PARAMS = (Param("other_borrowers_only", "bool", False, _("Only cards another borrower uses")),)


def lookback(params: dict[str, Any]) -> timedelta:
    return timedelta(0)


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    if event.kind != EventKind.REPAYMENT:
        return []
    repayment = next((r for r in history.repayments if r.pk == event.repayment_id), None)
    if repayment is None or repayment.bank_account_id is None:
        return []
    card = history.cards.get(repayment.bank_account_id)
    if card is None:
        return []
    at = repayment.at
    sharers = [o for o in history.card_sharers.get(card.card_no, []) if o.since <= at]
    own = history.own_cards.get(card.pk)
    is_own = own is not None and own <= at
    if (is_own or params["other_borrowers_only"]) and not sharers:
        return []
    return [
        Hit(
            kind=KIND,
            borrower_id=event.borrower_id,
            occurred_at=event.occurred_at,
            evidence={
                "event_id": event.event_id,
                "repayment": repayment.reference,
                "loan_no": repayment.loan_no,
                "amount": str(repayment.amount),
                "card_last4": card.card_no[-4:],
                "own_card": is_own,
                "also_used_by": sorted({o.customer_no for o in sharers}),
            },
            dedupe_key=f"{KIND}:{repayment.reference}",
            event_pk=event.pk,
        )
    ]
