"""The system's override jobs (beat tasks): expire proposals left waiting, return temporary
limits at their end. Each proposal in its own transaction, audited."""

from __future__ import annotations

from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from decisions.errors.overrides import HardBlock
from decisions.models.overrides import (
    OPEN_STATUSES,
    Direction,
    OverrideKind,
    OverrideProposal,
    OverrideStatus,
)
from decisions.services.overrides import _hard_blocks
from lending.choices import LineStatus, LineStatusCode
from lending.models import CreditLine
from lending.services import line_limit_set

# --- the system's jobs ------------------------------------------------------------------------


def overrides_expire(*, now: datetime | None = None) -> int:
    """Expire every proposal in flight past its time (awaiting a decision, or sent back and
    not resubmitted), each in its own transaction (a row an
    approver holds is skipped and picked up next time). Writes "override.expired". Returns
    how many expired."""
    now = now or timezone.now()
    ids = list(
        OverrideProposal.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            proposal = (
                OverrideProposal.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status__in=OPEN_STATUSES, expires_at__lte=now)
                .first()
            )
            if proposal is None:
                continue
            before = proposal.status
            proposal.status = OverrideStatus.EXPIRED
            proposal.decided_at = now
            proposal.save(update_fields=["status", "decided_at"])
            audit(
                actor=None,
                action="override.expired",
                obj=proposal,
                borrower_id=proposal.borrower_id,
                before={"status": before},
                after={"status": proposal.status, "expires_at": proposal.expires_at},
            )
            done += 1
    return done


def temporary_limits_revert(*, today: date | None = None) -> int:
    """Return each temporary limit whose last day has passed to the limit before it, each in
    its own transaction, through line_limit_set (audited, with the borrower's notice). A line
    whose limit another decision changed meanwhile, or that is closed, is left as it is (the
    override is marked done, audited "override.revert_skipped"). Returns how many reverted."""
    today = today or timezone.localdate()
    ids = list(
        OverrideProposal.objects.filter(
            kind=OverrideKind.TEMPORARY,
            status=OverrideStatus.APPROVED,
            reverted_at=None,
            until__lt=today,
        ).values_list("pk", flat=True)
    )
    done = 0
    for pk in ids:
        with transaction.atomic():
            proposal = (
                OverrideProposal.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, reverted_at=None)
                .first()
            )
            if proposal is None:
                continue
            line = CreditLine.objects.select_for_update().get(pk=proposal.line_id)
            proposal.reverted_at = timezone.now()
            proposal.save(update_fields=["reverted_at"])
            if line.status == LineStatus.CLOSED or line.credit_limit != proposal.new_limit:
                audit(
                    actor=None,
                    action="override.revert_skipped",
                    obj=proposal,
                    borrower_id=proposal.borrower_id,
                    after={"line_limit": line.credit_limit, "line_status": line.status},
                )
                continue
            target = proposal.revert_to if proposal.revert_to is not None else proposal.old_limit
            # Returning from a temporary cut lends more: the hard blocks hold for the system
            # too (a borrower since marked a confirmed fraud, a line priced above the APR
            # ceiling, a product cap lowered meanwhile). Such a line keeps its lower limit.
            direction = Direction.INCREASE if target > line.credit_limit else Direction.DECREASE
            try:
                _hard_blocks(line=line, direction=direction, new_limit=target)
            except HardBlock as exc:
                audit(
                    actor=None,
                    action="override.revert_skipped",
                    obj=proposal,
                    borrower_id=proposal.borrower_id,
                    after={
                        "line_limit": line.credit_limit,
                        "revert_to": target,
                        "blocked": exc.code,
                    },
                    note=exc.message,
                )
                continue
            line_limit_set(
                actor=None,
                line=line,
                new_limit=target,
                reason_code=LineStatusCode.OVERRIDE,
                note=f"override #{proposal.pk}: temporary limit ended {proposal.until}",
            )
            audit(
                actor=None,
                action="override.reverted",
                obj=proposal,
                borrower_id=proposal.borrower_id,
                before={"credit_limit": proposal.new_limit},
                after={"credit_limit": proposal.revert_to, "until": proposal.until},
            )
            done += 1
    return done
