"""Borrowers, what was seen of them (bank cards, devices), and their transfers out."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.masking import mask_card, mask_mobile, mask_national_id
from lending import caps
from lending.choices import (
    AssetKind,
    IdentityCheckResult,
    IncomeBand,
    LimitChangeKind,
    LineStatusCode,
)
from lending.errors import (
    InvalidAmount,
    InvalidData,
    InvalidDate,
)
from lending.models import (
    BankAccount,
    Borrower,
    CreditLine,
    DeclaredAsset,
    Device,
    TransferOut,
)
from lending.search_keys import national_id_hash
from lending.services import batch
from lending.services._common import (
    _conflict,
    _full_clean,
    _money,
    _require_choice,
    _require_key,
    _require_positive,
    _require_rate,
    _require_writer,
)
from lending.services.lines import limit_history_write

if TYPE_CHECKING:
    from accounts.models import User


# --- dates ------------------------------------------------------------------------------------


def _require_plausible_time(
    value: datetime, *, field: str, earliest: datetime | None = None
) -> None:
    """A time the book records must be one that has happened: not later than now plus the two
    clocks' skew (caps.clock_skew_seconds()), and not before `earliest` when given (a drawdown
    before its line opened). Raises InvalidDate.

    A repayment or penalty reckoned to a date in 9999, or a schedule built from one, is money
    that never existed. The event API refuses the same times, and those older than the
    back-dating limit, before any service runs (monitoring.validation.events_check_dates);
    this guard holds for every other caller.
    """
    latest = timezone.now() + timedelta(seconds=caps.clock_skew_seconds())
    if value > latest:
        raise InvalidDate(
            _("%(field)s %(value)s is later than now (%(latest)s)."),
            field=field,
            value=value,
            latest=latest,
        )
    if earliest is not None and value < earliest:
        raise InvalidDate(field=field, value=value, earliest=earliest)


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
    """Register a borrower and open their credit line (its history starts with an opening
    LimitChange row at `opened_at`).

    Replayed with the same customer_no and data it returns the stored borrower; with
    different data it raises DuplicateKeyConflict. Raises InvalidAmount (negative limit),
    InvalidRate (rate not in (0, 0.0986%]), InvalidChoice (income band), InvalidData (a field
    too long or blank), InvalidDate (registered or opened in the future, opened before
    registered), NotAllowed (a borrower or inactive login).
    """
    _require_writer(actor)
    existing = (
        None
        if batch.customer_is_new(customer_no)
        else batch.customer_of_batch(customer_no)
        or Borrower.objects.select_related("line").filter(customer_no=customer_no).first()
    )
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
    _require_plausible_time(registered_at, field="registered_at")
    if opened_at is not None:
        # A line opens on approval, never before the borrower registered.
        _require_plausible_time(opened_at, field="opened_at", earliest=registered_at)
    borrower = Borrower(
        customer_no=customer_no,
        name=name,
        national_id=national_id,
        national_id_last4=national_id[-4:],
        national_id_hash=national_id_hash(national_id),
        mobile=mobile,
        mobile_last4=mobile[-4:],
        city=city,
        employer=employer,
        income_band=income_band,
        registered_at=registered_at,
    )
    _full_clean(borrower)
    line = CreditLine(
        borrower=borrower,
        credit_limit=_money(credit_limit),
        daily_rate=Decimal(daily_rate),
        opened_at=opened_at or registered_at,
    )
    _full_clean(line, exclude=["borrower"])
    # Both written now, or, in a batch, at its end, which then holds the new line.
    batch.insert_registration(borrower, line)
    batch.registered(borrower, line)
    limit_history_write(
        line=line,
        kind=LimitChangeKind.OPENING,
        old_limit=line.credit_limit,
        old_status=line.status,
        reason_code=LineStatusCode.OPENED,
        actor=actor,
        at=line.opened_at,
    )
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
    _require_plausible_time(seen_at, field="seen_at")
    held = batch.seen_of(BankAccount, borrower.pk)
    account = (
        held.get(card_no)
        if held is not None
        else BankAccount.objects.select_for_update()
        .filter(borrower=borrower, card_no=card_no)
        .first()
    )
    if account is None:
        account = BankAccount(
            borrower=borrower,
            card_no=card_no,
            bank_name=bank_name[:64],
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        batch.insert(account, borrower_id=borrower.pk)
        audit(
            actor=actor,
            action="bank_account.added",
            obj=account,
            borrower_id=borrower.pk,
            after={"card_no": mask_card(card_no), "bank_name": bank_name},
        )
        if held is not None:
            held[card_no] = account
        return account
    changed = _widen_seen(account, seen_at)
    if bank_name and not account.bank_name:
        account.bank_name = bank_name[:64]
        changed.append("bank_name")
    batch.save(account, changed)
    return account


def _device_touch(
    *, actor: User | None, borrower: Borrower, device_id: str, platform: str, seen_at: datetime
) -> Device:
    """Get or create the borrower's device and move its seen dates; audit only a new device."""
    if not device_id or len(device_id) > 64:
        raise InvalidData(fields="device_id")
    _require_plausible_time(seen_at, field="seen_at")
    held = batch.seen_of(Device, borrower.pk)
    device = (
        held.get(device_id)
        if held is not None
        else Device.objects.select_for_update()
        .filter(borrower=borrower, device_id=device_id)
        .first()
    )
    if device is None:
        device = Device(
            borrower=borrower,
            device_id=device_id,
            platform=platform[:16],
            first_seen_at=seen_at,
            last_seen_at=seen_at,
        )
        batch.insert(device, borrower_id=borrower.pk)
        audit(
            actor=actor,
            action="device.added",
            obj=device,
            borrower_id=borrower.pk,
            after={"device_id": device_id, "platform": platform},
        )
        if held is not None:
            held[device_id] = device
        return device
    changed = _widen_seen(device, seen_at)
    if platform and not device.platform:
        device.platform = platform[:16]
        changed.append("platform")
    batch.save(device, changed)
    return device


@transaction.atomic  # not durable: event ingestion composes it into one batch
def bank_account_seen(
    *, actor: User | None, borrower: Borrower, card_no: str, bank_name: str, seen_at: datetime
) -> BankAccount:
    """Note a bank card used by the borrower: created once per (borrower, card), then its
    last-seen date moves. The audit row ("bank_account.added") is written only on creation.

    Raises InvalidData for a blank or over-long card number, InvalidDate for a time in the
    future.
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

    Raises InvalidData for a blank or over-long device id, InvalidDate for a time in the
    future.
    """
    _require_writer(actor)
    return _device_touch(
        actor=actor, borrower=borrower, device_id=device_id, platform=platform, seen_at=seen_at
    )


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
    counterparty, over-long fields), InvalidDate (in the future).
    """
    _require_writer(actor)
    card_no = card_no or None  # "" from a client means no card, as None does
    existing = batch.reference_of_batch(TransferOut, reference)
    if existing is ...:
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
    _require_plausible_time(occurred_at, field="occurred_at")
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
    batch.insert(transfer, borrower_id=borrower.pk)
    batch.reference_recorded(transfer)
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
