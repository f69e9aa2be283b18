"""Reads of overrides and risk flags shared by pages, the API, tasks and other apps.

- fraud_confirmed_ids / pending_override_ids: which of some borrowers carry an open
  confirmed-fraud flag / a proposal in flight (the limit policy leaves those lines alone);
- the approver's inbox (what this person may decide, oldest first), the proposer's own
  proposals, a proposal with the access check, and the override performance report.
(To be folded into decisions.selectors by the integrator.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from accounts.choices import STAFF_ROLES
from decisions.models import Score
from decisions.models.flags import RiskFlag, RiskFlagKind
from decisions.models.overrides import (
    OPEN_STATUSES,
    OverrideKind,
    OverrideProposal,
    OverrideStatus,
)
from decisions.services.overrides import (
    active_rules,
    authority_for,
    change_of,
    policy_rules_in_force,
    sla_hours,
)

if TYPE_CHECKING:
    from accounts.models import User


def fraud_confirmed_ids(borrower_ids: Iterable[int]) -> set[int]:
    """Those of `borrower_ids` with an open confirmed-fraud flag."""
    ids = set(borrower_ids)
    if not ids:
        return set()
    # The span of the ids, not IN: a chunk of a book-wide run is 20,000 ids, whose parameters
    # cost more to send and plan than the few flags found; those outside `ids` are dropped.
    found = RiskFlag.objects.filter(
        borrower_id__gte=min(ids),
        borrower_id__lte=max(ids),
        kind=RiskFlagKind.FRAUD_CONFIRMED,
        cleared_at=None,
    ).values_list("borrower_id", flat=True)
    return ids.intersection(found)


def pending_override_ids(borrower_ids: Iterable[int]) -> set[int]:
    """Those of `borrower_ids` with a proposal in flight (awaiting a decision or sent back for
    changes): the limit policy never changes those lines automatically."""
    ids = set(borrower_ids)
    if not ids:
        return set()
    # The span of the ids, not IN (as fraud_confirmed_ids).
    found = (
        OverrideProposal.objects.filter(
            borrower_id__gte=min(ids), borrower_id__lte=max(ids), status__in=OPEN_STATUSES
        )
        .values_list("borrower_id", flat=True)
        .distinct()
    )
    return ids.intersection(found)


def _base() -> QuerySet[OverrideProposal]:
    return OverrideProposal.objects.select_related(
        "reason", "proposed_by", "decided_by", "line", "borrower"
    )


@dataclass(frozen=True)
class QueueItem:
    proposal: OverrideProposal
    age: timedelta
    overdue: bool
    step_up: bool


def inbox_for(user: User) -> list[QueueItem]:
    """What `user` may decide now, oldest first: pending, not their own, within their
    authority both in the band it was proposed in and in the borrower's CURRENT risk band, as
    approval judges it (a borrower re-scored into a worse band since the proposal leaves the
    inbox of those whose authority stops short of it; one re-scored into a better band does
    not enter it, since what was proposed was judged on the worse one). (Pending proposals
    are few, hundreds at most: judged here one by one against the matrix, which is a handful
    of rows read once.) Three queries: the proposals with each borrower's latest acting
    score, the matrix, the policy in force."""
    if not user.is_active or user.role not in STAFF_ROLES:
        return []
    rules = active_rules()
    now = timezone.now()
    sla = timedelta(hours=sla_hours())
    items = []
    latest_score = (
        Score.objects.filter(borrower_id=OuterRef("borrower_id"), acting=True)
        .order_by("-scored_at", "-id")
        .values("total")[:1]
    )
    pending = (
        _base()
        .filter(status=OverrideStatus.PENDING, expires_at__gt=now)
        .exclude(proposed_by=user)
        .annotate(current_score=Subquery(latest_score))
        .order_by("submitted_at", "id")
    )
    policy = policy_rules_in_force()
    for p in pending:
        band = policy.band_for(p.current_score).name
        proposed = authority_for(user.role, change_of(p), rules)
        authority = authority_for(user.role, replace(change_of(p), band=band), rules)
        if proposed.may_decide and authority.may_decide:
            age = now - p.submitted_at
            items.append(QueueItem(p, age, age > sla, authority.step_up))
    return items


def next_in_inbox(user: User, *, after: OverrideProposal | None = None) -> OverrideProposal | None:
    """The oldest proposal `user` may decide, other than `after`."""
    for item in inbox_for(user):
        if after is None or item.proposal.pk != after.pk:
            return item.proposal
    return None


def proposals_by(user: User) -> QuerySet[OverrideProposal]:
    """The proposals `user` made, those sent back first, then the newest."""
    return _base().filter(proposed_by=user).order_by("-submitted_at", "-id")


def proposals_all(*, status: str = "") -> QuerySet[OverrideProposal]:
    qs = _base().order_by("-submitted_at", "-id")
    if status:
        qs = qs.filter(status=status)
    return qs


def proposals_for_borrower(borrower_id: int) -> QuerySet[OverrideProposal]:
    return _base().filter(borrower_id=borrower_id).order_by("-submitted_at", "-id")


def proposal_for(user: User, pk: int) -> OverrideProposal:
    """A proposal the user may see (all risk staff see every proposal: the queue is
    transparent to the team); Http404 otherwise, so its existence is not confirmed."""
    if not user.is_authenticated or not user.is_active or user.role not in STAFF_ROLES:
        raise Http404
    proposal = _base().filter(pk=pk).first()
    if proposal is None:
        raise Http404
    return proposal


# --- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PerformanceRow:
    group: str
    label: str
    lines: int
    delinquent: int

    @property
    def share(self) -> Decimal | None:
        if not self.lines:
            return None
        return (Decimal(self.delinquent) / Decimal(self.lines)).quantize(Decimal("0.0001"))


def override_performance(*, dpd_at_least: int = 1) -> dict[str, Any]:
    """Later performance of overridden lines against lines the policy alone set: the share of
    lines now `dpd_at_least` days or more past due, overall and by kind and reason code of
    their latest approved override."""
    from lending.models import CreditLine  # decisions reads the book it stands on

    today = timezone.localdate()
    due_before = today - timedelta(days=dpd_at_least - 1)
    approved = (
        OverrideProposal.objects.filter(status=OverrideStatus.APPROVED)
        .order_by("line_id", "-decided_at")
        .values("line_id", "kind", "reason__code", "reason__label", "reason__label_zh")
    )
    latest: dict[int, dict[str, Any]] = {}
    for row in approved:
        latest.setdefault(row["line_id"], dict(row))
    overridden_ids = list(latest)
    delinquent_ids = set(
        CreditLine.objects.filter(
            pk__in=overridden_ids, oldest_unpaid_due__lt=due_before
        ).values_list("pk", flat=True)
    )
    policy_lines = CreditLine.objects.exclude(pk__in=overridden_ids)
    policy_total = policy_lines.count()
    policy_bad = policy_lines.filter(oldest_unpaid_due__lt=due_before).count()

    def rows(key: str, label_of: Any) -> list[PerformanceRow]:
        groups: dict[str, list[int]] = {}
        labels: dict[str, str] = {}
        for line_id, row in latest.items():
            groups.setdefault(row[key], []).append(line_id)
            labels[row[key]] = label_of(row)
        return [
            PerformanceRow(g, labels[g], len(ids), sum(1 for i in ids if i in delinquent_ids))
            for g, ids in sorted(groups.items())
        ]

    from django.utils import translation

    zh = (translation.get_language() or "").lower().startswith("zh")
    return {
        "dpd_at_least": dpd_at_least,
        "overridden": PerformanceRow("overridden", "", len(overridden_ids), len(delinquent_ids)),
        "policy": PerformanceRow("policy", "", policy_total, policy_bad),
        "by_kind": rows("kind", lambda r: str(OverrideKind(r["kind"]).label)),
        "by_reason": rows(
            "reason__code",
            lambda r: r["reason__label_zh"] if zh and r["reason__label_zh"] else r["reason__label"],
        ),
    }


def borrower_behaviour(borrower_id: int) -> dict[str, Any]:
    """What an approver reads beside a proposal: the line today (limit, used, days past due),
    the last loans and repayments, the last transfers to other lenders, and the borrower's
    earlier overrides. The name is masked (accounts.masking)."""
    from accounts.masking import mask_name
    from lending.models import CreditLine, Drawdown, Repayment, TransferOut
    from lending.selectors import line_dpd

    line = CreditLine.objects.select_related("borrower").get(borrower_id=borrower_id)
    since = timezone.now() - timedelta(days=90)
    return {
        "line": line,
        "masked_name": mask_name(line.borrower.name),
        "dpd": line_dpd(line, timezone.localdate()),
        "drawdowns": list(
            Drawdown.objects.filter(borrower_id=borrower_id).order_by("-disbursed_at")[:5]
        ),
        "repayments": list(
            Repayment.objects.filter(borrower_id=borrower_id).order_by("-paid_at")[:5]
        ),
        "lender_transfers_90d": TransferOut.objects.filter(
            borrower_id=borrower_id, counterparty_is_lender=True, occurred_at__gte=since
        ).count(),
        "earlier": list(proposals_for_borrower(borrower_id)[:10]),
        "fraud_flag": RiskFlag.objects.filter(
            borrower_id=borrower_id, kind=RiskFlagKind.FRAUD_CONFIRMED, cleared_at=None
        ).first(),
    }
