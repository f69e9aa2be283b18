"""Large withdrawal off-hours: a drawdown of at least X yuan, or at least Y% of the limit,
outside working hours (Shanghai wall-clock time; the hours are parameters).

Working hours run from `work_start` (inclusive) to `work_end` (exclusive); a `work_end`
earlier than `work_start` means they run past midnight. A borrower whose employer is on the
trusted-employers list (shift workers, say) is not judged by this rule.
"""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, ListKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, Hit, local_time, money
from monitoring.rules.params import Param

KIND = RuleKind.OFF_HOURS_WITHDRAWAL
CATEGORY = AlertCategory.FRAUD
SEVERITY = Severity.MEDIUM
TRIGGERS = frozenset({EventKind.DRAWDOWN})
LISTS: tuple[str, ...] = (ListKind.TRUSTED_EMPLOYERS,)
PARAMS = (
    Param("work_start", "time", "07:00", _("Working hours from")),
    Param("work_end", "time", "23:00", _("Working hours until")),
    Param("min_amount", "decimal", "5000.00", _("At least (yuan)"), minimum=Decimal("0.01")),
    Param(
        "min_limit_pct",
        "decimal",
        "80",
        _("Or at least this share of the limit (%)"),
        minimum=Decimal("0.01"),
        maximum=Decimal(100),
    ),
)


def lookback(params: dict[str, Any]) -> timedelta:
    return timedelta(0)


def _clock(value: str) -> time:
    hour, minute = value.split(":")
    return time(int(hour), int(minute))


def in_working_hours(at: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= at < end
    return at >= start or at < end  # working hours past midnight


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    if event.kind != EventKind.DRAWDOWN or event.amount is None:
        return []
    when = local_time(event.occurred_at)
    if in_working_hours(when, _clock(params["work_start"]), _clock(params["work_end"])):
        return []
    if history.lists.has(ListKind.TRUSTED_EMPLOYERS, history.employer, at=event.occurred_at):
        return []
    limit = history.limit_at(event.occurred_at)  # the limit the drawdown met, not today's
    share = event.amount / limit * 100 if limit > 0 else Decimal(0)
    by_amount = event.amount >= money(params["min_amount"])
    by_share = share >= money(params["min_limit_pct"])
    if not (by_amount or by_share):
        return []
    return [
        Hit(
            kind=KIND,
            borrower_id=event.borrower_id,
            occurred_at=event.occurred_at,
            evidence={
                "event_id": event.event_id,
                "loan_no": event.loan_no,
                "amount": str(event.amount),
                "local_time": when.strftime("%H:%M"),
                "share_of_limit_pct": str(share.quantize(Decimal("0.1"))),
                "credit_limit": str(limit),
            },
            dedupe_key=f"{KIND}:{event.loan_no}",
            event_pk=event.pk,
        )
    ]
