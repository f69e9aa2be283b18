"""Cases and queues: alerts grouped into cases, and everything an analyst does to one.

Rules shared by every service here:

1. Keyword-only arguments, `actor` first (a User, or None for the system: the grouping of
   alerts). Each entry point is `@transaction.atomic(durable=True)` and writes its audit row
   (accounts.audit) in the same transaction.
2. Roles: every active risk staff member works cases (CASE_WORKER_ROLES). Assigning a case to
   someone else needs a senior analyst and above (CASE_ASSIGNER_ROLES). A case assigned to
   someone is theirs: anyone else below manager (CASE_SUPERVISOR_ROLES) is refused
   (CaseAssignedToAnother). Reopening, editing a queue's SLA and closing in bulk need a manager.
3. Decisions are made on the case re-read under a row lock; "next case" skips rows another
   analyst holds (SKIP LOCKED on PostgreSQL; SQLite's IMMEDIATE transactions serialize).
4. One open case per borrower and category (a partial unique constraint); grouping relies on
   it to stay race-safe: the loser of two concurrent inserts joins the winner's case.
5. A replay (claiming your own case, attaching the same file twice) changes nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.db.models import Case as DbCase
from django.db.models import IntegerField, Value, When
from django.utils import timezone

from accounts.audit import AuditRow, audit, audit_bulk
from accounts.choices import STAFF_ROLES, Role
from decisions.errors.overrides import FlagAlreadySet, FlagNotSet
from decisions.models.overrides import OverrideKind, OverrideProposal
from decisions.services.flags import fraud_flag_clear, fraud_flag_set
from decisions.services.overrides import override_propose
from lending.models import CreditLine
from lending.services import line_freeze, line_unfreeze
from monitoring.choices import AlertCategory, CaseStatus, Disposition, QueueKind, Severity
from monitoring.errors.cases import (
    AssigneeInvalid,
    CaseAssignedToAnother,
    CaseNotAllowed,
    CaseNotResolved,
    CaseReopenConflict,
    CaseResolved,
    CommentRequired,
    DispositionRequired,
    InvalidDisposition,
    LimitCutNotACut,
    LineMissing,
    NoteRequired,
    QueueEmpty,
    SlaInvalid,
)
from monitoring.models import Alert, Case, CaseComment, Queue

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

CASE_WORKER_ROLES = frozenset(STAFF_ROLES)
CASE_ASSIGNER_ROLES = frozenset({Role.SENIOR_ANALYST, Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})
CASE_SUPERVISOR_ROLES = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})

# Service levels a queue starts with; a manager edits them (queue_sla_set).
DEFAULT_SLA_HOURS: dict[str, int] = {
    QueueKind.FRAUD: 4,
    QueueKind.CREDIT: 24,
    QueueKind.OVERRIDE: 24,
    QueueKind.DISPUTE: 72,
}
MAX_SLA_HOURS = 24 * 30
QUEUE_BY_CATEGORY: dict[str, str] = {
    AlertCategory.FRAUD: QueueKind.FRAUD,
    AlertCategory.CREDIT: QueueKind.CREDIT,
}

NOTE_MAX_LENGTH = 2000
COMMENT_MAX_LENGTH = 4000


# --- priority ---------------------------------------------------------------------------------

# Priority = 100 x the highest severity of the case's alerts + one point per ¥2,000 the
# borrower has drawn (at most 99): any critical case outranks every high one, and within a
# severity the larger exposure comes first.
EXPOSURE_STEP = Decimal("2000")
EXPOSURE_POINTS_MAX = 99


def case_priority(*, severity: int, exposure: Decimal) -> int:
    """The priority of a case whose alerts reach `severity` on a line with `exposure` drawn."""
    points = min(int(max(exposure, Decimal(0)) // EXPOSURE_STEP), EXPOSURE_POINTS_MAX)
    return int(severity) * 100 + points


def severity_of_priority(priority: int) -> int:
    """The severity a priority was built from (for badges)."""
    return max(min(priority // 100, Severity.CRITICAL), Severity.LOW)


# --- guards -----------------------------------------------------------------------------------


def _require_role(actor: User, roles: Iterable[str]) -> None:
    if not actor.is_active or actor.role not in set(roles):
        raise CaseNotAllowed(role=actor.role)


def _require_can_act(actor: User, case: Case) -> None:
    """Risk staff, and the case is unassigned, theirs, or they supervise (rule 2)."""
    _require_role(actor, CASE_WORKER_ROLES)
    if case.status == CaseStatus.RESOLVED:
        raise CaseResolved(case_id=case.pk)
    if (
        case.assignee_id is not None
        and case.assignee_id != actor.pk
        and actor.role not in CASE_SUPERVISOR_ROLES
    ):
        raise CaseAssignedToAnother(case_id=case.pk, assignee=_username(case.assignee_id))


def _username(user_id: int | None) -> str:
    from accounts.models import User

    if user_id is None:
        return ""
    return User.objects.filter(pk=user_id).values_list("username", flat=True).first() or ""


def _lock(case: Case | int) -> Case:
    pk = case if isinstance(case, int) else case.pk
    return Case.objects.select_for_update(of=("self",)).select_related("queue").get(pk=pk)


def _state(case: Case) -> dict[str, Any]:
    return {
        "status": case.status,
        "assignee": case.assignee_id,
        "priority": case.priority,
        "disposition": case.disposition,
    }


def _case_audit(
    *,
    actor: User | None,
    action: str,
    case: Case,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> None:
    audit(
        actor=actor,
        action=action,
        obj=case,
        borrower_id=case.borrower_id,
        before=before,
        after=after,
        note=note,
    )


# --- the SLA clock while waiting for the borrower ----------------------------------------------

SLA_CLOCK_FIELDS = ["due_at", "sla_paused", "waiting_since"]


def sla_pause(case: Case, now: Any) -> None:
    """Stop the case's SLA clock (it starts waiting for the borrower). Already stopped: kept
    from the first stop. The caller saves SLA_CLOCK_FIELDS."""
    if case.waiting_since is None:
        case.waiting_since = now


def sla_resume(case: Case, now: Any) -> timedelta:
    """Start the clock again: due_at moves by the time waited, added to `sla_paused`. Returns
    the time waited (zero when the clock was running). The caller saves SLA_CLOCK_FIELDS."""
    if case.waiting_since is None:
        return timedelta(0)
    waited: timedelta = max(now - case.waiting_since, timedelta(0))
    case.due_at += waited
    case.sla_paused += waited
    case.waiting_since = None
    return waited


def sla_audit(waited: timedelta, case: Case) -> dict[str, Any]:
    """What an audit row's `after` records of a resume: the seconds waited, the new due time."""
    return {"sla_paused_seconds": int(waited.total_seconds()), "due_at": case.due_at}


# --- queues -----------------------------------------------------------------------------------


def queues_ensure() -> dict[str, Queue]:
    """Every queue kind, created with its default SLA the first time (idempotent, race-safe:
    `kind` is unique and get_or_create re-reads the winner's row)."""
    queues = {queue.kind: queue for queue in Queue.objects.all()}
    for kind, hours in DEFAULT_SLA_HOURS.items():
        if kind not in queues:
            queues[kind], _created = Queue.objects.get_or_create(
                kind=kind, defaults={"sla_hours": hours}
            )
    return queues


@transaction.atomic(durable=True)
def queue_sla_set(*, actor: User, queue: Queue, sla_hours: int) -> Queue:
    """Set a queue's SLA (hours). Applies to cases opened from now on: a case's due time is
    fixed when it opens, so an analyst's deadline never moves under them.

    Raises CaseNotAllowed (below manager), SlaInvalid (outside 1..MAX_SLA_HOURS)."""
    _require_role(actor, CASE_SUPERVISOR_ROLES)
    if not isinstance(sla_hours, int) or not 1 <= sla_hours <= MAX_SLA_HOURS:
        raise SlaInvalid(max=MAX_SLA_HOURS)
    queue = Queue.objects.select_for_update().get(pk=queue.pk)
    if queue.sla_hours == sla_hours:
        return queue
    before = {"sla_hours": queue.sla_hours}
    queue.sla_hours = sla_hours
    queue.save(update_fields=["sla_hours"])
    audit(
        actor=actor,
        action="queue.sla_set",
        obj=queue,
        before=before,
        after={"sla_hours": sla_hours},
    )
    return queue


# --- grouping alerts into cases ---------------------------------------------------------------


def _new_case(
    *, borrower_id: int, category: str, queue: Queue, now: Any, priority: int, exposure: Decimal
) -> tuple[Case, bool]:
    """A new open case for the borrower and category, or (created False) the one a concurrent
    grouping opened first, locked.

    Two transactions grouping alerts of one borrower and category at once both find no open
    case and both insert: the partial unique constraint makes the second insert wait for the
    first to commit and then fail, and the second then joins the case the first opened.
    """
    try:
        with transaction.atomic():  # a savepoint: the failed insert must not end the grouping
            case = Case.objects.create(
                borrower_id=borrower_id,
                queue=queue,
                category=category,
                status=CaseStatus.OPEN,
                priority=priority,
                exposure=exposure,
                opened_at=now,
                due_at=now + timedelta(hours=queue.sla_hours),
            )
        return case, True
    except IntegrityError:
        case = (
            Case.objects.select_for_update(of=("self",))
            .filter(borrower_id=borrower_id, category=category)
            .exclude(status=CaseStatus.RESOLVED)
            .get()
        )
        return case, False


@transaction.atomic(durable=True)
def alerts_group(*, alert_ids: Sequence[int]) -> list[Case]:
    """Put each alert not yet in a case into its borrower's open case of the alert's category,
    opening one (in the category's queue, due after the queue's SLA) when there is none.

    The case's priority is recomputed from its alerts' highest severity and the line's drawn
    amount (case_priority; a case's priority encodes the highest severity it has seen, so the
    old alerts need not be read again). Alerts already in a case are left alone, so a replay of
    the same ids changes nothing. The system acts (actor None); each opened or grown case gets
    an audit row ("case.opened" / "case.alerts_joined"). Returns the cases touched.

    A fixed number of queries per batch, plus three per case opened (a savepoint around its
    insert): the existing open cases are read and locked in one query, the alerts and the
    grown cases written in one UPDATE each.
    """
    ids = sorted({int(pk) for pk in alert_ids})
    if not ids:
        return []
    queues = queues_ensure()
    alerts = list(
        Alert.objects.select_for_update(of=("self",))
        .filter(pk__in=ids, case__isnull=True)
        .order_by("borrower_id", "category", "id")
    )
    if not alerts:
        return []
    groups: dict[tuple[int, str], list[Alert]] = defaultdict(list)
    for alert in alerts:
        groups[(alert.borrower_id, alert.category)].append(alert)
    borrower_ids = {b for b, _c in groups}
    exposures = dict(
        CreditLine.objects.filter(borrower_id__in=borrower_ids).values_list("borrower_id", "used")
    )
    # The open cases these alerts join, locked in id order (two groupings never wait on each
    # other in a cycle); then new cases inserted in (borrower, category) order.
    existing = {
        (case.borrower_id, case.category): case
        for case in Case.objects.select_for_update(of=("self",))
        .filter(borrower_id__in=borrower_ids, category__in={c for _b, c in groups})
        .exclude(status=CaseStatus.RESOLVED)
        .order_by("pk")
    }
    now = timezone.now()
    rows: list[AuditRow] = []
    touched: list[Case] = []
    grown: list[Case] = []
    case_of_alert: dict[int, int] = {}
    for (borrower_id, category), members in sorted(groups.items()):
        queue = queues[QUEUE_BY_CATEGORY.get(category, QueueKind.FRAUD)]
        exposure = exposures.get(borrower_id, Decimal("0.00"))
        severity = max(alert.severity for alert in members)
        case = existing.get((borrower_id, category))
        created = False
        if case is None:
            case, created = _new_case(
                borrower_id=borrower_id,
                category=category,
                queue=queue,
                now=now,
                priority=case_priority(severity=severity, exposure=exposure),
                exposure=exposure,
            )
        before = {"priority": case.priority, "exposure": case.exposure}
        if not created:
            severity = max(severity, severity_of_priority(case.priority))
            case.exposure = exposure
            case.priority = case_priority(severity=severity, exposure=exposure)
            grown.append(case)
        member_ids = [alert.pk for alert in members]
        case_of_alert.update(dict.fromkeys(member_ids, case.pk))
        after: dict[str, Any] = {
            "priority": case.priority,
            "exposure": case.exposure,
            "alerts": member_ids,
        }
        if created:
            after |= {"queue": queue.kind, "category": category, "due_at": case.due_at}
        rows.append(
            AuditRow(
                action="case.opened" if created else "case.alerts_joined",
                obj=case,
                borrower_id=borrower_id,
                before={} if created else before,
                after=after,
            )
        )
        touched.append(case)
    Alert.objects.filter(pk__in=list(case_of_alert)).update(
        case_id=DbCase(
            *[
                When(pk=alert_id, then=Value(case_id))
                for alert_id, case_id in case_of_alert.items()
            ],
            output_field=IntegerField(),
        )
    )
    if grown:
        Case.objects.bulk_update(grown, ["exposure", "priority"])
    audit_bulk(rows)
    return touched


def alerts_group_pending(*, limit: int = 5000, settle_seconds: int = 60) -> int:
    """Group alerts that a failed or missed alerts_raised left without a case (the beat's
    sweep). Alerts younger than `settle_seconds` are left to their receiver."""
    cutoff = timezone.now() - timedelta(seconds=settle_seconds)
    ids = list(
        Alert.objects.filter(case__isnull=True, raised_at__lte=cutoff)
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    if ids:
        alerts_group(alert_ids=ids)
    return len(ids)


# --- taking work ------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def case_next(*, actor: User, queue: Queue) -> Case:
    """Assign the analyst the queue's most urgent unassigned open case: highest priority, then
    soonest due, then oldest. Two analysts asking at once get two different cases: each skips
    the row the other has locked (FOR UPDATE SKIP LOCKED).

    Raises CaseNotAllowed (not risk staff), QueueEmpty."""
    _require_role(actor, CASE_WORKER_ROLES)
    case = (
        Case.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(queue=queue, status=CaseStatus.OPEN, assignee__isnull=True)
        .order_by("-priority", "due_at", "id")
        .first()
    )
    if case is None:
        raise QueueEmpty(queue=queue.kind)
    before = _state(case)
    case.assignee = actor
    case.assigned_at = timezone.now()
    case.status = CaseStatus.IN_PROGRESS
    case.save(update_fields=["assignee", "assigned_at", "status"])
    _case_audit(
        actor=actor,
        action="case.claimed",
        case=case,
        before=before,
        after=_state(case),
        note="next",
    )
    return case


@transaction.atomic(durable=True)
def case_claim(*, actor: User, case: Case) -> Case:
    """Take a case: it becomes the analyst's, in progress. Claiming one's own case again is a
    replay. A case someone else holds is refused below manager (a manager takes it over).

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother."""
    case = _lock(case)
    _require_can_act(actor, case)
    if case.assignee_id == actor.pk:
        return case
    before = _state(case)
    case.assignee = actor
    case.assigned_at = timezone.now()
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS
    case.save(update_fields=["assignee", "assigned_at", "status"])
    _case_audit(actor=actor, action="case.claimed", case=case, before=before, after=_state(case))
    return case


def _require_assignee(user: User | None) -> User:
    if user is None or not user.is_active or user.role not in STAFF_ROLES:
        raise AssigneeInvalid()
    return user


@transaction.atomic(durable=True)
def case_assign(*, actor: User, case: Case, assignee: User) -> Case:
    """Give a case to a staff member. Senior analysts and above assign to others (and take a
    case over from another analyst); anyone may assign to themselves (a claim).

    Raises CaseNotAllowed, AssigneeInvalid, CaseResolved, CaseAssignedToAnother."""
    assignee = _require_assignee(assignee)
    if assignee.pk != actor.pk:
        _require_role(actor, CASE_ASSIGNER_ROLES)
    case = _lock(case)
    _require_role(actor, CASE_WORKER_ROLES)
    if case.status == CaseStatus.RESOLVED:
        raise CaseResolved(case_id=case.pk)
    if actor.role not in CASE_ASSIGNER_ROLES:
        _require_can_act(actor, case)
    if case.assignee_id == assignee.pk:
        return case
    before = _state(case)
    case.assignee = assignee
    case.assigned_at = timezone.now()
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_PROGRESS
    case.save(update_fields=["assignee", "assigned_at", "status"])
    _case_audit(actor=actor, action="case.assigned", case=case, before=before, after=_state(case))
    return case


@transaction.atomic(durable=True)
def case_release(*, actor: User, case: Case) -> Case:
    """Put a case back in its queue, unassigned and open (the analyst cannot finish it).

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother."""
    case = _lock(case)
    _require_can_act(actor, case)
    if case.assignee_id is None:
        return case
    before = _state(case)
    case.assignee = None
    case.assigned_at = None
    case.status = CaseStatus.OPEN
    waited = sla_resume(case, timezone.now())
    case.save(update_fields=["assignee", "assigned_at", "status", *SLA_CLOCK_FIELDS])
    after = _state(case) | (sla_audit(waited, case) if waited else {})
    _case_audit(actor=actor, action="case.released", case=case, before=before, after=after)
    return case


# --- working the case -------------------------------------------------------------------------


@transaction.atomic(durable=True)
def case_comment(*, actor: User, case: Case, body: str) -> CaseComment:
    """Add a comment to a case's timeline.

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, CommentRequired (blank)."""
    body = (body or "").strip()
    if not body:
        raise CommentRequired()
    case = _lock(case)
    _require_can_act(actor, case)
    comment = CaseComment.objects.create(
        case=case, author=actor, body=body[:COMMENT_MAX_LENGTH], created_at=timezone.now()
    )
    # The body is the analyst's own text and may quote personal data: it stays in the comment
    # row (shown to staff only), and the audit row records its length, not its words.
    audit(
        actor=actor,
        action="case.commented",
        obj=comment,
        borrower_id=case.borrower_id,
        after={"case": case.pk, "length": len(comment.body)},
    )
    return comment


def _clean_note(note: str | None) -> str:
    return (note or "").strip()[:NOTE_MAX_LENGTH]


def _clean_disposition(disposition: str | None) -> str:
    disposition = (disposition or "").strip()
    if not disposition:
        raise DispositionRequired()
    if disposition not in Disposition.values:
        raise InvalidDisposition(value=disposition)
    return disposition


def _resolve_locked(
    *, actor: User, case: Case, disposition: str, note: str, now: Any
) -> dict[str, Any]:
    """Resolve a case the caller holds locked and has checked; returns the audit `before`."""
    before = _state(case)
    case.status = CaseStatus.RESOLVED
    case.disposition = disposition
    case.resolution_note = note
    case.resolved_at = now
    case.resolved_by = actor
    if case.assignee_id is None:
        case.assignee = actor
        case.assigned_at = now
    sla_resume(case, now)  # resolved while waiting: the clock stops for good, due time kept
    case.save(
        update_fields=[
            *SLA_CLOCK_FIELDS,
            "status",
            "disposition",
            "resolution_note",
            "resolved_at",
            "resolved_by",
            "assignee",
            "assigned_at",
        ]
    )
    if disposition == Disposition.CONFIRMED_FRAUD:
        # The limit policy freezes on this flag and overrides refuse increases while it is
        # open (decisions.services.flags). Already flagged from another case: that stands.
        with contextlib.suppress(FlagAlreadySet):
            fraud_flag_set(
                actor=actor, borrower_id=case.borrower_id, source=f"case:{case.pk}", note=note
            )
    return before


@transaction.atomic(durable=True)
def case_resolve(*, actor: User, case: Case, disposition: str, note: str) -> Case:
    """Resolve a case with a disposition and a note. Confirmed fraud sets the borrower's
    confirmed-fraud flag (decisions); a false positive changes nothing else.

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, DispositionRequired,
    InvalidDisposition, NoteRequired."""
    disposition = _clean_disposition(disposition)
    note = _clean_note(note)
    if not note:
        raise NoteRequired()
    case = _lock(case)
    _require_can_act(actor, case)
    before = _resolve_locked(
        actor=actor, case=case, disposition=disposition, note=note, now=timezone.now()
    )
    _case_audit(
        actor=actor, action="case.resolved", case=case, before=before, after=_state(case), note=note
    )
    return case


@transaction.atomic(durable=True)
def case_reopen(*, actor: User, case: Case, note: str) -> Case:
    """Reopen a resolved case (a manager): open and unassigned again, disposition cleared. A
    confirmed-fraud flag this case set is cleared with it.

    Raises CaseNotAllowed (below manager), NoteRequired, CaseNotResolved, CaseReopenConflict
    (the borrower has another open case of the category by now)."""
    _require_role(actor, CASE_SUPERVISOR_ROLES)
    note = _clean_note(note)
    if not note:
        raise NoteRequired()
    case = _lock(case)
    if case.status != CaseStatus.RESOLVED:
        raise CaseNotResolved(case_id=case.pk)
    before = _state(case)
    was_fraud = case.disposition == Disposition.CONFIRMED_FRAUD
    case.status = CaseStatus.OPEN
    case.disposition = ""
    case.resolution_note = ""
    case.resolved_at = None
    case.resolved_by = None
    case.assignee = None
    case.assigned_at = None
    fields = ["status", "disposition", "resolution_note", "resolved_at", "resolved_by"]
    try:
        with transaction.atomic():
            case.save(update_fields=[*fields, "assignee", "assigned_at"])
    except IntegrityError:
        other = (
            Case.objects.filter(borrower_id=case.borrower_id, category=case.category)
            .exclude(status=CaseStatus.RESOLVED)
            .values_list("pk", flat=True)
            .first()
        )
        raise CaseReopenConflict(case_id=case.pk, open_case_id=other) from None
    if was_fraud:
        from decisions.models.flags import RiskFlag, RiskFlagKind

        flagged_here = RiskFlag.objects.filter(
            borrower_id=case.borrower_id,
            kind=RiskFlagKind.FRAUD_CONFIRMED,
            cleared_at=None,
            source=f"case:{case.pk}",
        ).exists()
        if flagged_here:
            with contextlib.suppress(FlagNotSet):
                fraud_flag_clear(
                    actor=actor, borrower_id=case.borrower_id, source=f"case:{case.pk}", note=note
                )
    _case_audit(
        actor=actor, action="case.reopened", case=case, before=before, after=_state(case), note=note
    )
    return case


# --- acting on the line -----------------------------------------------------------------------


def _line_of(case: Case) -> CreditLine:
    line = CreditLine.objects.filter(borrower_id=case.borrower_id).first()
    if line is None:
        raise LineMissing()
    return line


@transaction.atomic(durable=True)
def case_line_freeze(*, actor: User, case: Case, status_code: str, note: str = "") -> Case:
    """Freeze the borrower's line from the case (lending.services.line_freeze, with its reason
    code), recorded on the case's timeline too.

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, LineMissing, and
    line_freeze's refusals (ReasonRequired, InvalidChoice, AlreadyFrozen, LineClosed)."""
    case = _lock(case)
    _require_can_act(actor, case)
    line = line_freeze(actor=actor, line=_line_of(case), status_code=status_code, note=note)
    _case_audit(
        actor=actor,
        action="case.line_frozen",
        case=case,
        after={"line": line.pk, "status_code": line.status_code},
        note=_clean_note(note),
    )
    return case


@transaction.atomic(durable=True)
def case_line_unfreeze(*, actor: User, case: Case, status_code: str, note: str = "") -> Case:
    """Unfreeze the borrower's line from the case (lending.services.line_unfreeze).

    Raises as case_line_freeze, with NotFrozen for a line that is not frozen."""
    case = _lock(case)
    _require_can_act(actor, case)
    line = line_unfreeze(actor=actor, line=_line_of(case), status_code=status_code, note=note)
    _case_audit(
        actor=actor,
        action="case.line_unfrozen",
        case=case,
        after={"line": line.pk, "status_code": line.status_code},
        note=_clean_note(note),
    )
    return case


@transaction.atomic(durable=True)
def case_limit_cut_propose(
    *, actor: User, case: Case, new_limit: Decimal, reason_code: str, justification: str
) -> OverrideProposal:
    """Propose cutting the borrower's limit, through the override workflow (four eyes: a
    manager with the authority approves it in decisions), linked back to this case.

    Monitoring never changes a limit itself: the proposal carries `case:<id>` as its case
    reference, and the case's timeline records it.

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, LineMissing, LimitCutNotACut
    (not below the current limit), and override_propose's refusals (OverrideInvalid,
    HardBlock, OverrideOpenExists)."""
    case = _lock(case)
    _require_can_act(actor, case)
    line = _line_of(case)
    if new_limit is None or new_limit >= line.credit_limit:
        raise LimitCutNotACut(limit=line.credit_limit)
    proposal = override_propose(
        actor=actor,
        line=line,
        kind=OverrideKind.LIMIT,
        new_limit=new_limit,
        reason_code=reason_code,
        justification=justification,
        case_ref=f"case:{case.pk}",
    )
    _case_audit(
        actor=actor,
        action="case.limit_cut_proposed",
        case=case,
        before={"credit_limit": line.credit_limit},
        after={"proposal": proposal.pk, "new_limit": new_limit},
    )
    return proposal
