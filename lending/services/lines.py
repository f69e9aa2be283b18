"""Decisions on a credit line: freeze, unfreeze, and the repair of its derived fields."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from accounts.audit import audit
from lending.choices import (
    LineStatus,
)
from lending.errors import (
    AlreadyFrozen,
    LineClosed,
    NotFrozen,
    ReasonRequired,
)
from lending.models import (
    CreditLine,
)
from lending.services._common import (
    _line_sync,
    _lock_line,
    _require_staff,
)

if TYPE_CHECKING:
    from accounts.models import User


# --- line decisions ---------------------------------------------------------------------------


def _line_status_change(
    *, actor: User | None, line: CreditLine, reason: str, freeze: bool
) -> CreditLine:
    _require_staff(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    line = _lock_line(line.borrower_id)
    if line.status == LineStatus.CLOSED:
        raise LineClosed()
    if freeze and line.status == LineStatus.FROZEN:
        raise AlreadyFrozen()
    if not freeze and line.status != LineStatus.FROZEN:
        raise NotFrozen()
    before = {"status": line.status, "status_reason": line.status_reason}
    line.status = LineStatus.FROZEN if freeze else LineStatus.ACTIVE
    line.status_reason = reason[:200]
    line.save(update_fields=["status", "status_reason"])
    audit(
        actor=actor,
        action="line.frozen" if freeze else "line.unfrozen",
        obj=line,
        borrower_id=line.borrower_id,
        before=before,
        after={"status": line.status, "status_reason": line.status_reason},
        note=reason,
    )
    return line


@transaction.atomic  # not durable: event ingestion and other apps' decisions compose it
def line_freeze(*, actor: User | None, line: CreditLine, reason: str) -> CreditLine:
    """Freeze a line: it takes no new drawdown until unfrozen; repayments still come in.

    Raises NotAllowed (a User actor who is not active risk staff), ReasonRequired (blank),
    LineClosed, AlreadyFrozen.
    """
    return _line_status_change(actor=actor, line=line, reason=reason, freeze=True)


@transaction.atomic  # not durable: event ingestion and other apps' decisions compose it
def line_unfreeze(*, actor: User | None, line: CreditLine, reason: str) -> CreditLine:
    """Unfreeze a frozen line so it can be drawn again.

    Raises NotAllowed (a User actor who is not active risk staff), ReasonRequired (blank),
    LineClosed, NotFrozen.
    """
    return _line_status_change(actor=actor, line=line, reason=reason, freeze=False)


@transaction.atomic  # not durable: called inside other services' transactions
def line_refresh_arrears(*, line: CreditLine) -> None:
    """Recompute the line's derived fields (oldest_unpaid_due, used) from its schedules.

    A repair helper: the services keep both right after every change, so normally this
    changes nothing. No audit row: the values are derived from audited changes.
    """
    line = _lock_line(line.borrower_id)
    changed = _line_sync(line)
    if changed:
        line.save(update_fields=changed)
