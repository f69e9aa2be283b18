"""Demo override proposals: pending ones of several sizes and kinds, so each demo approver
(senior, manager, head) opens a queue holding exactly what the authority matrix lets them
decide, plus one sent back for changes in the analyst's own list.

Call `demo_overrides_seed()` once the book and the scores exist (after seed_decisions);
it proposes through decisions.services (audited, as staff would) and is a no-op when any
proposal is already open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone

from accounts.models import User
from decisions.models import OverrideProposal
from decisions.models.overrides import OPEN_STATUSES
from decisions.selectors.overrides import fraud_confirmed_ids
from decisions.services import override_propose, override_request_changes
from decisions.services.override_defaults import ensure_override_defaults
from decisions.services.overrides import band_and_score
from lending import caps, money
from lending.choices import LineStatus
from lending.models import CreditLine

if TYPE_CHECKING:
    from collections.abc import Iterable


@dataclass(frozen=True)
class Slot:
    """One demo proposal: what it changes, on a line in which bands, from whom."""

    kind: str
    increase: Decimal | None  # + up, - down; None: freeze/unfreeze
    bands: str
    min_limit: Decimal
    reason: str
    justification: str
    by: str = "analyst"
    age_hours: int = 2


SLOTS = (
    # Decided by a senior analyst, a manager or the head of risk.
    Slot(
        "limit",
        Decimal("-2000"),
        "ABCDE",
        Decimal("4000"),
        "hardship",
        "Lost a second job; asked for a lower limit to avoid overspending.",
        age_hours=30,
    ),
    Slot(
        "freeze",
        None,
        "CDE",
        Decimal("0"),
        "fraud_suspicion",
        "Three new devices in a day and a changed bank card; freeze while we check.",
        age_hours=5,
    ),
    Slot(
        "limit",
        Decimal("3000"),
        "ABC",
        Decimal("5000"),
        "new_income",
        "Payslips for three months show a raise to ¥14,000 a month.",
        age_hours=26,
    ),
    # A manager or the head of risk.
    Slot(
        "temporary",
        Decimal("12000"),
        "ABCD",
        Decimal("8000"),
        "vip_retention",
        "Long-standing customer, never late; wedding expenses for two months.",
    ),
    Slot(
        "limit",
        Decimal("30000"),
        "ABCD",
        Decimal("20000"),
        "new_income",
        "Promotion letter and tax record: income doubled (password asked above ¥20,000).",
    ),
    Slot(
        "unfreeze",
        None,
        "ABCDE",
        Decimal("0"),
        "data_correction",
        "Frozen on a bureau record that belonged to another person; corrected by the bureau.",
    ),
    # The head of risk only.
    Slot(
        "limit",
        Decimal("60000"),
        "AB",
        Decimal("30000"),
        "vip_retention",
        "Private-banking client moving their credit line to us; statements attached.",
    ),
    # Proposed by the manager: the senior analyst and the head of risk see it, never the
    # manager (four eyes).
    Slot(
        "limit",
        Decimal("2000"),
        "ABC",
        Decimal("3000"),
        "customer_request",
        "Asked by phone for a small raise; income verified last month.",
        by="manager",
    ),
)


def _candidates(scan: int) -> Iterable[CreditLine]:
    ceiling = caps.apr_ceiling()
    busy = set(
        OverrideProposal.objects.filter(status__in=OPEN_STATUSES).values_list("line_id", flat=True)
    )
    lines = list(
        CreditLine.objects.exclude(status=LineStatus.CLOSED)
        .filter(oldest_unpaid_due__isnull=True)
        .order_by("pk")[:scan]
    )
    flagged = fraud_confirmed_ids([line.borrower_id for line in lines])
    for line in lines:
        if line.pk in busy or line.borrower_id in flagged:
            continue
        if money.simple_apr(line.daily_rate) > ceiling:
            continue
        yield line


def _fits(slot: Slot, line: CreditLine, band: str) -> bool:
    if band not in slot.bands or line.credit_limit < slot.min_limit:
        return False
    if slot.kind == "unfreeze":
        return line.status == LineStatus.FROZEN
    if line.status != LineStatus.ACTIVE:
        return False
    if slot.increase is not None:
        return line.credit_limit + slot.increase <= caps.product_limit_cap()
    return True


def demo_overrides_seed(*, scan: int = 5000) -> list[OverrideProposal]:
    """Propose the demo slots on fitting lines (the first `scan` lines, by id); returns the
    proposals made ([] if any proposal is already open, or the demo logins are missing)."""
    ensure_override_defaults()
    if OverrideProposal.objects.filter(status__in=OPEN_STATUSES).exists():
        return []
    users = {u.username: u for u in User.objects.filter(username__in=["analyst", "manager"])}
    if len(users) < 2:
        return []
    todo = list(SLOTS)
    made: list[OverrideProposal] = []
    used: set[int] = set()
    for line in _candidates(scan):
        if not todo:
            break
        band, _score = band_and_score(line.borrower_id)
        slot = next((s for s in todo if _fits(s, line, band)), None)
        if slot is None or line.pk in used:
            continue
        new_limit = line.credit_limit + slot.increase if slot.increase is not None else None
        until = timezone.localdate() + timedelta(days=60) if slot.kind == "temporary" else None
        proposal = override_propose(
            actor=users[slot.by],
            line=line,
            kind=slot.kind,
            new_limit=new_limit,
            until=until,
            reason_code=slot.reason,
            justification=slot.justification,
        )
        # Back-date the submission so the queue shows ageing and the SLA (demo data only).
        back = timezone.now() - timedelta(hours=slot.age_hours)
        OverrideProposal.objects.filter(pk=proposal.pk).update(proposed_at=back, submitted_at=back)
        made.append(proposal)
        used.add(line.pk)
        todo.remove(slot)
    # One sent back to the analyst, who edits and resubmits it.
    sent_back = next(
        (
            p
            for p in made
            if p.kind == "limit"
            and p.proposed_by.username == "analyst"
            and p.new_limit
            and p.new_limit - p.old_limit == Decimal("3000")
        ),
        None,
    )
    head = User.objects.filter(username="head").first()
    if sent_back is not None and head is not None:
        override_request_changes(
            actor=head,
            proposal=sent_back,
            note="Attach the payslips themselves, not a screenshot of the banking app.",
        )
    return made
