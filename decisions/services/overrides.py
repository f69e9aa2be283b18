"""Limit overrides under four eyes: propose, decide (approve, reject, ask for changes),
withdraw, expire, and the return of a temporary limit at its end.

Rules:
1. Anyone on the risk staff proposes a change to a line: a new limit, a temporary limit with
   a last day, a freeze or an unfreeze, with a reason code from the managed list
   (OverrideReason), a justification and optional evidence files (PDF, JPEG, PNG, checked by
   their first bytes and size, stored outside the web root). One proposal in flight per line.
2. Hard blocks, checked when proposed and again when approved, that no authority passes:
   the product cap (lending.caps), the APR ceiling (an override never changes a rate, so the
   block is on lending more, an increase or unfreeze, on a line whose rate is above the
   ceiling), and an open confirmed-fraud flag (decisions.models.RiskFlag) for an increase or
   an unfreeze.
3. Who decides: never the proposer; someone whose role has an active AuthorityRule covering
   the change's direction, size (absolute and as a share of the current limit), resulting
   limit and the borrower's risk band. A large increase (above the covering rule's
   step_up_above) needs the approver's password again.
4. Approval applies the change through lending.services in the same transaction, with the
   line held against the automatic policy for settings.RISKOPS_OVERRIDE_LOCK_DAYS (a
   temporary limit: until its last day); lending writes its audit row and the borrower's
   notice. Two approvers at once: the proposal row is locked and its status read under the
   lock, so exactly one decision wins; the other gets AlreadyDecided naming what happened.
5. A proposal waiting longer than settings.RISKOPS_OVERRIDE_EXPIRY_HOURS expires, and a
   temporary limit returns to the limit before it the day after its last day, unless another
   decision changed the limit meanwhile (beat tasks: decisions.services.override_jobs).
The head of risk's matrix and reason list: decisions.services.override_admin.
Every change writes an audit row "override.*" in its transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.choices import STAFF_ROLES, Role
from decisions import policy as limit_policy
from decisions.choices import PolicyStatus
from decisions.errors import NotAllowed
from decisions.errors.overrides import (
    AlreadyDecided,
    FourEyesOverride,
    HardBlock,
    NoAuthority,
    NotYourProposal,
    OverrideInvalid,
    OverrideOpenExists,
    StepUpFailed,
    StepUpLocked,
    StepUpRequired,
)
from decisions.models import LimitPolicy, Score
from decisions.models.flags import RiskFlag, RiskFlagKind
from decisions.models.overrides import (
    OPEN_STATUSES,
    AuthorityRule,
    Direction,
    OverrideKind,
    OverrideProposal,
    OverrideReason,
    OverrideStatus,
)
from decisions.services.override_evidence import discard_files, store_evidence
from lending import caps, money
from lending.choices import LineStatus, LineStatusCode
from lending.models import CreditLine
from lending.services import line_freeze, line_limit_set, line_unfreeze
from lending.services.lines import LINE_DECISION_ROLES

if TYPE_CHECKING:
    from accounts.models import User

PROPOSERS = STAFF_ROLES
# The roles that may hold approval authority, lowest first (AuthorityRule.role takes these).
APPROVER_ROLES: tuple[str, ...] = (
    Role.SENIOR_ANALYST,
    Role.MANAGER,
    Role.HEAD_OF_RISK,
)
JUSTIFICATION_MAX = 4000
NOTE_MAX = 2000
MAX_TEMPORARY_DAYS = 365


# --- settings ---------------------------------------------------------------------------------


def expiry_hours() -> int:
    return int(getattr(settings, "RISKOPS_OVERRIDE_EXPIRY_HOURS", 72))


def lock_days() -> int:
    return int(getattr(settings, "RISKOPS_OVERRIDE_LOCK_DAYS", 90))


def sla_hours() -> int:
    return int(getattr(settings, "RISKOPS_OVERRIDE_SLA_HOURS", 24))


# --- what a change is -------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A proposal as the authority matrix sees it."""

    direction: str
    old_limit: Decimal
    new_limit: Decimal | None
    band: str

    @property
    def increase(self) -> Decimal:
        if self.new_limit is None:
            return Decimal("0")
        return max(self.new_limit - self.old_limit, Decimal("0"))

    @property
    def share(self) -> Decimal | None:
        """The increase as a share of the current limit; None from a zero limit (unbounded)."""
        if self.old_limit <= 0:
            return None
        return self.increase / self.old_limit


def change_of(proposal: OverrideProposal) -> Change:
    return Change(proposal.direction, proposal.old_limit, proposal.new_limit, proposal.band)


def rule_covers(rule: AuthorityRule, change: Change) -> bool:
    """Whether one matrix row covers a change. Bounds are inclusive: ¥5,000 is within a
    ¥5,000 authority, ¥5,000.01 is not."""
    if not rule.active or rule.direction != change.direction:
        return False
    bands = rule.band_list
    if bands and change.band not in bands:
        return False
    if change.direction == Direction.INCREASE:
        if rule.max_increase is not None and change.increase > rule.max_increase:
            return False
        if rule.max_increase_share is not None:
            share = change.share
            if share is None or share > rule.max_increase_share:
                return False
        if (
            rule.max_resulting_limit is not None
            and change.new_limit is not None
            and change.new_limit > rule.max_resulting_limit
        ):
            return False
    return True


@dataclass(frozen=True)
class Authority:
    may_decide: bool
    step_up: bool  # approving needs the password again


def authority_for(role: str, change: Change, rules: Sequence[AuthorityRule]) -> Authority:
    covering = [r for r in rules if r.role == role and rule_covers(r, change)]
    if not covering:
        return Authority(False, False)
    step_up = change.direction == Direction.INCREASE and not any(
        r.step_up_above is None or change.increase <= r.step_up_above for r in covering
    )
    return Authority(True, step_up)


def roles_needed(change: Change, rules: Sequence[AuthorityRule]) -> list[str]:
    """The roles that may decide a change, lowest first."""
    return [r for r in APPROVER_ROLES if authority_for(r, change, rules).may_decide]


def active_rules() -> list[AuthorityRule]:
    return list(AuthorityRule.objects.filter(active=True))


def _role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else role


# --- reading the borrower ---------------------------------------------------------------------


def policy_rules_in_force() -> limit_policy.PolicyRules:
    policy = LimitPolicy.objects.filter(status=PolicyStatus.ACTIVE).first()
    return limit_policy.policy_rules(policy.rules if policy else limit_policy.DEFAULT_RULES)


def band_and_score(borrower_id: int) -> tuple[str, int | None]:
    """The borrower's risk band by their acting score under the policy in force (the lowest
    band when unscored, as the policy reads it)."""
    score = (
        Score.objects.filter(borrower_id=borrower_id, acting=True)
        .order_by("-scored_at", "-id")
        .values_list("total", flat=True)
        .first()
    )
    return policy_rules_in_force().band_for(score).name, score


def fraud_flag_open(borrower_id: int) -> bool:
    return RiskFlag.objects.filter(
        borrower_id=borrower_id, kind=RiskFlagKind.FRAUD_CONFIRMED, cleared_at=None
    ).exists()


def _hard_blocks(*, line: CreditLine, direction: str, new_limit: Decimal | None) -> None:
    """Raise HardBlock for what no authority may pass."""
    cap = caps.product_limit_cap()
    if new_limit is not None and new_limit > cap:
        raise HardBlock(
            problem=_("the limit would exceed the product cap of ¥%(cap)s.") % {"cap": cap}
        )
    lends_more = direction in (Direction.INCREASE, Direction.UNFREEZE)
    if lends_more and money.simple_apr(line.daily_rate) > caps.apr_ceiling():
        raise HardBlock(
            problem=_("the line's rate is above the APR ceiling; it may not lend more.")
        )
    if lends_more and fraud_flag_open(line.borrower_id):
        raise HardBlock(
            problem=_("the borrower is marked as a confirmed fraud; no increase or unfreeze.")
        )


# --- validating a proposal --------------------------------------------------------------------


def _money_or_none(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
        # NaN and infinities first: a NaN is unordered (comparing it raises) and quantize
        # lets a quiet NaN through.
        if not amount.is_finite():
            raise InvalidOperation
        amount = amount.quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise OverrideInvalid(problem=_("the new limit is not an amount.")) from exc
    if amount < 0:
        raise OverrideInvalid(problem=_("the new limit cannot be negative."))
    return amount


def _shape(
    *, line: CreditLine, kind: str, new_limit: Any, until: date | None
) -> tuple[str, Decimal | None, date | None]:
    """Check a proposal's kind, amount and date against the line; returns (direction,
    new_limit, until)."""
    if kind not in OverrideKind.values:
        raise OverrideInvalid(problem=_("unknown kind of change."))
    if line.status == LineStatus.CLOSED:
        raise OverrideInvalid(problem=_("the line is closed."))
    amount = _money_or_none(new_limit)
    today = timezone.localdate()
    if kind in (OverrideKind.FREEZE, OverrideKind.UNFREEZE):
        if amount is not None or until is not None:
            raise OverrideInvalid(problem=_("a freeze or unfreeze takes no limit or end date."))
        if kind == OverrideKind.FREEZE and line.status == LineStatus.FROZEN:
            raise OverrideInvalid(problem=_("the line is already frozen."))
        if kind == OverrideKind.UNFREEZE and line.status != LineStatus.FROZEN:
            raise OverrideInvalid(problem=_("the line is not frozen."))
        direction = Direction.FREEZE if kind == OverrideKind.FREEZE else Direction.UNFREEZE
        return direction, None, None
    if amount is None:
        raise OverrideInvalid(problem=_("a new limit is required."))
    if amount == line.credit_limit:
        raise OverrideInvalid(problem=_("the new limit is the current limit."))
    if kind == OverrideKind.TEMPORARY:
        if until is None:
            raise OverrideInvalid(problem=_("a temporary limit needs its last day."))
        if not today < until <= today + timedelta(days=MAX_TEMPORARY_DAYS):
            raise OverrideInvalid(problem=_("the last day must be after today and within a year."))
    elif until is not None:
        raise OverrideInvalid(problem=_("only a temporary limit takes an end date."))
    direction = Direction.INCREASE if amount > line.credit_limit else Direction.DECREASE
    return direction, amount, until


def _reason(code: str) -> OverrideReason:
    reason = OverrideReason.objects.filter(code=(code or "").strip(), active=True).first()
    if reason is None:
        raise OverrideInvalid(problem=_("choose a reason from the list."))
    return reason


def _justification(text: str) -> str:
    text = (text or "").strip()
    if len(text) < 10:
        raise OverrideInvalid(problem=_("write a justification of at least 10 characters."))
    return text[:JUSTIFICATION_MAX]


def _require_proposer(actor: User | None) -> None:
    if actor is None or not actor.is_active or actor.role not in PROPOSERS:
        raise NotAllowed(role=getattr(actor, "role", None))


# --- propose, resubmit, withdraw --------------------------------------------------------------


def _state(p: OverrideProposal) -> dict[str, Any]:
    return {
        "status": p.status,
        "kind": p.kind,
        "direction": p.direction,
        "old_limit": p.old_limit,
        "new_limit": p.new_limit,
        "until": p.until,
        "reason": p.reason.code,
        "band": p.band,
        "score": p.score,
        "revision": p.revision,
        "case_ref": p.case_ref,
    }


def override_propose(
    *,
    actor: User,
    line: CreditLine,
    kind: str,
    new_limit: Decimal | None = None,
    until: date | None = None,
    reason_code: str,
    justification: str,
    evidence_files: Iterable[Any] = (),
    case_ref: str = "",
) -> OverrideProposal:
    """Propose a change to a line (rules 1-2 above). Writes "override.proposed".

    Raises NotAllowed (not risk staff), OverrideInvalid (the kind, amount, date, reason or
    justification; the message says which), HardBlock, OverrideOpenExists (a proposal for
    this line is already in flight), EvidenceRefused."""
    written: list[Path] = []
    try:
        return _propose(
            actor=actor,
            line=line,
            kind=kind,
            new_limit=new_limit,
            until=until,
            reason_code=reason_code,
            justification=justification,
            evidence_files=evidence_files,
            case_ref=case_ref,
            written=written,
        )
    except BaseException:
        discard_files(written)
        raise


@transaction.atomic
def _propose(
    *,
    actor: User,
    line: CreditLine,
    kind: str,
    new_limit: Any,
    until: date | None,
    reason_code: str,
    justification: str,
    evidence_files: Iterable[Any],
    case_ref: str,
    written: list[Path],
) -> OverrideProposal:
    _require_proposer(actor)
    line = CreditLine.objects.get(pk=line.pk)
    direction, amount, until = _shape(line=line, kind=kind, new_limit=new_limit, until=until)
    reason = _reason(reason_code)
    text = _justification(justification)
    _hard_blocks(line=line, direction=direction, new_limit=amount)
    open_one = OverrideProposal.objects.filter(line=line, status__in=OPEN_STATUSES).first()
    if open_one is not None:
        raise OverrideOpenExists(proposal=open_one.pk)
    band, score = band_and_score(line.borrower_id)
    now = timezone.now()
    try:
        with transaction.atomic():
            proposal = OverrideProposal.objects.create(
                line=line,
                borrower_id=line.borrower_id,
                kind=kind,
                direction=direction,
                old_limit=line.credit_limit,
                new_limit=amount,
                until=until,
                reason=reason,
                justification=text,
                case_ref=(case_ref or "").strip()[:64],
                band=band,
                score=score,
                proposed_by=actor,
                proposed_at=now,
                submitted_at=now,
                expires_at=now + timedelta(hours=expiry_hours()),
            )
    except IntegrityError as exc:  # a concurrent proposal on the same line won the race
        open_one = OverrideProposal.objects.filter(line=line, status__in=OPEN_STATUSES).first()
        raise OverrideOpenExists(proposal=open_one.pk if open_one else "?") from exc
    files = store_evidence(actor=actor, proposal=proposal, files=evidence_files, written=written)
    audit(
        actor=actor,
        action="override.proposed",
        obj=proposal,
        borrower_id=proposal.borrower_id,
        after={**_state(proposal), "evidence": [f.sha256 for f in files]},
        note=text,
    )
    return proposal


def override_resubmit(
    *,
    actor: User,
    proposal: OverrideProposal,
    new_limit: Decimal | None = None,
    until: date | None = None,
    reason_code: str,
    justification: str,
    evidence_files: Iterable[Any] = (),
) -> OverrideProposal:
    """The proposer edits a proposal sent back for changes and submits it again: it returns
    to the approvers' queue as a new revision, its age and expiry counted afresh. Writes
    "override.resubmitted". Raises NotYourProposal, AlreadyDecided (not sent back),
    OverrideInvalid, HardBlock, EvidenceRefused."""
    written: list[Path] = []
    try:
        return _resubmit(
            actor=actor,
            proposal=proposal,
            new_limit=new_limit,
            until=until,
            reason_code=reason_code,
            justification=justification,
            evidence_files=evidence_files,
            written=written,
        )
    except BaseException:
        discard_files(written)
        raise


@transaction.atomic
def _resubmit(
    *,
    actor: User,
    proposal: OverrideProposal,
    new_limit: Any,
    until: date | None,
    reason_code: str,
    justification: str,
    evidence_files: Iterable[Any],
    written: list[Path],
) -> OverrideProposal:
    _require_proposer(actor)
    proposal = OverrideProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.proposed_by_id != actor.pk:
        raise NotYourProposal()
    if proposal.status != OverrideStatus.CHANGES_REQUESTED:
        raise AlreadyDecided(status=proposal.get_status_display())
    if proposal.expires_at <= timezone.now():
        raise AlreadyDecided(status=OverrideStatus.EXPIRED.label)
    line = CreditLine.objects.get(pk=proposal.line_id)
    before = _state(proposal)
    direction, amount, until = _shape(
        line=line, kind=proposal.kind, new_limit=new_limit, until=until
    )
    reason = _reason(reason_code)
    text = _justification(justification)
    _hard_blocks(line=line, direction=direction, new_limit=amount)
    band, score = band_and_score(line.borrower_id)
    now = timezone.now()
    proposal.direction = direction
    proposal.old_limit = line.credit_limit
    proposal.new_limit = amount
    proposal.until = until
    proposal.reason = reason
    proposal.justification = text
    proposal.band, proposal.score = band, score
    proposal.status = OverrideStatus.PENDING
    proposal.revision += 1
    proposal.submitted_at = now
    proposal.expires_at = now + timedelta(hours=expiry_hours())
    proposal.save()
    files = store_evidence(actor=actor, proposal=proposal, files=evidence_files, written=written)
    audit(
        actor=actor,
        action="override.resubmitted",
        obj=proposal,
        borrower_id=proposal.borrower_id,
        before=before,
        after={**_state(proposal), "evidence": [f.sha256 for f in files]},
        note=text,
    )
    return proposal


@transaction.atomic
def override_withdraw(
    *, actor: User, proposal: OverrideProposal, note: str = ""
) -> OverrideProposal:
    """The proposer takes back a proposal still in flight. Writes "override.withdrawn".
    Raises NotYourProposal, AlreadyDecided."""
    _require_proposer(actor)
    proposal = OverrideProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.proposed_by_id != actor.pk:
        raise NotYourProposal()
    if proposal.status not in OPEN_STATUSES:
        raise AlreadyDecided(status=proposal.get_status_display())
    before = {"status": proposal.status}
    proposal.status = OverrideStatus.WITHDRAWN
    proposal.decided_at = timezone.now()
    proposal.decision_note = (note or "").strip()[:NOTE_MAX]
    proposal.save(update_fields=["status", "decided_at", "decision_note"])
    audit(
        actor=actor,
        action="override.withdrawn",
        obj=proposal,
        borrower_id=proposal.borrower_id,
        before=before,
        after={"status": proposal.status},
        note=proposal.decision_note,
    )
    return proposal


# --- decide -----------------------------------------------------------------------------------


def _lock_pending(proposal: OverrideProposal) -> OverrideProposal:
    """The proposal, row-locked; AlreadyDecided unless it still awaits a decision. The lock is
    what makes two approvers acting at once queue up: the second reads the first's outcome."""
    locked = OverrideProposal.objects.select_for_update().get(pk=proposal.pk)
    if locked.status != OverrideStatus.PENDING:
        raise AlreadyDecided(status=locked.get_status_display())
    if locked.expires_at <= timezone.now():
        raise AlreadyDecided(status=OverrideStatus.EXPIRED.label)
    return locked


def _require_decider(actor: User, proposal: OverrideProposal) -> Authority:
    if actor is None or not actor.is_active or actor.role not in STAFF_ROLES:
        raise NotAllowed(role=getattr(actor, "role", None))
    if proposal.proposed_by_id == actor.pk:
        raise FourEyesOverride()
    rules = active_rules()
    change = change_of(proposal)
    authority = authority_for(actor.role, change, rules)
    if not authority.may_decide:
        needed = roles_needed(change, rules)
        raise NoAuthority(needed=_role_label(needed[0]) if needed else _("an updated matrix"))
    return authority


def may_decide(actor: User, proposal: OverrideProposal) -> bool:
    """For pages: whether `actor` could decide this proposal now (without the step-up)."""
    try:
        _require_decider(actor, proposal)
    except (NotAllowed, FourEyesOverride, NoAuthority):
        return False
    return proposal.status == OverrideStatus.PENDING


def needs_step_up(actor: User, proposal: OverrideProposal) -> bool:
    return authority_for(actor.role, change_of(proposal), active_rules()).step_up


def _decided(
    *,
    actor: User,
    proposal: OverrideProposal,
    status: str,
    note: str,
    action: str,
    extra: tuple[str, ...] = (),
) -> OverrideProposal:
    before = {"status": proposal.status}
    proposal.status = status
    proposal.decided_by = actor
    proposal.decided_at = timezone.now()
    proposal.decision_note = (note or "").strip()[:NOTE_MAX]
    proposal.save(update_fields=["status", "decided_by", "decided_at", "decision_note", *extra])
    audit(
        actor=actor,
        action=action,
        obj=proposal,
        borrower_id=proposal.borrower_id,
        before=before,
        after={**_state(proposal), **{k: getattr(proposal, k) for k in extra}},
        note=proposal.decision_note,
    )
    return proposal


def _apply(*, actor: User, proposal: OverrideProposal) -> None:
    """Make the change on the line through lending.services (same transaction)."""
    # A senior analyst approves within their authority, but lending's limit service takes
    # manager and above: the system applies the approved override, and the line's own audit
    # row still names the approver (approved_by).
    line_actor = actor if actor.role in LINE_DECISION_ROLES else None
    approved_by = None if line_actor is not None else actor
    note = f"override #{proposal.pk}: {proposal.reason.code}"
    line = CreditLine.objects.get(pk=proposal.line_id)
    if proposal.kind == OverrideKind.FREEZE:
        line_freeze(actor=actor, line=line, status_code=LineStatusCode.MANUAL, note=note)
    elif proposal.kind == OverrideKind.UNFREEZE:
        line_unfreeze(actor=actor, line=line, status_code=LineStatusCode.OVERRIDE, note=note)
    else:
        today = timezone.localdate()
        days = lock_days()
        if proposal.kind == OverrideKind.TEMPORARY and proposal.until is not None:
            days = (proposal.until - today).days + 1
        line_limit_set(
            actor=line_actor,
            line=line,
            new_limit=proposal.new_limit or Decimal("0"),  # set for these kinds (_shape)
            reason_code=LineStatusCode.OVERRIDE,
            note=note,
            automatic=False,
            lock_days=max(1, min(days, 366)),
            approved_by=approved_by,
        )


# Wrong step-up passwords per approver before the step-up pauses: the password prompt must
# not become a way to guess a password from an open session (the login page has its own
# lockout). Counted in the cache, which the refusal's rollback does not undo.
STEP_UP_MAX_FAILURES = 5
STEP_UP_PAUSE_SECONDS = 15 * 60


def _step_up_check(actor: User, password: str | None) -> None:
    if not password:
        raise StepUpRequired()
    key = f"override-step-up-failures:{actor.pk}"
    minutes = STEP_UP_PAUSE_SECONDS // 60
    if int(cache.get(key) or 0) >= STEP_UP_MAX_FAILURES:
        raise StepUpLocked(minutes=minutes)
    if not actor.check_password(password):
        cache.add(key, 0, STEP_UP_PAUSE_SECONDS)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, STEP_UP_PAUSE_SECONDS)
            failures = 1
        if failures >= STEP_UP_MAX_FAILURES:
            raise StepUpLocked(minutes=minutes)
        raise StepUpFailed()
    cache.delete(key)


@transaction.atomic
def override_approve(
    *, actor: User, proposal: OverrideProposal, note: str = "", password: str | None = None
) -> OverrideProposal:
    """Approve and apply (rules 2-4). Writes "override.approved" (and "override.step_up"
    when the password was asked), lending its own rows and the notice.

    Raises NotAllowed, FourEyesOverride, NoAuthority, StepUpRequired, StepUpFailed,
    StepUpLocked (five wrong passwords in a row: paused for 15 minutes),
    AlreadyDecided (someone decided first, or it expired), HardBlock, OverrideInvalid (the
    line changed since it was proposed: ask for changes)."""
    proposal = _lock_pending(proposal)
    authority = _require_decider(actor, proposal)
    authority = _authority_in_current_band(actor, proposal, authority)
    if authority.step_up:
        _step_up_check(actor, password)
    line = CreditLine.objects.select_for_update().get(pk=proposal.line_id)
    if proposal.kind in (OverrideKind.LIMIT, OverrideKind.TEMPORARY) and (
        line.credit_limit != proposal.old_limit
    ):
        raise OverrideInvalid(
            problem=_("the limit changed since it was proposed (now ¥%(now)s); ask for changes.")
            % {"now": line.credit_limit}
        )
    _hard_blocks(line=line, direction=proposal.direction, new_limit=proposal.new_limit)
    _shape(line=line, kind=proposal.kind, new_limit=proposal.new_limit, until=proposal.until)
    if authority.step_up:
        audit(
            actor=actor,
            action="override.step_up",
            obj=proposal,
            borrower_id=proposal.borrower_id,
            after={"confirmed": True, "increase": change_of(proposal).increase},
        )
        proposal.stepped_up = True
    if proposal.kind == OverrideKind.TEMPORARY:
        proposal.revert_to = proposal.old_limit
    _apply(actor=actor, proposal=proposal)
    return _decided(
        actor=actor,
        proposal=proposal,
        status=OverrideStatus.APPROVED,
        note=note,
        action="override.approved",
        extra=("stepped_up", "revert_to"),
    )


def _authority_in_current_band(
    actor: User, proposal: OverrideProposal, authority: Authority
) -> Authority:
    """The band is read when proposed; a borrower re-scored since into a worse band must not
    be decided on the old one (a senior analyst approving a band E increase). The approver's
    authority is judged again in the band of today; beyond it, the proposal goes back."""
    band, _score = band_and_score(proposal.borrower_id)
    if band == proposal.band:
        return authority
    now = authority_for(actor.role, replace(change_of(proposal), band=band), active_rules())
    if not now.may_decide:
        raise OverrideInvalid(
            problem=_(
                "the borrower's risk band is now %(now)s (it was %(then)s when proposed), "
                "beyond your authority; ask for changes."
            )
            % {"now": band, "then": proposal.band}
        )
    return now


def _note_required(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise OverrideInvalid(problem=_("write a note for the proposer."))
    return note


@transaction.atomic
def override_reject(*, actor: User, proposal: OverrideProposal, note: str) -> OverrideProposal:
    """Reject with a note. Writes "override.rejected". Raises NotAllowed, FourEyesOverride,
    NoAuthority, AlreadyDecided, OverrideInvalid (no note)."""
    note = _note_required(note)
    proposal = _lock_pending(proposal)
    _require_decider(actor, proposal)
    return _decided(
        actor=actor,
        proposal=proposal,
        status=OverrideStatus.REJECTED,
        note=note,
        action="override.rejected",
    )


@transaction.atomic
def override_request_changes(
    *, actor: User, proposal: OverrideProposal, note: str
) -> OverrideProposal:
    """Send the proposal back to its proposer with a note (they edit and resubmit). Writes
    "override.changes_requested". Raises as override_reject."""
    note = _note_required(note)
    proposal = _lock_pending(proposal)
    _require_decider(actor, proposal)
    before = {"status": proposal.status}
    proposal.status = OverrideStatus.CHANGES_REQUESTED
    proposal.review_note = note[:NOTE_MAX]
    # The proposer has the same time to resubmit as an approver had to decide: a proposal
    # sent back and left holds the line out of the automatic policy until it expires.
    proposal.expires_at = timezone.now() + timedelta(hours=expiry_hours())
    proposal.save(update_fields=["status", "review_note", "expires_at"])
    audit(
        actor=actor,
        action="override.changes_requested",
        obj=proposal,
        borrower_id=proposal.borrower_id,
        before=before,
        after={"status": proposal.status, "revision": proposal.revision},
        note=note,
    )
    return proposal
