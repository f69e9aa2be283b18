"""Velocity of small drawdowns: N or more drawdowns of at most X yuan within T hours.

Judged on each drawdown: the small drawdowns paid out in the T hours up to and including
it (both ends count: one exactly T hours earlier is within T hours). The hit is keyed by
the drawdown that completed the count, so every drawdown that ends such a run raises one
alert, however the events arrived (in one batch, in racing batches, or late).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, Hit, hours, money
from monitoring.rules.params import Param

KIND = RuleKind.SMALL_DRAWDOWN_VELOCITY
CATEGORY = AlertCategory.FRAUD
SEVERITY = Severity.MEDIUM
TRIGGERS = frozenset({EventKind.DRAWDOWN})
LISTS: tuple[str, ...] = ()
PARAMS = (
    Param("count", "int", 4, _("Number of drawdowns (N or more)"), minimum=Decimal(2)),
    Param("max_amount", "decimal", "1000.00", _("Each at most (yuan)"), minimum=Decimal("0.01")),
    Param("window_hours", "decimal", "24", _("Within (hours)"), minimum=Decimal("0.01")),
)


def lookback(params: dict[str, Any]) -> timedelta:
    return hours(params["window_hours"])


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    ceiling = money(params["max_amount"])
    if event.kind != EventKind.DRAWDOWN or event.amount is None or event.amount > ceiling:
        return []
    at = event.occurred_at
    small = [d for d in history.drawdowns_between(at - lookback(params), at) if d.amount <= ceiling]
    if len(small) < int(params["count"]):
        return []
    return [
        Hit(
            kind=KIND,
            borrower_id=event.borrower_id,
            occurred_at=at,
            evidence={
                "event_id": event.event_id,
                "loan_no": event.loan_no,
                "loan_nos": [d.loan_no for d in small],
                "count": len(small),
                "total": str(sum((d.amount for d in small), Decimal("0.00"))),
                "first_at": small[0].at.isoformat(),
            },
            dedupe_key=f"{KIND}:{event.loan_no}",
            event_pk=event.pk,
        )
    ]
