"""New device, then a maximum drawdown: a drawdown of at least P% of what was available,
from a device first seen at most H hours before it.

Judged on each drawdown. The device is the drawdown's own when the lending core named it;
otherwise any device first seen in those H hours (a login or device change just before).
With `require_prior_device` on (the default) a borrower's very first device is not "new":
the rule looks for a change of device, not a first login. Trusted devices are skipped.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, ListKind, RuleKind, Severity
from monitoring.rules.base import ZERO, BorrowerHistory, EventView, Hit, hours, money
from monitoring.rules.params import Param

KIND = RuleKind.NEW_DEVICE_MAX_DRAWDOWN
CATEGORY = AlertCategory.FRAUD
SEVERITY = Severity.HIGH
TRIGGERS = frozenset({EventKind.DRAWDOWN})
LISTS: tuple[str, ...] = (ListKind.TRUSTED_DEVICES,)
PARAMS = (
    Param("device_new_hours", "decimal", "24", _("Device first seen within (hours)"), Decimal(0)),
    Param(
        "min_available_pct",
        "decimal",
        "90",
        # xgettext:no-python-format
        _("Drawdown at least (% of available)"),
        Decimal(1),
        Decimal(100),
    ),
    Param("require_prior_device", "bool", True, _("Only when another device was seen before")),
)


def lookback(params: dict[str, Any]) -> timedelta:
    return hours(params["device_new_hours"])


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    if event.kind != EventKind.DRAWDOWN or event.amount is None:
        return []
    at = event.occurred_at
    since = at - lookback(params)
    drawdown = next((d for d in history.drawdowns if d.pk == event.drawdown_id), None)
    if drawdown is not None and drawdown.device_pk is not None:
        named = history.devices.get(drawdown.device_pk)
        candidates = [named] if named is not None else []
    else:
        candidates = list(history.devices.values())
    new = [
        device
        for device in candidates
        if since <= device.first_seen_at <= at
        and not history.lists.has(ListKind.TRUSTED_DEVICES, device.device_id, at=at)
        and (
            not params["require_prior_device"]
            or any(
                other.first_seen_at < device.first_seen_at
                for other in history.devices.values()
                if other.pk != device.pk
            )
        )
    ]
    if not new:
        return []
    used_before = history.used_at(at) - event.amount
    available = max(history.limit_at(at) - used_before, ZERO)  # the limit then, not today's
    if available <= 0 or event.amount / available * 100 < money(params["min_available_pct"]):
        return []
    device = new[0]
    return [
        Hit(
            kind=KIND,
            borrower_id=event.borrower_id,
            occurred_at=at,
            evidence={
                "event_id": event.event_id,
                "loan_no": event.loan_no,
                "amount": str(event.amount),
                "available_before": str(available),
                "device_id": device.device_id,
                "device_first_seen": device.first_seen_at.isoformat(),
            },
            dedupe_key=f"{KIND}:{event.loan_no}",
            event_pk=event.pk,
        )
    ]
