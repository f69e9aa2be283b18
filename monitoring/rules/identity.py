"""Identity rules: the identity cross-check mismatched, and one identity on several
borrowers.

Identity cross-check mismatched: judged on the kinds of event chosen (drawdowns by default:
money about to leave), when the borrower's latest cross-check (lending's
identity_check_record) said "mismatched" at or before the event. One hit per check.

One identity on several borrowers: judged on line openings and drawdowns; other borrowers
with the same national ID number or mobile number, registered by the event's time. One hit
per set of other borrowers (a new one sharing it raises a new hit).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, Hit
from monitoring.rules.params import Param

MISMATCH_KIND = RuleKind.IDENTITY_MISMATCH
SHARED_KIND = RuleKind.SHARED_IDENTITY
CATEGORY = AlertCategory.FRAUD
MISMATCH_SEVERITY = Severity.HIGH
SHARED_SEVERITY = Severity.HIGH
MISMATCH_TRIGGERS = frozenset(EventKind.values)
SHARED_TRIGGERS = frozenset({EventKind.LINE_OPENED, EventKind.DRAWDOWN})
MISMATCH_PARAMS = (
    Param("on_kinds", "kinds", [EventKind.DRAWDOWN.value], _("Judged on these events")),
)
SHARED_PARAMS = (
    Param(
        "on_kinds", "kinds", sorted(k.value for k in SHARED_TRIGGERS), _("Judged on these events")
    ),
    Param("by_national_id", "bool", True, _("Same national ID number")),
    Param("by_mobile", "bool", True, _("Same mobile number")),
)


def lookback(params: dict[str, Any]) -> timedelta:
    return timedelta(0)


def evaluate_mismatch(
    params: dict[str, Any], history: BorrowerHistory, event: EventView
) -> list[Hit]:
    checked = history.identity_checked_at
    if (
        event.kind not in params["on_kinds"]
        or history.identity_check != "mismatched"
        or checked is None
        or checked > event.occurred_at
    ):
        return []
    return [
        Hit(
            kind=MISMATCH_KIND,
            borrower_id=event.borrower_id,
            occurred_at=event.occurred_at,
            evidence={
                "event_id": event.event_id,
                "loan_no": event.loan_no,
                "checked_at": checked.isoformat(),
            },
            dedupe_key=f"{MISMATCH_KIND}:{checked.isoformat()}",
            event_pk=event.pk,
        )
    ]


def evaluate_shared(
    params: dict[str, Any], history: BorrowerHistory, event: EventView
) -> list[Hit]:
    if event.kind not in params["on_kinds"]:
        return []
    fields = {"national_id"} if params["by_national_id"] else set()
    if params["by_mobile"]:
        fields.add("mobile")
    others = [o for o in history.same_identity if o.what in fields and o.since <= event.occurred_at]
    if not others:
        return []
    ids = sorted({o.borrower_id for o in others})
    return [
        Hit(
            kind=SHARED_KIND,
            borrower_id=event.borrower_id,
            occurred_at=event.occurred_at,
            evidence={
                "event_id": event.event_id,
                "shared_with": sorted({o.customer_no for o in others}),
                "fields": sorted({o.what for o in others}),
            },
            dedupe_key=f"{SHARED_KIND}:" + ",".join(str(i) for i in ids)[:100],
            event_pk=event.pk,
        )
    ]
