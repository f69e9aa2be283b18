"""Every write to logins, roles and API tokens.

Each service is an entry point (`durable=True`: it owns its transaction, so call it outside
any atomic block; user_create alone is not durable, as the admin's add form composes it) and
writes its audit row in that transaction. `actor=None` means the system
itself (a management command such as seed_demo or issue_service_token); a User actor must hold
the authority the service names.
"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.audit import audit
from accounts.choices import Role
from accounts.errors import (
    CannotChangeOwnAccount,
    NotAllowed,
    NotAServiceAccount,
    RoleBorrowerMismatch,
    UsernameTaken,
    WeakPassword,
)
from accounts.models import User


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


# Not durable: the admin's add form (ModelAdmin.changeform_view runs in its own transaction)
# composes it; every other caller calls it outside any transaction, as an entry point.
@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    role: str,
    borrower_id: int | None = None,
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
        borrower_id=borrower_id,
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
