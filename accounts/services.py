"""Every write to logins, roles, API tokens and personal-data reveals.

Each service is an entry point (`durable=True`: it owns its transaction, so call it outside
any atomic block; user_create alone is not durable, as the admin's add form composes it) and
writes its audit row in that transaction. `actor=None` means the system
itself (a management command such as seed_demo or issue_service_token); a User actor must hold
the authority the service names.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.audit import audit, current_audit_context
from accounts.choices import PiiField, Role
from accounts.errors import (
    CannotChangeOwnAccount,
    NotAllowed,
    NotAServiceAccount,
    PiiObjectNotFound,
    ReasonRequired,
    RevealNotAllowed,
    RoleBorrowerMismatch,
    UsernameTaken,
    WeakPassword,
)
from accounts.models import PiiAccess, User
from lending.models import BankAccount, Borrower

# A reveal must say why in words a reviewer can follow later; "check" or "x" is not a reason.
PII_REASON_MIN_LENGTH = 10


def _require_user_admin(actor: User | None) -> None:
    """Only an active administrator (or the system itself) manages logins."""
    if actor is None:
        return
    if not actor.is_active or not (actor.role == Role.ADMIN or actor.is_superuser):
        raise NotAllowed(role=getattr(actor, "role", ""))


def _check_role_matches_borrower(role: str, borrower_id: int | None) -> None:
    # The same rule as the User check constraint, refused early with a readable message.
    if (role == Role.BORROWER) != (borrower_id is not None):
        raise RoleBorrowerMismatch(role=role)


@transaction.atomic(durable=True)
def pii_reveal(
    *, actor: User, borrower: Borrower, field: str, reason: str, object_ref: str = ""
) -> str:
    """Return one full personal-data value of a borrower and record who saw it, and why.

    1. The actor must be active and hold a role in settings.RISKOPS_PII_REVEAL_ROLES
       (RevealNotAllowed otherwise: analysts, borrowers and machines never reveal).
    2. The reason must be at least PII_REASON_MIN_LENGTH characters (ReasonRequired).
    3. A bank card needs `object_ref`, the id of one of the borrower's bank accounts
       (PiiObjectNotFound otherwise).
    4. Writes a PiiAccess row (IP and request reference from the audit context) and an
       AuditEvent "pii.revealed"; the value itself is never written to either.

    Every call is a separate reveal and leaves its own record: a replay is logged again.
    """
    if not actor.is_active or actor.role not in settings.RISKOPS_PII_REVEAL_ROLES:
        raise RevealNotAllowed(role=actor.role)
    reason = (reason or "").strip()
    if len(reason) < PII_REASON_MIN_LENGTH:
        raise ReasonRequired(min_length=PII_REASON_MIN_LENGTH)
    if field not in PiiField.values:
        raise ValueError(f"Unknown personal-data field {field!r}.")

    # Read the current value from the database, not from the caller's possibly stale instance.
    borrower = Borrower.objects.get(pk=borrower.pk)
    object_ref = str(object_ref or "").strip()
    if field == PiiField.BANK_CARD:
        account = (
            BankAccount.objects.filter(borrower=borrower, pk=object_ref).first()
            if object_ref.isdigit()
            else None
        )
        if account is None:
            raise PiiObjectNotFound(object_ref=object_ref)
        value = account.card_no
    else:
        value = str(getattr(borrower, field))

    ctx = current_audit_context()
    access = PiiAccess.objects.create(
        actor=actor,
        actor_role=actor.role,
        borrower=borrower,
        field=field,
        object_ref=object_ref,
        reason=reason[:300],
        ip_address=ctx.ip_address,
        reference=ctx.reference[:200],
    )
    audit(
        actor=actor,
        action="pii.revealed",
        obj=access,
        borrower_id=borrower.pk,
        after={"field": field, "object_ref": object_ref},
        note=reason,
    )
    return value


# Not durable: the admin's add form (ModelAdmin.changeform_view runs in its own transaction)
# composes it; every other caller calls it outside any transaction, as an entry point.
@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    role: str,
    borrower: Borrower | None = None,
    is_superuser: bool = False,
) -> User:
    """Create a login with a role; a borrower login is tied to exactly one borrower.

    Refuses: a non-administrator actor (NotAllowed), a role/borrower mismatch
    (RoleBorrowerMismatch), a password the validators reject (WeakPassword), a taken username
    (UsernameTaken). Replaying the same username, role, borrower and password returns the
    existing login without a second audit row. Administrators get `is_staff` (the admin site);
    `is_superuser` is only for administrators.
    """
    _require_user_admin(actor)
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    borrower_id = borrower.pk if borrower is not None else None
    _check_role_matches_borrower(role, borrower_id)
    if is_superuser and role != Role.ADMIN:
        raise NotAllowed(role=role)

    existing = User.objects.select_for_update().filter(username=username).first()
    if existing is not None:
        if (
            existing.role == role
            and existing.borrower_id == borrower_id
            and existing.check_password(password)
        ):
            return existing
        raise UsernameTaken(username=username)

    try:
        validate_password(password, user=User(username=username))
    except ValidationError as exc:
        raise WeakPassword(problems=" ".join(exc.messages)) from exc

    user = User.objects.create_user(
        username=username,
        password=password,
        role=role,
        borrower=borrower,
        is_staff=role == Role.ADMIN,
        is_superuser=is_superuser,
    )
    audit(
        actor=actor,
        action="user.created",
        obj=user,
        borrower_id=borrower_id,
        after={
            "username": username,
            "role": role,
            "borrower": borrower_id,
            "is_superuser": is_superuser,
        },
    )
    return user


@transaction.atomic(durable=True)
def user_set_role(*, actor: User | None, user: User, role: str) -> User:
    """Change a login's role.

    Refuses: a non-administrator actor (NotAllowed), changing one's own role
    (CannotChangeOwnAccount), a role that does not fit the login (a borrower login stays a
    borrower; no staff login becomes one: RoleBorrowerMismatch). Setting the role it already
    has changes nothing and writes no audit row.
    """
    _require_user_admin(actor)
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    if actor is not None and actor.pk == user.pk:
        raise CannotChangeOwnAccount()
    # Locked: two administrators changing the same login must not interleave.
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.role == role:
        return user
    _check_role_matches_borrower(role, user.borrower_id)
    before = {"role": user.role, "is_staff": user.is_staff}
    user.role = role
    user.is_staff = role == Role.ADMIN
    if role != Role.ADMIN:
        user.is_superuser = False  # superuser powers follow the administrator role
    user.save(update_fields=["role", "is_staff", "is_superuser"])
    audit(
        actor=actor,
        action="user.role_changed",
        obj=user,
        borrower_id=user.borrower_id,
        before=before,
        after={"role": role, "is_staff": user.is_staff},
    )
    return user


@transaction.atomic(durable=True)
def user_deactivate(*, actor: User | None, user: User) -> User:
    """Deactivate a login: its sessions stop working and its API token is revoked.

    Refuses: a non-administrator actor (NotAllowed), deactivating oneself
    (CannotChangeOwnAccount). A login that is already inactive is returned unchanged.
    Logins are never deleted: audit rows point at them.
    """
    _require_user_admin(actor)
    if actor is not None and actor.pk == user.pk:
        raise CannotChangeOwnAccount()
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        return user
    user.is_active = False
    user.save(update_fields=["is_active"])
    # Token authentication already refuses inactive users; deleting the token makes
    # reactivation need a fresh one.
    revoked, _ = Token.objects.filter(user=user).delete()
    audit(
        actor=actor,
        action="user.deactivated",
        obj=user,
        borrower_id=user.borrower_id,
        before={"is_active": True},
        after={"is_active": False, "token_revoked": bool(revoked)},
    )
    return user


@transaction.atomic(durable=True)
def service_token_issue(*, actor: User | None, user: User) -> str:
    """Issue a new API token for an active service account and return its key.

    Any previous token of that account stops working at once (rotation), so every call,
    a replay included, yields a new key. Refuses: a non-administrator actor (NotAllowed),
    a login that is not an active service account (NotAServiceAccount). The key itself is
    never written to the audit log.
    """
    _require_user_admin(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.role != Role.SERVICE or not user.is_active:
        raise NotAServiceAccount(username=user.username)
    rotated, _ = Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    audit(
        actor=actor,
        action="token.issued",
        obj=user,
        after={"username": user.username, "rotated": bool(rotated)},
    )
    return str(token.key)
