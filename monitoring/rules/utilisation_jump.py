"""Utilisation jump: the drawn share of the limit rises by at least J percentage points
within W hours, to at least U% of the limit.

Judged on each drawdown: the line's used balance just after it against the used balance W
hours earlier (monitoring.rules.base.BorrowerHistory.used_at), both over today's limit.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, Hit, hours, money
from monitoring.rules.params import Param

KIND = RuleKind.UTILISATION_JUMP
CATEGORY = AlertCategory.CREDIT
SEVERITY = Severity.MEDIUM
TRIGGERS = frozenset({EventKind.DRAWDOWN})
LISTS: tuple[str, ...] = ()
PARAMS = (
    Param("window_hours", "decimal", "72", _("Within (hours)"), Decimal("0.01")),
    Param("jump_pct", "decimal", "50", _("Rise of at least (points of the limit)"), Decimal(1)),
    Param(
        "min_utilisation_pct",
        "decimal",
        "80",
        # xgettext:no-python-format
        _("To at least (% of the limit)"),
        Decimal(0),
        Decimal(100),
    ),
)


def lookback(params: dict[str, Any]) -> timedelta:
    return hours(params["window_hours"])


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    if event.kind != EventKind.DRAWDOWN:
        return []
    at = event.occurred_at
    limit = history.limit_at(at)  # the limit in force at the drawdown, not today's
    if limit <= 0:
        return []
    before = history.used_at(at - lookback(params))
    after = history.used_at(at)
    rise = (after - before) / limit * 100
    level = after / limit * 100
    if rise < money(params["jump_pct"]) or level < money(params["min_utilisation_pct"]):
        return []
    return [
        Hit(
            kind=KIND,
            borrower_id=event.borrower_id,
            occurred_at=at,
            evidence={
                "event_id": event.event_id,
                "loan_no": event.loan_no,
                "used_before": str(before),
                "used_after": str(after),
                "credit_limit": str(limit),
                "rise_pct": str(rise.quantize(Decimal("0.1"))),
                "utilisation_pct": str(level.quantize(Decimal("0.1"))),
            },
            dedupe_key=f"{KIND}:{event.loan_no}",
            event_pk=event.pk,
        )
    ]
