"""Every write to the lending book: borrowers, lines, drawdowns, repayments, what was seen.

Rules shared by all services here:

1. Keyword-only arguments; `actor` is the User acting, or None for the system (a task, the
   seeder). A User actor must be an active staff member or the lending core's service account
   (NotAllowed otherwise); freezing and unfreezing a line needs staff.
2. Each service runs in `@transaction.atomic`, not durable: event ingestion
   (monitoring.services.event_ingest) is the durable entry point and composes many of these
   into one all-or-nothing batch.
3. Decisions are made on rows re-read with `select_for_update()`. Lock order is always the
   credit line, then the drawdown, so two services never wait on each other in a cycle.
4. Every change writes an audit row (accounts.audit.audit) in the same transaction, with the
   borrower set. Personal data (ID number, mobile, card number) never goes into the audit
   log in clear: only its masked form.
5. Idempotency: services keyed by an outside reference (customer_no, loan_no, a repayment's
   or transfer's reference) return the stored object when replayed with the same data, write
   nothing and no audit row, and raise DuplicateKeyConflict when the key comes with different
   data.
6. Derived state is recomputed from the schedule after every change (`_line_sync`):
   line.used = principal outstanding of the line's active drawdowns, and
   line.oldest_unpaid_due = the earliest due date of an instalment not fully paid (None when
   nothing is owed). DPD and the bucket are derived from it (lending.money).
7. All money math is lending.money's; nothing here rounds or computes interest by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import STAFF_ROLES, Role
from accounts.masking import mask_card, mask_mobile, mask_national_id
from lending import money
from lending.choices import (
    AssetKind,
    DrawdownStatus,
    IdentityCheckResult,
    IncomeBand,
    LineStatus,
    Purpose,
    RepaymentMode,
)
from lending.errors import (
    AlreadyFrozen,
    DrawdownNotActive,
    DuplicateKeyConflict,
    InsufficientAvailable,
    InvalidAmount,
    InvalidChoice,
    InvalidData,
    InvalidDate,
    InvalidRate,
    InvalidTerm,
    LineClosed,
    LineNotActive,
    NotAllowed,
    NotFrozen,
    ReasonRequired,
    UnknownLoan,
)
from lending.models import (
    ZERO,
    BankAccount,
    BookSnapshot,
    Borrower,
    CreditLine,
    DeclaredAsset,
    Device,
    Drawdown,
    Instalment,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)

if TYPE_CHECKING:
    from accounts.models import User

# The legal ceiling on a daily rate: 0.0986%/day is 36% a year (RULES §4B.4); the line's
# CheckConstraint holds the same bound.
MAX_DAILY_RATE = Decimal("0.000986")
MAX_TERM_MONTHS = 36


# --- guards -----------------------------------------------------------------------------------


def _require_writer(actor: User | None) -> None:
    """Book writes come from the system, the lending core's service account, or staff.

    A borrower login or a deactivated account never writes to the book, whatever the caller.
    """
    if actor is None:
        return
    if not actor.is_active or (actor.role not in STAFF_ROLES and actor.role != Role.SERVICE):
        raise NotAllowed(actor=actor.get_username())


def _require_staff(actor: User | None) -> None:
    """Decisions on a line (freeze, unfreeze) belong to risk staff or the system."""
    if actor is None:
        return
    if not actor.is_active or actor.role not in STAFF_ROLES:
        raise NotAllowed(actor=actor.get_username())


def _require_choice(value: str, choices: Iterable[str], field_name: str) -> None:
    if value not in set(choices):
        raise InvalidChoice(field=field_name, value=value)


def _require_positive(amount: Decimal) -> None:
    if amount is None or Decimal(amount) <= 0:
        raise InvalidAmount(amount=amount)


def _require_rate(daily_rate: Decimal) -> None:
    if daily_rate is None or not ZERO < Decimal(daily_rate) <= MAX_DAILY_RATE:
        raise InvalidRate(daily_rate=daily_rate)


def _require_key(value: str, field_name: str, max_length: int) -> None:
    """An idempotency key must be given and fit its column."""
    if not value or len(value) > max_length:
        raise InvalidData(fields=field_name)


def _full_clean(obj: Any, *, exclude: list[str] | None = None) -> None:
    """Model validation (lengths, choices) as a DomainError instead of a ValidationError."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidData(fields=", ".join(sorted(exc.message_dict))) from exc


def _conflict(key: str, stored: dict[str, Any], given: dict[str, Any]) -> None:
    """Raise DuplicateKeyConflict naming the fields that differ; None in `given` means unsaid."""
    differing = sorted(k for k, v in given.items() if v is not None and stored.get(k) != v)
    if differing:
        raise DuplicateKeyConflict(key=key, fields=", ".join(differing))


def _money(value: Decimal | int | str) -> Decimal:
    """Amounts as two-place Decimals, so a replayed "100" equals a stored 100.00."""
    return Decimal(value).quantize(money.FEN)


# --- derived state of a line ------------------------------------------------------------------


def _line_sync(line: CreditLine) -> list[str]:
    """Recompute used and oldest_unpaid_due from the drawdowns; return the fields that changed.

    The caller holds the line's row lock and saves with the returned update_fields.
    """
    total = Drawdown.objects.filter(line=line, status=DrawdownStatus.ACTIVE).aggregate(
        total=Sum("principal_outstanding")
    )["total"]
    # A sum of fen amounts is exact; quantize only fixes how SQLite's sum is written.
    used = (total or ZERO).quantize(money.FEN)
    oldest = Instalment.objects.filter(drawdown__line=line, paid_off_at__isnull=True).aggregate(
        oldest=Min("due_date")
    )["oldest"]
    changed = []
    if line.used != used:
        line.used = used
        changed.append("used")
    if line.oldest_unpaid_due != oldest:
        line.oldest_unpaid_due = oldest
        changed.append("oldest_unpaid_due")
    return changed


def _line_state(line: CreditLine) -> dict[str, Any]:
    return {
        "status": line.status,
        "used": line.used,
        "oldest_unpaid_due": line.oldest_unpaid_due,
    }


def _lock_line(borrower_id: int) -> CreditLine:
    # Row lock on the line: drawdowns, repayments and freezes of one borrower queue up here,
    # so `used` is decided on the latest committed value.
    return CreditLine.objects.select_for_update().get(borrower_id=borrower_id)


# --- borrowers --------------------------------------------------------------------------------


@transaction.atomic  # not durable: event ingestion composes it into one batch
def borrower_register(
    *,
    actor: User | None,
    customer_no: str,
    name: str,
    national_id: str,
    mobile: str,
    city: str,
    income_band: str,
    employer: str = "",
    registered_at: datetime | None = None,
    credit_limit: Decimal,
    daily_rate: Decimal,
    opened_at: datetime | None = None,
) -> Borrower:
    """Register a borrower and open their credit line.

    Replayed with the same customer_no and data it returns the stored borrower; with
    different data it raises DuplicateKeyConflict. Raises InvalidAmount (negative limit),
    InvalidRate (rate not in (0, 0.0986%]), InvalidChoice (income band), InvalidData (a field
    too long or blank), NotAllowed (a borrower or inactive login).
    """
    _require_writer(actor)
    existing = Borrower.objects.select_related("line").filter(customer_no=customer_no).first()
    if existing is not None:
        line = existing.line
        _conflict(
            f"customer {customer_no}",
            {
                "name": existing.name,
                "national_id": existing.national_id,
                "mobile": existing.mobile,
                "city": existing.city,
                "income_band": existing.income_band,
                "employer": existing.employer,
                "registered_at": existing.registered_at,
                "credit_limit": line.credit_limit,
                "daily_rate": line.daily_rate,
                "opened_at": line.opened_at,
            },
            {
                "name": name,
                "national_id": national_id,
                "mobile": mobile,
                "city": city,
                "income_band": income_band,
                "employer": employer,
                "registered_at": registered_at,
                "credit_limit": _money(credit_limit),
                "daily_rate": Decimal(daily_rate),
                "opened_at": opened_at,
            },
        )
        return existing

    if credit_limit is None or Decimal(credit_limit) < 0:
        raise InvalidAmount(amount=credit_limit)
    _require_rate(daily_rate)
    _require_choice(income_band, IncomeBand.values, "income band")
    registered_at = registered_at or timezone.now()
    borrower = Borrower(
        customer_no=customer_no,
        name=name,
        national_id=national_id,
        national_id_last4=national_id[-4:],
        mobile=mobile,
        mobile_last4=mobile[-4:],
        city=city,
        employer=employer,
        income_band=income_band,
        registered_at=registered_at,
    )
    _full_clean(borrower)
    borrower.save()
    line = CreditLine(
        borrower=borrower,
        credit_limit=_money(credit_limit),
        daily_rate=Decimal(daily_rate),
        opened_at=opened_at or registered_at,
    )
    _full_clean(line, exclude=["borrower"])
    line.save()
    audit(
        actor=actor,
        action="borrower.registered",
        obj=borrower,
        borrower_id=borrower.pk,
        after={
            "customer_no": customer_no,
            "national_id": mask_national_id(national_id),
            "mobile": mask_mobile(mobile),
            "city": city,
            "income_band": income_band,
            "credit_limit": line.credit_limit,
            "daily_rate": line.daily_rate,
            "line_id": line.pk,
        },
    )
    return borrower


@transaction.atomic  # not durable: event ingestion composes it into one batch
def identity_check_record(
    *,
    actor: User | None,
    borrower: Borrower,
    result: str,
    source: str,
    checked_at: datetime | None = None,
) -> Borrower:
    """Record the result of cross-checking the borrower's identity against third-party data.

    A replay (same result and source, and the same time when one is given) changes nothing
    and writes no audit row. Raises InvalidChoice for an unknown result.
    """
    _require_writer(actor)
    _require_choice(result, IdentityCheckResult.values, "identity check result")
    borrower = Borrower.objects.select_for_update().get(pk=borrower.pk)
    if (
        borrower.identity_check == result
        and borrower.identity_check_source == source
        and (checked_at is None or borrower.identity_checked_at == checked_at)
    ):
        return borrower
    before = {
        "identity_check": borrower.identity_check,
        "identity_check_source": borrower.identity_check_source,
        "identity_checked_at": borrower.identity_checked_at,
    }
    borrower.identity_check = result
    borrower.identity_check_source = source
    borrower.identity_checked_at = checked_at or timezone.now()
    _full_clean(borrower)
    borrower.save(update_fields=["identity_check", "identity_check_source", "identity_checked_at"])
    audit(
        actor=actor,
        action="borrower.identity_checked",
        obj=borrower,
        borrower_id=borrower.pk,
        before=before,
        after={
            "identity_check": result,
            "identity_check_source": source,
            "identity_checked_at": borrower.identity_checked_at,
        },
    )
    return borrower


@transaction.atomic  # not durable: event ingestion composes it into one batch
def asset_declare(
    *,
    actor: User | None,
    borrower: Borrower,
    kind: str,
    amount: Decimal,
    declared_at: datetime | None = None,
    verified: bool = False,
) -> DeclaredAsset:
    """Record a financial asset the borrower declared as a backup source of repayment.

    A replay (same borrower, kind, amount and declared_at) returns the stored asset. Raises
    InvalidAmount (<= 0), InvalidChoice (kind).
    """
    _require_writer(actor)
    _require_positive(amount)
    _require_choice(kind, AssetKind.values, "asset kind")
    amount = _money(amount)
    # Lock the borrower so two identical declarations posted at once record one asset.
    Borrower.objects.select_for_update().filter(pk=borrower.pk).first()
    if declared_at is not None:
        existing = DeclaredAsset.objects.filter(
            borrower=borrower, kind=kind, amount=amount, declared_at=declared_at
        ).first()
        if existing is not None:
            return existing
    declared_at = declared_at or timezone.now()
    asset = DeclaredAsset.objects.create(
        borrower=borrower,
        kind=kind,
        amount=amount,
        declared_at=declared_at,
        verified=verified,
        verified_at=declared_at if verified else None,
    )
    audit(
        actor=actor,
        action="asset.declared",
        obj=asset,
        borrower_id=borrower.pk,
        after={"kind": kind, "amount": amount, "verified": verified},
    )
    return asset


# --- what was seen: bank cards and devices ----------------------------------------------------


def _widen_seen(seen: BankAccount | Device, seen_at: datetime) -> list[str]:
    """Stretch first_seen_at/last_seen_at to cover `seen_at` (events may arrive out of order);
    return the fields changed."""
    changed = []
    if seen_at > seen.last_seen_at:
        seen.last_seen_at = seen_at
        changed.append("last_seen_at")
    if seen_at < seen.first_seen_at:
        seen.first_seen_at = seen_at
        changed.append("first_seen_at")
    return changed


def _bank_account_touch(
    *, actor: User | None, borrower: Borrower, card_no: str, bank_name: str, seen_at: datetime
) -> BankAccount:
    """Get or create the borrower's card and move its seen dates; audit only a new card."""
    if not card_no or len(card_no) > 19:
        raise InvalidData(fields="card_no")
    account = (
        BankAccount.objects.select_for_update().filter(borrower=borrower, card_no=card_no).first()
    )
    if account is None:
        account = BankAccount.objects.create(
            borrower=borrower,
            card_no=card_no,
            bank_name=bank_name[:64],
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        audit(
            actor=actor,
            action="bank_account.added",
            obj=account,
            borrower_id=borrower.pk,
            after={"card_no": mask_card(card_no), "bank_name": bank_name},
        )
        return account
    changed = _widen_seen(account, seen_at)
    if bank_name and not account.bank_name:
        account.bank_name = bank_name[:64]
        changed.append("bank_name")
    if changed:
        account.save(update_fields=changed)
    return account


def _device_touch(
    *, actor: User | None, borrower: Borrower, device_id: str, platform: str, seen_at: datetime
) -> Device:
    """Get or create the borrower's device and move its seen dates; audit only a new device."""
    if not device_id or len(device_id) > 64:
        raise InvalidData(fields="device_id")
    device = (
        Device.objects.select_for_update().filter(borrower=borrower, device_id=device_id).first()
    )
    if device is None:
        device = Device.objects.create(
            borrower=borrower,
            device_id=device_id,
            platform=platform[:16],
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        audit(
            actor=actor,
            action="device.added",
            obj=device,
            borrower_id=borrower.pk,
            after={"device_id": device_id, "platform": platform},
        )
        return device
    changed = _widen_seen(device, seen_at)
    if platform and not device.platform:
        device.platform = platform[:16]
        changed.append("platform")
    if changed:
        device.save(update_fields=changed)
    return device


@transaction.atomic  # not durable: event ingestion composes it into one batch
def bank_account_seen(
    *, actor: User | None, borrower: Borrower, card_no: str, bank_name: str, seen_at: datetime
) -> BankAccount:
    """Note a bank card used by the borrower: created once per (borrower, card), then its
    last-seen date moves. The audit row ("bank_account.added") is written only on creation.

    Raises InvalidData for a blank or over-long card number.
    """
    _require_writer(actor)
    return _bank_account_touch(
        actor=actor, borrower=borrower, card_no=card_no, bank_name=bank_name, seen_at=seen_at
    )


@transaction.atomic  # not durable: event ingestion composes it into one batch
def device_seen(
    *, actor: User | None, borrower: Borrower, device_id: str, platform: str = "", seen_at: datetime
) -> Device:
    """Note a device the borrower used: created once per (borrower, device), then its
    last-seen date moves. The audit row ("device.added") is written only on creation.

    Raises InvalidData for a blank or over-long device id.
    """
    _require_writer(actor)
    return _device_touch(
        actor=actor, borrower=borrower, device_id=device_id, platform=platform, seen_at=seen_at
    )


# --- drawdowns --------------------------------------------------------------------------------


@transaction.atomic  # not durable: event ingestion composes it into one batch
def drawdown_create(
    *,
    actor: User | None,
    borrower: Borrower,
    loan_no: str,
    amount: Decimal,
    term_months: int,
    repayment_mode: str,
    purpose: str,
    card_no: str,
    bank_name: str,
    device_id: str | None = None,
    daily_rate: Decimal | None = None,
    disbursed_at: datetime | None = None,
) -> Drawdown:
    """Draw a loan on the borrower's line and build its instalment schedule.

    1. Lock the line. A replay of `loan_no` with the same data returns the stored drawdown
       (even if the line has since been frozen); different data raises DuplicateKeyConflict.
    2. Refuse: InvalidAmount (<= 0), InvalidTerm (not 1-36), InvalidRate (the rate given,
       or the line's, outside (0, 0.0986%]), InvalidChoice (mode, purpose), LineNotActive
       (frozen or closed), InsufficientAvailable (amount above the line's available).
    3. Note the payout card and the device, build the schedule (money.build_schedule, due
       dates monthly on the disbursement day), fix the APR by the IRR method (money.apr_irr),
       and add the amount to the line's `used`.
    """
    _require_writer(actor)
    device_id = device_id or None  # "" from a client means no device, as None does
    line = _lock_line(borrower.pk)
    existing = (
        Drawdown.objects.select_related("bank_account", "device").filter(loan_no=loan_no).first()
    )
    if existing is not None:
        _conflict(
            f"loan {loan_no}",
            {
                "borrower": existing.borrower_id,
                "amount": existing.amount,
                "term_months": existing.term_months,
                "repayment_mode": existing.repayment_mode,
                "purpose": existing.purpose,
                "card_no": existing.bank_account.card_no,
                "device_id": existing.device.device_id if existing.device else None,
                "daily_rate": existing.daily_rate,
                "disbursed_at": existing.disbursed_at,
            },
            {
                "borrower": borrower.pk,
                "amount": _money(amount) if amount is not None else None,
                "term_months": term_months,
                "repayment_mode": repayment_mode,
                "purpose": purpose,
                "card_no": card_no,
                "device_id": device_id,
                "daily_rate": Decimal(daily_rate) if daily_rate is not None else None,
                "disbursed_at": disbursed_at,
            },
        )
        return existing

    _require_key(loan_no, "loan_no", 40)
    _require_positive(amount)
    amount = _money(amount)
    if not isinstance(term_months, int) or not 1 <= term_months <= MAX_TERM_MONTHS:
        raise InvalidTerm(term_months=term_months)
    rate = Decimal(daily_rate) if daily_rate is not None else line.daily_rate
    _require_rate(rate)
    _require_choice(repayment_mode, RepaymentMode.values, "repayment mode")
    _require_choice(purpose, Purpose.values, "purpose")
    if line.status != LineStatus.ACTIVE:
        raise LineNotActive(status=str(line.get_status_display()))
    if amount > line.available:
        raise InsufficientAvailable(amount=amount, available=line.available)

    disbursed_at = disbursed_at or timezone.now()
    before = _line_state(line)
    bank_account = _bank_account_touch(
        actor=actor, borrower=borrower, card_no=card_no, bank_name=bank_name, seen_at=disbursed_at
    )
    device = (
        _device_touch(
            actor=actor, borrower=borrower, device_id=device_id, platform="", seen_at=disbursed_at
        )
        if device_id
        else None
    )
    schedule = money.build_schedule(
        amount=amount,
        term_months=term_months,
        mode=repayment_mode,
        daily_rate=rate,
        start=timezone.localdate(disbursed_at),
    )
    drawdown = Drawdown.objects.create(
        line=line,
        borrower=borrower,
        loan_no=loan_no,
        amount=amount,
        term_months=term_months,
        repayment_mode=repayment_mode,
        daily_rate=rate,
        apr=money.apr_irr(amount=amount, schedule=schedule),
        purpose=purpose,
        disbursed_at=disbursed_at,
        bank_account=bank_account,
        device=device,
        principal_outstanding=amount,
    )
    Instalment.objects.bulk_create(
        Instalment(
            drawdown=drawdown,
            seq=planned.seq,
            due_date=planned.due_date,
            principal_due=planned.principal,
            interest_due=planned.interest,
        )
        for planned in schedule
    )
    changed = _line_sync(line)
    if changed:
        line.save(update_fields=changed)
    audit(
        actor=actor,
        action="drawdown.created",
        obj=drawdown,
        borrower_id=borrower.pk,
        before={"line": before},
        after={
            "loan_no": loan_no,
            "amount": amount,
            "term_months": term_months,
            "repayment_mode": repayment_mode,
            "daily_rate": rate,
            "apr": drawdown.apr,
            "purpose": purpose,
            "card_no": mask_card(card_no),
            "line": _line_state(line),
        },
    )
    return drawdown


# --- repayments -------------------------------------------------------------------------------


@transaction.atomic  # not durable: event ingestion composes it into one batch
def repayment_record(
    *,
    actor: User | None,
    loan_no: str,
    reference: str,
    amount: Decimal,
    paid_at: datetime,
    card_no: str | None = None,
) -> Repayment:
    """Record money received for a loan and allocate it over the schedule.

    Replayed with the same reference and data it returns the stored repayment; with
    different data it raises DuplicateKeyConflict. The paid date is `paid_at` in Shanghai.
    The steps below are lending.money.plan_repayment's (pure, shared with the demo seeder);
    this service locks, plans, then writes the rows.

    In short: penalty accrues on overdue principal up to the paid date; due instalments take
    the money oldest first (fees, interest, principal); enough to settle everything early
    settles the loan with interest by the actual day; less pays the next instalments ahead
    of time; more than the payoff raises Overpayment and changes nothing. The numbered rules
    are in lending.money's module docstring.

    Each instalment the payment reaches gets a RepaymentAllocation row; an instalment fully
    paid gets paid_off_at = paid_at. The drawdown's principal_outstanding, the line's used
    and oldest_unpaid_due are then recomputed. Raises UnknownLoan, InvalidAmount (<= 0),
    InvalidDate (paid before disbursement), DrawdownNotActive (settled or written off),
    Overpayment, NotAllowed.
    """
    _require_writer(actor)
    card_no = card_no or None  # "" from a client means no card, as None does
    found = Drawdown.objects.filter(loan_no=loan_no).values("line_id", "borrower_id").first()
    if found is None:
        raise UnknownLoan(loan_no=loan_no)
    line = _lock_line(found["borrower_id"])
    # Lock order: the line (above), then the drawdown, as everywhere else.
    drawdown = Drawdown.objects.select_for_update().get(loan_no=loan_no)

    existing = (
        Repayment.objects.select_related("drawdown", "bank_account")
        .filter(reference=reference)
        .first()
    )
    if existing is not None:
        _conflict(
            f"repayment {reference}",
            {
                "loan_no": existing.drawdown.loan_no,
                "amount": existing.amount,
                "paid_at": existing.paid_at,
                "card_no": existing.bank_account.card_no if existing.bank_account else None,
            },
            {
                "loan_no": loan_no,
                "amount": _money(amount) if amount is not None else None,
                "paid_at": paid_at,
                "card_no": card_no,
            },
        )
        return existing

    _require_key(reference, "reference", 64)
    _require_positive(amount)
    amount = _money(amount)
    if drawdown.status != DrawdownStatus.ACTIVE:
        raise DrawdownNotActive(loan_no=loan_no, status=str(drawdown.get_status_display()))
    paid_date = timezone.localdate(paid_at)
    start_date = timezone.localdate(drawdown.disbursed_at)
    if paid_date < start_date:
        raise InvalidDate(field="paid_at", value=paid_date, earliest=start_date)

    instalments = list(
        Instalment.objects.select_for_update().filter(drawdown=drawdown).order_by("seq")
    )
    by_seq = {inst.seq: inst for inst in instalments}
    plan = money.plan_repayment(
        instalments,
        amount=amount,
        paid_at=paid_at,
        daily_rate=drawdown.daily_rate,
        disbursed_on=start_date,
        loan_no=loan_no,
    )
    parts, settles = plan.parts, plan.settles

    bank_account = None
    if card_no:
        bank_account = _bank_account_touch(
            actor=actor, borrower=drawdown.borrower, card_no=card_no, bank_name="", seen_at=paid_at
        )
    repayment = Repayment.objects.create(
        drawdown=drawdown,
        borrower_id=drawdown.borrower_id,
        reference=reference,
        amount=amount,
        paid_at=paid_at,
        bank_account=bank_account,
    )
    for seq, part in parts.items():
        if part.fields:
            by_seq[seq].save(update_fields=sorted(part.fields))
    RepaymentAllocation.objects.bulk_create(
        RepaymentAllocation(
            repayment=repayment,
            instalment=by_seq[seq],
            fee=part.fee,
            interest=part.interest,
            principal=part.principal,
        )
        for seq, part in sorted(parts.items())
        if part.total > 0
    )

    before_drawdown = {
        "status": drawdown.status,
        "principal_outstanding": drawdown.principal_outstanding,
    }
    before_line = _line_state(line)
    drawdown.principal_outstanding = drawdown.amount - sum(
        (inst.principal_paid for inst in instalments), ZERO
    )
    drawdown_fields = ["principal_outstanding"]
    if settles:
        drawdown.status = DrawdownStatus.SETTLED
        drawdown.settled_at = paid_at
        drawdown_fields += ["status", "settled_at"]
    drawdown.save(update_fields=drawdown_fields)
    changed = _line_sync(line)
    if changed:
        line.save(update_fields=changed)

    audit(
        actor=actor,
        action="repayment.recorded",
        obj=repayment,
        borrower_id=drawdown.borrower_id,
        before={"drawdown": before_drawdown, "line": before_line},
        after={
            "loan_no": loan_no,
            "reference": reference,
            "amount": amount,
            "paid_at": paid_at,
            "penalty_accrued": plan.penalty_accrued,
            "allocations": {
                str(seq): {"fee": p.fee, "interest": p.interest, "principal": p.principal}
                for seq, p in sorted(parts.items())
                if p.total > 0
            },
            "drawdown": {
                "status": drawdown.status,
                "principal_outstanding": drawdown.principal_outstanding,
            },
            "line": _line_state(line),
        },
    )
    return repayment


# --- transfers out ----------------------------------------------------------------------------


@transaction.atomic  # not durable: event ingestion composes it into one batch
def transfer_out_record(
    *,
    actor: User | None,
    borrower: Borrower,
    reference: str,
    amount: Decimal,
    occurred_at: datetime,
    counterparty_name: str,
    counterparty_account: str = "",
    counterparty_is_lender: bool = False,
    card_no: str | None = None,
) -> TransferOut:
    """Record money the borrower moved out of their account, as the lending core saw it.

    Replayed with the same reference and data it returns the stored transfer; different data
    raises DuplicateKeyConflict. Raises InvalidAmount (<= 0), InvalidData (blank
    counterparty, over-long fields).
    """
    _require_writer(actor)
    card_no = card_no or None  # "" from a client means no card, as None does
    existing = (
        TransferOut.objects.select_related("bank_account").filter(reference=reference).first()
    )
    if existing is not None:
        _conflict(
            f"transfer {reference}",
            {
                "borrower": existing.borrower_id,
                "amount": existing.amount,
                "occurred_at": existing.occurred_at,
                "counterparty_name": existing.counterparty_name,
                "counterparty_account": existing.counterparty_account,
                "counterparty_is_lender": existing.counterparty_is_lender,
                "card_no": existing.bank_account.card_no if existing.bank_account else None,
            },
            {
                "borrower": borrower.pk,
                "amount": _money(amount) if amount is not None else None,
                "occurred_at": occurred_at,
                "counterparty_name": counterparty_name,
                "counterparty_account": counterparty_account,
                "counterparty_is_lender": counterparty_is_lender,
                "card_no": card_no,
            },
        )
        return existing
    _require_key(reference, "reference", 64)
    _require_positive(amount)
    bank_account = None
    if card_no:
        bank_account = _bank_account_touch(
            actor=actor, borrower=borrower, card_no=card_no, bank_name="", seen_at=occurred_at
        )
    transfer = TransferOut(
        borrower=borrower,
        reference=reference,
        amount=_money(amount),
        occurred_at=occurred_at,
        counterparty_name=counterparty_name,
        counterparty_account=counterparty_account,
        counterparty_is_lender=counterparty_is_lender,
        bank_account=bank_account,
    )
    _full_clean(transfer, exclude=["borrower", "bank_account"])
    transfer.save()
    audit(
        actor=actor,
        action="transfer_out.recorded",
        obj=transfer,
        borrower_id=borrower.pk,
        after={
            "reference": reference,
            "amount": transfer.amount,
            "occurred_at": occurred_at,
            "counterparty_name": counterparty_name,
            "counterparty_is_lender": counterparty_is_lender,
        },
    )
    return transfer


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


# --- book snapshot ----------------------------------------------------------------------------


def _end_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


@transaction.atomic  # not durable: a task calls it, and a test may compose it
def book_snapshot_take(*, day: date) -> BookSnapshot:
    """Store the book's headline figures as of the close of `day` (replaces that day's row).

    Borrowers registered and lines opened by the end of the day; open lines are those not
    closed; outstanding is the lines' used (principal outstanding); the balance by bucket
    places each line by its oldest unpaid due date, DPD counted at `day`
    (money.bucket_due_date_range), so the buckets add up to the outstanding. Two aggregate
    queries, whatever the size of the book. Balances are the lines' current ones: the task
    runs minutes after the day closes, when they are still that day's.
    """
    end = _end_of_day(day)
    borrowers = Borrower.objects.filter(registered_at__lt=end).count()
    bucket_sums: dict[str, Sum] = {}
    for name, _low, _high in money.BUCKETS:
        earliest, latest = money.bucket_due_date_range(name, day)
        condition = Q()
        if earliest is not None:
            condition &= Q(oldest_unpaid_due__gte=earliest)
        if latest is not None:
            condition &= Q(oldest_unpaid_due__lte=latest)
        if name == "M0":
            condition |= Q(oldest_unpaid_due__isnull=True)
        bucket_sums[f"bucket_{name}"] = Sum("used", filter=condition)
    figures = CreditLine.objects.filter(opened_at__lt=end).aggregate(
        open_lines=Count("id", filter=~Q(status=LineStatus.CLOSED)),
        total_limit=Sum("credit_limit", filter=~Q(status=LineStatus.CLOSED)),
        outstanding=Sum("used"),
        **bucket_sums,
    )

    def fen(value: Decimal | None) -> Decimal:
        # Sums of fen amounts are exact; quantize only fixes how SQLite writes them.
        return (value or ZERO).quantize(money.FEN)

    balance_by_bucket = {
        name: str(fen(figures[f"bucket_{name}"])) for name, _low, _high in money.BUCKETS
    }
    snapshot, _created = BookSnapshot.objects.update_or_create(
        day=day,
        defaults={
            "borrowers": borrowers,
            "open_lines": figures["open_lines"] or 0,
            "total_limit": fen(figures["total_limit"]),
            "outstanding": fen(figures["outstanding"]),
            "balance_by_bucket": balance_by_bucket,
        },
    )
    audit(
        actor=None,
        action="book_snapshot.taken",
        obj=snapshot,
        after={
            "day": day,
            "borrowers": snapshot.borrowers,
            "open_lines": snapshot.open_lines,
            "outstanding": snapshot.outstanding,
        },
    )
    return snapshot
