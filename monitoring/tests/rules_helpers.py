"""Helpers of the rule tests: post events through the real ingestion path, read the alerts."""

from __future__ import annotations

from typing import Any

from monitoring.models import Alert, Rule, RuleVersion
from monitoring.services import event_ingest, rule_version_activate, rule_version_draft
from monitoring.tests.factories import DrawdownEventFactory


def post(*events: dict[str, Any]) -> list[dict[str, Any]]:
    """Record events as the lending core's batch (the system as actor)."""
    return event_ingest(actor=None, events=list(events))


def alerts(kind: str) -> list[Alert]:
    return list(
        Alert.objects.filter(rule_version__rule__kind=kind)
        .select_related("rule_version", "rule_version__rule")
        .order_by("occurred_at", "id")
    )


# When the tests' managed lists change: before their February events.
LIST_CHANGED = "2026-02-01T00:00:00+08:00"


def feb(day: int, hour: int, minute: int = 0, second: int = 0) -> str:
    return f"2026-02-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}+08:00"


def drawdown(at: str, amount: str = "500.00", **extra: Any) -> dict[str, Any]:
    return DrawdownEventFactory(occurred_at=at, amount=amount, **extra)


def set_params(kind: str, **params: Any) -> RuleVersion:
    """A new active version of the rule with these thresholds (as a manager would)."""
    version = rule_version_draft(actor=None, rule=Rule.objects.get(kind=kind), params=params)
    return rule_version_activate(actor=None, version=version)
