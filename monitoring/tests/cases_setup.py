"""Test setup for the case tests: borrowers with lines, rule versions and alert rows.

Until the rules engine raises alerts, the tests write Alert rows directly (setup, not the
behaviour under test) and send alerts_raised as the engine will.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from lending.models import Borrower, CreditLine
from monitoring.choices import AlertCategory, RuleKind, RuleVersionStatus, Severity
from monitoring.models import Alert, Rule, RuleVersion
from monitoring.signals import alerts_raised

TZ = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def make_borrower(*, used: str = "0.00", limit: str = "20000.00") -> Borrower:
    n = next(_seq)
    borrower = Borrower.objects.create(
        customer_no=f"C9{n:07d}",
        name="王五",
        national_id=f"1101011990030{n:05d}"[:18],
        national_id_last4=f"{n:04d}"[-4:],
        mobile=f"139{n:08d}",
        mobile_last4=f"{n:04d}"[-4:],
        city="Shanghai",
        employer="Acme",
        income_band="5k_10k",
        registered_at=datetime(2026, 1, 5, 10, 0, tzinfo=TZ),
    )
    CreditLine.objects.create(
        borrower=borrower,
        credit_limit=Decimal(limit),
        used=Decimal(used),
        daily_rate=Decimal("0.000500"),
        opened_at=datetime(2026, 1, 5, 10, 0, tzinfo=TZ),
    )
    return borrower


def rule_version(
    kind: str = RuleKind.SMALL_DRAWDOWN_VELOCITY, category: str = "fraud"
) -> RuleVersion:
    rule, _ = Rule.objects.get_or_create(kind=kind, defaults={"category": category})
    version, _ = RuleVersion.objects.get_or_create(
        rule=rule,
        version=1,
        defaults={
            "severity": Severity.HIGH,
            "status": RuleVersionStatus.ACTIVE,
            "created_at": timezone.now(),
        },
    )
    return version


def make_alert(
    borrower: Borrower,
    *,
    category: str = AlertCategory.FRAUD,
    severity: int = Severity.HIGH,
    kind: str = RuleKind.SMALL_DRAWDOWN_VELOCITY,
) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        borrower=borrower,
        rule_version=rule_version(kind, category),
        category=category,
        severity=severity,
        evidence={"events": ["evt-1"]},
        occurred_at=now,
        raised_at=now,
        dedupe_key=f"k{next(_seq)}",
    )


def raise_alerts(*alerts: Alert) -> None:
    """What the engine does after its transaction commits."""
    alerts_raised.send(sender=Alert, alert_ids=[a.pk for a in alerts])
