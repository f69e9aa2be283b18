"""Decisions on a credit line and its loans: the limit, freeze and unfreeze, write-off, closure,
and the repair of the line's derived fields.

Rules shared by the decisions here (beside those of lending.services):

1. Every decision carries a reason code (lending.choices.LineStatusCode): the code is what is
   shown, translated when shown; the note is the person's own free text, kept on the line
   (`status_reason`) and in the audit row, never shown to the borrower.
2. Who decides: freezing and unfreezing belong to risk staff (_require_staff); the limit,
   a write-off and a closure to managers and above (LINE_DECISION_ROLES) or the system
   (actor None: the limit policy, the day close). Refused with NotAllowed.
3. Each change writes one audit row, one history row (LimitChange: the limit and status in
   force from then on) and one Notice to the borrower in the same transaction. A replay
   (the call that changes nothing: the same limit, a loan already written off, a line
   already closed) writes none of them.
4. Lock order: the credit line, then the drawdown, as in every lending service.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import Role
from lending import caps, money
from lending.choices import (
    DayCloseStatus,
    DrawdownStatus,
    LimitChangeKind,
    LineStatus,
    LineStatusCode,
    NoticeKind,
    TransitionKind,
)
from lending.errors import (
    AlreadyFrozen,
    DayInFuture,
    DrawdownNotActive,
    InvalidAmount,
    InvalidChoice,
    InvalidData,
    InvalidDate,
    LimitAboveCap,
    LineClosed,
    LineHasActiveLoans,
    LineLocked,
    NotAllowed,
    NotFrozen,
    ReasonRequired,
)
from lending.models import (
    ZERO,
    CreditLine,
    DayClose,
    Drawdown,
    LimitChange,
    LineTransition,
    Notice,
)
from lending.services import batch
from lending.services._common import (
    _line_state,
    _line_sync,
    _lock_line,
    _money,
    _require_staff,
)
from lending.signals import publish_transitions

if TYPE_CHECKING:
    from accounts.models import User


# Limit changes, write-offs and closures: managers and above (or the system).
LINE_DECISION_ROLES = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})
# A manual limit decision may hold the line against the automatic policy for up to a year.
MAX_LOCK_DAYS = 366
NOTE_MAX_LENGTH = 200  # CreditLine.status_reason

# Which reason codes each decision takes. OPENED belongs to borrower_register, WRITTEN_OFF to
# the write-off that closes a line; nobody gives either by hand.
LIMIT_REASON_CODES = frozenset(
    {
        LineStatusCode.MANUAL,
        LineStatusCode.POLICY,
        LineStatusCode.OVERRIDE,
        LineStatusCode.OVERDUE,
        LineStatusCode.FRAUD,
        LineStatusCode.CUSTOMER_REQUEST,
    }
)
FREEZE_REASON_CODES = frozenset(
    {
        LineStatusCode.MANUAL,
        LineStatusCode.POLICY,
        LineStatusCode.OVERDUE,
        LineStatusCode.FRAUD,
        LineStatusCode.CUSTOMER_REQUEST,
    }
)
UNFREEZE_REASON_CODES = frozenset(
    {
        LineStatusCode.MANUAL,
        LineStatusCode.POLICY,
        LineStatusCode.OVERRIDE,
        LineStatusCode.CUSTOMER_REQUEST,
    }
)
CLOSE_REASON_CODES = frozenset(
    {
        LineStatusCode.MANUAL,
        LineStatusCode.POLICY,
        LineStatusCode.FRAUD,
        LineStatusCode.CUSTOMER_REQUEST,
    }
)


# --- guards -----------------------------------------------------------------------------------


def _require_line_decider(actor: User | None) -> None:
    """A limit change, write-off or closure: the system, or an active manager and above."""
    if actor is None:
        return
    if not actor.is_active or actor.role not in LINE_DECISION_ROLES:
        raise NotAllowed(actor=actor.get_username())


def _reason_code(code: str | None, allowed: Iterable[str]) -> str:
    """The reason code, required and one this decision takes (ReasonRequired, InvalidChoice)."""
    code = (code or "").strip()
    if not code:
        raise ReasonRequired()
    if code not in set(allowed):
        raise InvalidChoice(field="reason code", value=code)
    return code


def _note(note: str | None) -> str:
    return (note or "").strip()[:NOTE_MAX_LENGTH]


def _notify(*, borrower_id: int, kind: str, params: dict[str, Any]) -> Notice:
    """The borrower's notice, its sentence filled at display from `params` (strings only)."""
    return Notice.objects.create(
        borrower_id=borrower_id, kind=kind, params=params, created_at=timezone.now()
    )


def limit_history_write(
    *,
    line: CreditLine,
    kind: str,
    old_limit: Decimal,
    old_status: str,
    reason_code: str,
    actor: User | None,
    automatic: bool = False,
    approved_by: User | None = None,
    at: datetime | None = None,
) -> LimitChange:
    """The line's history row for a change just made to it (its limit and status now are the
    new ones), in the caller's transaction (lending.models.LimitChange); in a batch holding
    the line, written at its end (lending.services.batch.insert)."""
    change = LimitChange(
        line=line,
        effective_at=at or timezone.now(),
        kind=kind,
        old_limit=old_limit,
        new_limit=line.credit_limit,
        old_status=old_status,
        new_status=line.status,
        reason_code=reason_code,
        automatic=automatic,
        decided_by=actor.get_username() if actor is not None else "",
        approved_by=approved_by.get_username() if approved_by is not None else "",
    )
    batch.insert(change, borrower_id=line.borrower_id)
    return change


# --- the limit --------------------------------------------------------------------------------


@transaction.atomic  # not durable: the limit policy and other apps' decisions compose it
def line_limit_set(
    *,
    actor: User | None,
    line: CreditLine,
    new_limit: Decimal,
    reason_code: str,
    note: str = "",
    automatic: bool = False,
    lock_days: int | None = None,
    approved_by: User | None = None,
) -> CreditLine:
    """Set a line's limit, with a reason code, and tell the borrower.

    Rules:
    - The product cap (caps.product_limit_cap()) is a hard block: above it is refused
      whoever asks (LimitAboveCap). The database holds the absolute ¥200,000 too.
    - A cut below what is drawn is allowed: nothing is then available (available is
      max(limit - used, 0)), and repayments bring the line back under its limit.
    - `automatic=True` is the limit policy: refused (LineLocked) while a manual decision
      holds the line (`locked_until` after today), and it sets no lock of its own.
    - A manual decision may hold the line for `lock_days` days (1-366) from today; without
      lock_days an existing hold stays as it was.
    - The same limit again is a replay: nothing changes, nothing is written (a lock_days on a
      replay is ignored too: a hold goes with a change of limit).
    - Writes the audit row "line.limit_changed", the line's LimitChange row (kind limit) and a
      Notice(LIMIT_CHANGED, old, new, reason_code).
    - `approved_by` (with actor None) is the person whose approval the system applies (a
      limit override decided under decisions' authority matrix): the audit row names them,
      and it grants nobody the right to change a limit directly.

    Raises NotAllowed (a User actor below manager, or inactive), ReasonRequired (no code),
    InvalidChoice (a code a limit change does not take), InvalidAmount (negative or missing),
    InvalidData (lock_days out of range, or given with automatic=True), LimitAboveCap,
    LineClosed, LineLocked.
    """
    _require_line_decider(actor)
    if approved_by is not None and (actor is not None or automatic):
        raise InvalidData(fields="approved_by")
    code = _reason_code(reason_code, LIMIT_REASON_CODES)
    if new_limit is None or Decimal(new_limit) < 0:
        raise InvalidAmount(amount=new_limit)
    limit = _money(new_limit)
    cap = caps.product_limit_cap()
    if limit > cap:
        raise LimitAboveCap(new_limit=limit, cap=cap)
    if lock_days is not None and (automatic or not 1 <= lock_days <= MAX_LOCK_DAYS):
        raise InvalidData(fields="lock_days")
    note = _note(note)

    # Row lock on the line: a drawdown deciding on `available` and this change queue up, so
    # the drawdown sees either the old limit or the new one, never half of each.
    line = _lock_line(line.borrower_id)
    if line.status == LineStatus.CLOSED:
        raise LineClosed()
    today = timezone.localdate()
    if automatic and line.locked_until is not None and line.locked_until > today:
        raise LineLocked(locked_until=line.locked_until)
    if limit == line.credit_limit:
        return line  # a replay: nothing to change, nothing to write

    old_limit = line.credit_limit
    before = {"credit_limit": old_limit, "locked_until": line.locked_until}
    line.credit_limit = limit
    fields = ["credit_limit"]
    if lock_days is not None:
        line.locked_until = today + timedelta(days=lock_days)
        fields.append("locked_until")
    line.save(update_fields=fields)
    after: dict[str, Any] = {
        "credit_limit": line.credit_limit,
        "locked_until": line.locked_until,
        "reason_code": code,
        "automatic": automatic,
        "used": line.used,
    }
    if approved_by is not None:
        after["approved_by"] = approved_by.get_username()
    limit_history_write(
        line=line,
        kind=LimitChangeKind.LIMIT,
        old_limit=old_limit,
        old_status=line.status,
        reason_code=code,
        actor=actor,
        automatic=automatic,
        approved_by=approved_by,
    )
    audit(
        actor=actor or approved_by,
        action="line.limit_changed",
        obj=line,
        borrower_id=line.borrower_id,
        before=before,
        after=after,
        note=note,
    )
    _notify(
        borrower_id=line.borrower_id,
        kind=NoticeKind.LIMIT_CHANGED,
        params={"old": str(before["credit_limit"]), "new": str(limit), "reason_code": code},
    )
    return line


# --- freeze and unfreeze ----------------------------------------------------------------------


def _line_status_change(
    *, actor: User | None, line: CreditLine, status_code: str, note: str, freeze: bool
) -> CreditLine:
    _require_staff(actor)
    code = _reason_code(status_code, FREEZE_REASON_CODES if freeze else UNFREEZE_REASON_CODES)
    note = _note(note)
    # Row lock on the line: a drawdown checks the status under the same lock, so none slips
    # through after a freeze commits.
    line = _lock_line(line.borrower_id)
    if line.status == LineStatus.CLOSED:
        raise LineClosed()
    if freeze and line.status == LineStatus.FROZEN:
        raise AlreadyFrozen()
    if not freeze and line.status != LineStatus.FROZEN:
        raise NotFrozen()
    before = {
        "status": line.status,
        "status_code": line.status_code,
        "status_reason": line.status_reason,
    }
    line.status = LineStatus.FROZEN if freeze else LineStatus.ACTIVE
    line.status_code = code
    line.status_reason = note
    line.save(update_fields=["status", "status_code", "status_reason"])
    limit_history_write(
        line=line,
        kind=LimitChangeKind.FREEZE if freeze else LimitChangeKind.UNFREEZE,
        old_limit=line.credit_limit,
        old_status=before["status"],
        reason_code=code,
        actor=actor,
    )
    audit(
        actor=actor,
        action="line.frozen" if freeze else "line.unfrozen",
        obj=line,
        borrower_id=line.borrower_id,
        before=before,
        after={
            "status": line.status,
            "status_code": line.status_code,
            "status_reason": line.status_reason,
        },
        note=note,
    )
    _notify(
        borrower_id=line.borrower_id,
        kind=NoticeKind.LINE_FROZEN if freeze else NoticeKind.LINE_UNFROZEN,
        params={"reason_code": code},
    )
    return line


def _legacy_reason(status_code: str, note: str, reason: str | None) -> tuple[str, str]:
    """The old free-text `reason` argument: a staff decision (MANUAL) with `reason` as note.

    Transitional, for callers not yet passing a code; a blank reason is still refused.
    """
    if reason is None:
        return status_code, note
    if not reason.strip():
        raise ReasonRequired()
    return status_code or LineStatusCode.MANUAL, note or reason


@transaction.atomic  # not durable: event ingestion and other apps' decisions compose it
def line_freeze(
    *,
    actor: User | None,
    line: CreditLine,
    status_code: str = "",
    note: str = "",
    reason: str | None = None,
) -> CreditLine:
    """Freeze a line: it takes no new drawdown until unfrozen; repayments still come in.

    `status_code` (LineStatusCode: manual, policy, overdue, fraud, customer_request) is what
    staff and the borrower see, translated; `note` is free text for staff. `reason` is the
    old free-text argument (transitional: it means status_code=manual, note=reason).
    Writes the audit row "line.frozen" and a Notice(LINE_FROZEN, reason_code).

    Raises NotAllowed (a User actor who is not active risk staff), ReasonRequired (no code),
    InvalidChoice (a code a freeze does not take), LineClosed, AlreadyFrozen.
    """
    status_code, note = _legacy_reason(status_code, note, reason)
    return _line_status_change(
        actor=actor, line=line, status_code=status_code, note=note, freeze=True
    )


@transaction.atomic  # not durable: event ingestion and other apps' decisions compose it
def line_unfreeze(
    *,
    actor: User | None,
    line: CreditLine,
    status_code: str = "",
    note: str = "",
    reason: str | None = None,
) -> CreditLine:
    """Unfreeze a frozen line so it can be drawn again (if it is current: see drawdown_create).

    `status_code` (LineStatusCode: manual, policy, override, customer_request) and `note` as
    for line_freeze; `reason` likewise transitional. Writes the audit row "line.unfrozen" and
    a Notice(LINE_UNFROZEN, reason_code).

    Raises NotAllowed (a User actor who is not active risk staff), ReasonRequired (no code),
    InvalidChoice, LineClosed, NotFrozen.
    """
    status_code, note = _legacy_reason(status_code, note, reason)
    return _line_status_change(
        actor=actor, line=line, status_code=status_code, note=note, freeze=False
    )


# --- closure ----------------------------------------------------------------------------------


def _close_locked(
    *, actor: User | None, line: CreditLine, code: str, note: str, closed_at: datetime
) -> CreditLine:
    """Close a line the caller holds locked and has checked has no active loan."""
    before = {
        "status": line.status,
        "status_code": line.status_code,
        "status_reason": line.status_reason,
    }
    line.status = LineStatus.CLOSED
    line.status_code = code
    line.status_reason = note
    line.closed_at = closed_at
    line.save(update_fields=["status", "status_code", "status_reason", "closed_at"])
    limit_history_write(
        line=line,
        kind=LimitChangeKind.CLOSE,
        old_limit=line.credit_limit,
        old_status=before["status"],
        reason_code=code,
        actor=actor,
        at=closed_at,
    )
    audit(
        actor=actor,
        action="line.closed",
        obj=line,
        borrower_id=line.borrower_id,
        before=before,
        after={
            "status": line.status,
            "status_code": line.status_code,
            "status_reason": line.status_reason,
            "closed_at": line.closed_at,
        },
        note=note,
    )
    _notify(
        borrower_id=line.borrower_id,
        kind=NoticeKind.LINE_CLOSED,
        params={"reason_code": code},
    )
    return line


@transaction.atomic  # not durable: other apps' decisions compose it
def line_close(
    *, actor: User | None, line: CreditLine, reason_code: str, note: str = ""
) -> CreditLine:
    """Close a line for good (销户): it takes no drawdown, limit change, freeze or unfreeze.

    Only a line with no active loan left closes; what is still owed on written-off loans
    stays owed. `reason_code` (LineStatusCode: manual, policy, fraud, customer_request) is
    shown translated; `note` is for staff. Closing a closed line is a replay: nothing is
    written. Writes the audit row "line.closed" and a Notice(LINE_CLOSED, reason_code). (The
    write-off of a line's last active loan closes it too, with the code written_off.)

    Raises NotAllowed (a User actor below manager, or inactive), ReasonRequired,
    InvalidChoice, LineHasActiveLoans.
    """
    _require_line_decider(actor)
    code = _reason_code(reason_code, CLOSE_REASON_CODES)
    note = _note(note)
    # Row lock on the line: a drawdown waits here, so none is added after the count below.
    line = _lock_line(line.borrower_id)
    if line.status == LineStatus.CLOSED:
        return line  # a replay
    active = Drawdown.objects.filter(line=line, status=DrawdownStatus.ACTIVE).count()
    if active:
        raise LineHasActiveLoans(count=active)
    return _close_locked(actor=actor, line=line, code=code, note=note, closed_at=timezone.now())


# --- write-off --------------------------------------------------------------------------------


def _close_of(day: date) -> datetime:
    """The last moment of `day` in the project's time zone."""
    return timezone.make_aware(datetime.combine(day, time.max))


@transaction.atomic  # not durable: the day close composes it, each loan in its own transaction
def drawdown_write_off(
    *, actor: User | None, drawdown: Drawdown, day: date, note: str = ""
) -> Drawdown:
    """Write a loan off (核销) on business day `day`, and close the line if it was the last.

    - The principal outstanding moves to written_off_principal; principal_outstanding reads
      0, the status is written_off, written_off_at the close of `day` (or now, for today).
      Interest and penalty still unpaid stay on the schedule: the debt is still owed, and
      recoveries are booked against it. The line's used drops by the principal.
    - A LineTransition(kind written_off) records it for `day` (one per line and day: a second
      loan of the same line written off the same day adds its principal to the row's
      balance, which for this kind is the principal written off). If that day's close is
      already done, the transition is published (line_transitions_recorded) after commit;
      otherwise the day close publishes it with the rest.
    - When no active loan is left the line closes (code written_off), as line_close would.
    - Writes the audit rows "drawdown.written_off" (and "line.closed"), and Notices
      WRITTEN_OFF (loan_no, principal, day) and LINE_CLOSED.
    - A loan already written off is a replay: nothing is written.

    The day close calls it for loans caps.write_off_dpd() or more days past due; a manager
    may write off any active loan (fraud, a death) with a note.

    Raises NotAllowed (a User actor below manager, or inactive), DrawdownNotActive (settled),
    DayInFuture (`day` after today), InvalidDate (`day` before the disbursement).
    """
    _require_line_decider(actor)
    today = timezone.localdate()
    if day > today:
        raise DayInFuture(day=day)
    note = _note(note)
    # Lock order: the line, then the drawdown, as every lending service does; a repayment on
    # the same loan waits, then finds it written off (DrawdownNotActive).
    line = _lock_line(drawdown.borrower_id)
    drawdown = Drawdown.objects.select_for_update().get(pk=drawdown.pk)
    if drawdown.status == DrawdownStatus.WRITTEN_OFF:
        return drawdown  # a replay
    if drawdown.status != DrawdownStatus.ACTIVE:
        raise DrawdownNotActive(loan_no=drawdown.loan_no, status=drawdown.get_status_display())
    disbursed_on = timezone.localdate(drawdown.disbursed_at)
    if day < disbursed_on:
        raise InvalidDate(field="day", value=day, earliest=disbursed_on)

    principal = drawdown.principal_outstanding
    # The line's DPD as the write-off finds it (after it, the loan no longer counts).
    dpd = money.days_past_due(line.oldest_unpaid_due, day)
    drawdown.written_off_principal = principal
    drawdown.principal_outstanding = ZERO
    drawdown.status = DrawdownStatus.WRITTEN_OFF
    drawdown.written_off_at = min(_close_of(day), timezone.now())
    drawdown.save(
        update_fields=[
            "written_off_principal",
            "principal_outstanding",
            "status",
            "written_off_at",
        ]
    )
    changed = _line_sync(line)
    if changed:
        line.save(update_fields=changed)

    bucket = money.bucket_for(dpd)
    transition, created = LineTransition.objects.get_or_create(
        line=line,
        day=day,
        kind=TransitionKind.WRITTEN_OFF,
        defaults={
            "borrower_id": line.borrower_id,
            "from_bucket": bucket,
            "to_bucket": bucket,
            "dpd": dpd,
            "balance": principal,
        },
    )
    if not created:
        transition.balance += principal
        transition.save(update_fields=["balance"])

    audit(
        actor=actor,
        action="drawdown.written_off",
        obj=drawdown,
        borrower_id=drawdown.borrower_id,
        before={"status": DrawdownStatus.ACTIVE, "principal_outstanding": principal},
        after={
            "status": drawdown.status,
            "written_off_principal": principal,
            "written_off_at": drawdown.written_off_at,
            "day": day,
            "dpd": dpd,
            "line": _line_state(line),
        },
        note=note,
    )
    _notify(
        borrower_id=drawdown.borrower_id,
        kind=NoticeKind.WRITTEN_OFF,
        params={"loan_no": drawdown.loan_no, "principal": str(principal), "day": day.isoformat()},
    )
    others_active = Drawdown.objects.filter(line=line, status=DrawdownStatus.ACTIVE).exists()
    if line.status == LineStatus.ACTIVE and others_active:
        # Loans still running on the line: it cannot close yet, and it must not lend on a
        # written-off debt, so it is frozen with the write-off as its reason.
        frozen_before = {"status": line.status, "status_code": line.status_code}
        line.status, line.status_code = LineStatus.FROZEN, LineStatusCode.WRITTEN_OFF
        line.save(update_fields=["status", "status_code"])
        limit_history_write(
            line=line,
            kind=LimitChangeKind.FREEZE,
            old_limit=line.credit_limit,
            old_status=frozen_before["status"],
            reason_code=LineStatusCode.WRITTEN_OFF,
            actor=actor,
            at=drawdown.written_off_at,
        )
        audit(
            actor=actor,
            action="line.frozen",
            obj=line,
            borrower_id=line.borrower_id,
            before=frozen_before,
            after={"status": line.status, "status_code": line.status_code},
            note=note,
        )
    if line.status != LineStatus.CLOSED and not others_active:
        _close_locked(
            actor=actor,
            line=line,
            code=LineStatusCode.WRITTEN_OFF,
            note=note,
            closed_at=drawdown.written_off_at,
        )
    if DayClose.objects.filter(day=day, status=DayCloseStatus.DONE).exists():
        # That day's close has published its transitions already: publish this one.
        transaction.on_commit(lambda: publish_transitions(day=day, transition_ids=[transition.pk]))
    return drawdown


# --- repair -----------------------------------------------------------------------------------


@transaction.atomic  # not durable: called inside other services' transactions
def line_refresh_arrears(*, line: CreditLine) -> None:
    """Recompute the line's derived fields (oldest_unpaid_due, used) from its schedules.

    A repair helper: the services keep both right after every change, so normally this
    changes nothing. No audit row: the values are derived from audited changes.
    """
    # Row lock on the line: the same lock every service that changes the schedule holds.
    line = _lock_line(line.borrower_id)
    changed = _line_sync(line)
    if changed:
        line.save(update_fields=changed)
