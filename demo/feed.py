"""Synthetic lending-core events for the demo (RISKOPS_DEMO_FEED): reads the book, writes nothing.

The demo feed task posts what this builds through the real ingestion service, so the demo
book keeps moving the way the lending core would move it: mostly repayments of instalments
that just fell due, now and then a login, a new device or a new drawdown. A given minute
(`seed`) always builds the same events from the same book, and event ids are made from the
minute, so a redelivered task replays instead of posting twice.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max
from django.utils import timezone

from lending.choices import DrawdownStatus, LineStatus, Purpose, RepaymentMode
from lending.models import BankAccount, CreditLine, Device, Instalment

# How far back a due instalment counts as "just fell due" (an on-time or nearly on-time
# payment); older arrears are left to the seeded story of each borrower.
RECENT_DUE_DAYS = 7
PLATFORMS = ("android", "ios")
# Drawdown scenarios in rough market proportions (daily consumption dominates).
PURPOSE_WEIGHTS = {
    Purpose.DAILY_CONSUMPTION: 55,
    Purpose.TRAVEL: 12,
    Purpose.EDUCATION: 8,
    Purpose.HOME: 12,
    Purpose.MEDICAL: 5,
    Purpose.OTHER: 8,
}


def demo_events_build(*, now: datetime, seed: int) -> list[dict[str, Any]]:
    """A handful of plausible events for the minute `now`, as the API would receive them."""
    rng = random.Random(seed)  # noqa: S311 -- demo data: reproducible, not secret
    stamp = timezone.localtime(now).strftime("%Y%m%d%H%M")
    when = now.isoformat()
    events: list[dict[str, Any]] = []
    today = timezone.localdate(now)

    due = list(
        Instalment.objects.filter(
            paid_off_at__isnull=True,
            due_date__lte=today,
            due_date__gte=today - timedelta(days=RECENT_DUE_DAYS),
            drawdown__status=DrawdownStatus.ACTIVE,
        )
        .select_related("drawdown__borrower")
        .order_by("due_date", "id")[:200]
    )
    by_loan = {inst.drawdown_id: inst for inst in due}  # one repayment per loan per minute
    picks = rng.sample(sorted(by_loan.values(), key=lambda i: i.pk), k=min(len(by_loan), 3))
    for n, inst in enumerate(picks):
        if inst.remaining <= 0:
            continue
        events.append(
            {
                "event_id": f"demo-{stamp}-repay-{n}",
                "kind": "repayment",
                "occurred_at": when,
                "customer_no": inst.drawdown.borrower.customer_no,
                "loan_no": inst.drawdown.loan_no,
                "amount": str(inst.remaining),
            }
        )

    if rng.random() < 0.5:
        device = _random_row(Device.objects.select_related("borrower"), rng)
        if device is not None:
            events.append(
                {
                    "event_id": f"demo-{stamp}-login",
                    "kind": "login",
                    "occurred_at": when,
                    "customer_no": device.borrower.customer_no,
                    "device_id": device.device_id,
                    "platform": device.platform or rng.choice(PLATFORMS),
                }
            )
    if rng.random() < 0.1:
        line = _random_row(CreditLine.objects.select_related("borrower"), rng)
        if line is not None:
            events.append(
                {
                    "event_id": f"demo-{stamp}-device",
                    "kind": "device_change",
                    "occurred_at": when,
                    "customer_no": line.borrower.customer_no,
                    "device_id": f"demo-dev-{stamp}",
                    "platform": rng.choice(PLATFORMS),
                }
            )
    if rng.random() < 0.2:
        drawdown = _drawdown_event(rng, stamp=stamp, when=when)
        if drawdown is not None:
            events.append(drawdown)
    return events


def _random_row(queryset: Any, rng: random.Random) -> Any:
    """A random row by id, without counting the table (fast on a million rows)."""
    top = queryset.aggregate(top=Max("id"))["top"]
    if top is None:
        return None
    return queryset.filter(id__gte=rng.randint(1, top)).order_by("id").first()


def _drawdown_event(rng: random.Random, *, stamp: str, when: str) -> dict[str, Any] | None:
    line = _random_row(
        CreditLine.objects.filter(status=LineStatus.ACTIVE).select_related("borrower"), rng
    )
    if line is None:
        return None
    wanted = Decimal(rng.choice([500, 1000, 2000, 3000, 5000, 8000]))
    amount = min(wanted, (line.available // 100) * 100)
    if amount < 500:
        return None
    account = (
        BankAccount.objects.filter(borrower_id=line.borrower_id).order_by("-last_seen_at").first()
    )
    purposes = list(PURPOSE_WEIGHTS)
    return {
        "event_id": f"demo-{stamp}-draw",
        "kind": "drawdown",
        "occurred_at": when,
        "customer_no": line.borrower.customer_no,
        "loan_no": f"DEMO{stamp}",
        "amount": str(amount),
        "term_months": rng.choice([3, 6, 6, 12, 12, 12]),
        "repayment_mode": rng.choice(RepaymentMode.values),
        "purpose": str(rng.choices(purposes, weights=list(PURPOSE_WEIGHTS.values()))[0]),
        "card_no": account.card_no if account else f"62220200{rng.randint(0, 10**8 - 1):08d}",
        "bank_name": account.bank_name if account else "ICBC",
    }
