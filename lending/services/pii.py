"""Revealing a borrower's personal data: the full value, to a role that may see it, with a
stated reason, and a record of every attempt (granted or refused)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from accounts.audit import audit, current_audit_context
from accounts.errors import PiiObjectNotFound, ReasonRequired, RevealNotAllowed
from lending.choices import PiiField
from lending.models import BankAccount, Borrower, PiiAccess

if TYPE_CHECKING:
    from accounts.models import User

# A reveal must say why in words a reviewer can follow later; "check" or "x" is not a reason.
PII_REASON_MIN_LENGTH = 10


def _access_record(
    *, actor: User, borrower: Borrower, field: str, object_ref: str, reason: str, granted: bool
) -> PiiAccess:
    ctx = current_audit_context()
    access = PiiAccess.objects.create(
        actor=actor,
        actor_role=actor.role,
        borrower=borrower,
        field=field,
        object_ref=object_ref[:64],
        reason=reason[:300],
        granted=granted,
        ip_address=ctx.ip_address,
        reference=ctx.reference[:200],
    )
    audit(
        actor=actor,
        action="pii.revealed" if granted else "pii.reveal_refused",
        obj=access,
        borrower_id=borrower.pk,
        after={"field": field, "object_ref": object_ref[:64], "granted": granted},
        note=reason[:300],
    )
    return access


@transaction.atomic(durable=True)
def _refusal_record(
    *, actor: User, borrower: Borrower, field: str, object_ref: str, reason: str
) -> None:
    _access_record(
        actor=actor,
        borrower=borrower,
        field=field,
        object_ref=object_ref,
        reason=reason,
        granted=False,
    )


@transaction.atomic(durable=True)
def _reveal(*, actor: User, borrower: Borrower, field: str, reason: str, object_ref: str) -> str:
    # Read the current value from the database, not from the caller's possibly stale instance.
    borrower = Borrower.objects.get(pk=borrower.pk)
    if field == PiiField.BANK_CARD:
        account = (
            BankAccount.objects.filter(borrower=borrower, pk=object_ref).first()
            if object_ref.isascii() and object_ref.isdigit()
            else None
        )
        if account is None:
            raise PiiObjectNotFound(object_ref=object_ref)
        value = account.card_no
    elif field == PiiField.EMERGENCY_CONTACT:
        value = f"{borrower.emergency_contact_name} {borrower.emergency_contact_mobile}".strip()
    elif field == PiiField.ADDRESS:
        value = borrower.home_address
    else:
        value = str(getattr(borrower, field))
    _access_record(
        actor=actor,
        borrower=borrower,
        field=field,
        object_ref=object_ref,
        reason=reason,
        granted=True,
    )
    return value


def pii_reveal(
    *, actor: User, borrower: Borrower, field: str, reason: str, object_ref: str = ""
) -> str:
    """Return one full personal-data value of a borrower and record who saw it, and why.

    1. The actor must be active and hold a role in settings.RISKOPS_PII_REVEAL_ROLES
       (RevealNotAllowed otherwise: analysts, borrowers and machines never reveal). A refused
       attempt is recorded too (PiiAccess granted=False and an audit row
       "pii.reveal_refused", committed on their own), so trying is never invisible.
    2. The reason must be at least PII_REASON_MIN_LENGTH characters (ReasonRequired).
    3. A bank card needs `object_ref`, the id of one of the borrower's bank accounts
       (PiiObjectNotFound otherwise).
    4. Writes a PiiAccess row (IP and request reference from the audit context) and an
       AuditEvent "pii.revealed"; the value itself is never written to either.

    Every call is a separate reveal and leaves its own record: a replay is logged again.
    An entry point: it owns its transactions (durable), so call it outside any atomic block.
    """
    if field not in PiiField.values:
        raise ValueError(f"Unknown personal-data field {field!r}.")
    reason = (reason or "").strip()
    object_ref = str(object_ref or "").strip()
    if not actor.is_active or actor.role not in settings.RISKOPS_PII_REVEAL_ROLES:
        if actor.is_authenticated and actor.pk is not None:
            _refusal_record(
                actor=actor, borrower=borrower, field=field, object_ref=object_ref, reason=reason
            )
        raise RevealNotAllowed(role=actor.role)
    if len(reason) < PII_REASON_MIN_LENGTH:
        raise ReasonRequired(min_length=PII_REASON_MIN_LENGTH)
    return _reveal(
        actor=actor, borrower=borrower, field=field, reason=reason, object_ref=object_ref
    )
