"""Every write to logins, roles, passwords and API tokens, and the record of sign-ins.

Each service is an entry point (`durable=True`: it owns its transaction, so call it outside
any atomic block; user_create and user_update are not durable, as the admin's forms compose
them, nor are the sign-in records, which Django's login() may send from anywhere) and writes
its audit row in that transaction. `actor=None` means the system itself (a management command
such as seed_demo or issue_service_token); a User actor must hold the authority the service
names. No audit row ever holds a password or its hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.audit import AuditRow, audit, audit_bulk
from accounts.choices import Role
from accounts.errors import (
    CannotChangeOwnAccount,
    NotAllowed,
    NotAServiceAccount,
    RoleBorrowerMismatch,
    ServiceAccountPassword,
    UsernameTaken,
    WeakPassword,
)
from accounts.models import User

# The fields of a login an administrator edits on the admin's change form (user_update). The
# role, borrower and activation have their own services; the password has user_set_password.
USER_PROFILE_FIELDS = ("username", "first_name", "last_name", "email", "date_joined", "last_login")


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
    password: str | None,
    role: str,
    borrower_id: int | None = None,
    is_superuser: bool = False,
) -> User:
    """Create a login with a role; a borrower login is tied to exactly one borrower.

    `password=None` gives the login an unusable password (no password sign-in); a service
    account always gets none: it authenticates to the API with a token only.
    Refuses: a non-administrator actor (NotAllowed), a role/borrower mismatch
    (RoleBorrowerMismatch), a password for a service account (ServiceAccountPassword), a
    password the validators reject (WeakPassword), a taken username (UsernameTaken).
    Replaying the same username, role, borrower and password returns the existing login
    without a second audit row. Administrators get `is_staff` (the admin site); `is_superuser`
    is only for administrators.
    """
    _require_user_admin(actor)
    if role not in Role.values:
        raise ValueError(f"Unknown role {role!r}.")
    _check_role_matches_borrower(role, borrower_id)
    if is_superuser and role != Role.ADMIN:
        raise NotAllowed(role=role)
    if role == Role.SERVICE and password is not None:
        raise ServiceAccountPassword()

    existing = User.objects.select_for_update().filter(username=username).first()
    if existing is not None:
        same_password = (
            not existing.has_usable_password()
            if password is None
            else existing.check_password(password)
        )
        if existing.role == role and existing.borrower_id == borrower_id and same_password:
            return existing
        raise UsernameTaken(username=username)

    if password is not None:
        _validate(password, User(username=username))

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
            "usable_password": password is not None,
        },
    )
    return user


def _validate(password: str, user: User) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise WeakPassword(problems=" ".join(exc.messages)) from exc


def _audit_value(value: Any) -> Any:
    # Group and permission sets as sorted names, so the row reads without a join.
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(v) for v in value)
    return value


def _permission_labels(permissions: Iterable[Permission]) -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions)


# Not durable: the admin's change form (its own transaction) composes it.
@transaction.atomic
def user_update(
    *,
    actor: User | None,
    user: User,
    changes: Mapping[str, Any],
    groups: Iterable[Group] | None = None,
    permissions: Iterable[Permission] | None = None,
) -> User:
    """Change a login's profile (USER_PROFILE_FIELDS), groups and permissions; one audit row.

    `changes` maps field names to new values; `groups`/`permissions`, when given, replace the
    login's sets. The audit row holds, for each field that really changed, the value before and
    after (groups by name, permissions as app_label.codename). Nothing changed: no audit row.
    Refuses: a non-administrator actor (NotAllowed), a taken username (UsernameTaken); an
    unknown field is a programming error (ValueError).
    """
    _require_user_admin(actor)
    unknown = set(changes) - set(USER_PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable through user_update: {sorted(unknown)}.")
    # Locked, and read afresh: the admin form's instance already carries the new values.
    user = User.objects.select_for_update().get(pk=user.pk)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in changes.items():
        if getattr(user, name) != value:
            before[name], after[name] = getattr(user, name), value
    new_username = after.get("username")
    if new_username and User.objects.filter(username=new_username).exclude(pk=user.pk).exists():
        raise UsernameTaken(username=new_username)
    for name, value in after.items():
        setattr(user, name, value)
    if after:
        user.save(update_fields=list(after))
    if groups is not None:
        groups = list(groups)
        old = sorted(g.name for g in user.groups.all())
        new = sorted(g.name for g in groups)
        if old != new:
            user.groups.set(groups)
            before["groups"], after["groups"] = old, new
    if permissions is not None:
        permissions = list(permissions)
        old = _permission_labels(user.user_permissions.select_related("content_type"))
        new = _permission_labels(permissions)
        if old != new:
            user.user_permissions.set(permissions)
            before["permissions"], after["permissions"] = old, new
    if after:
        audit(
            actor=actor,
            action="user.updated",
            obj=user,
            borrower_id=user.borrower_id,
            before={k: _audit_value(v) for k, v in before.items()},
            after={k: _audit_value(v) for k, v in after.items()},
        )
    return user


@transaction.atomic(durable=True)
def user_set_password(*, actor: User | None, user: User, password: str | None) -> User:
    """Set a login's password, or with `password=None` switch password sign-in off.

    Who may: the login itself (the password change page, which checked the old password
    first), an administrator (the admin's password form), or the system (`actor=None`:
    manage.py changepassword). Other sessions of the login end (Django's session hash).
    Refuses: anyone else (NotAllowed), a password for a service account
    (ServiceAccountPassword), a password the validators reject (WeakPassword). Every call
    writes an audit row, user.password_changed or user.password_disabled, without the password.
    """
    if actor is None or actor.pk != user.pk:
        _require_user_admin(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    if password is None:
        user.set_unusable_password()
    else:
        if user.role == Role.SERVICE:
            raise ServiceAccountPassword()
        _validate(password, user)
        user.set_password(password)
    user.save(update_fields=["password"])
    if actor is None:
        by = "system"
    elif actor.pk == user.pk:
        by = "self"
    else:
        by = "administrator"
    audit(
        actor=actor,
        action="user.password_changed" if password is not None else "user.password_disabled",
        obj=user,
        borrower_id=user.borrower_id,
        after={"by": by, "usable_password": password is not None},
    )
    return user


# Sign-ins: written from Django's user_logged_in / user_logged_out / user_login_failed signals
# (accounts.receivers). Not durable: login() may run inside a caller's transaction.


@transaction.atomic
def login_record(*, user: User) -> None:
    """Record a successful sign-in (IP and request id come from the audit context)."""
    audit(actor=user, action="auth.login", obj=user, borrower_id=user.borrower_id)


@transaction.atomic
def logout_record(*, user: User | None) -> None:
    """Record a sign-out; a visitor who was not signed in leaves no row."""
    if user is None or user.pk is None:
        return
    audit(actor=user, action="auth.logout", obj=user, borrower_id=user.borrower_id)


@transaction.atomic
def login_failure_record(*, username: str) -> None:
    """Record a refused sign-in (wrong password, locked out, inactive, service account).

    The row names the login when the username exists; an unknown username is recorded as
    unknown, without the text typed (people type passwords into the username box). The
    password is never passed here: Django's signal carries it masked, and it is not read.
    """
    user = User.objects.filter(username=username).first() if username else None
    audit_bulk(
        [
            AuditRow(
                action="auth.login_failed",
                obj=user,
                object_type="accounts.user",
                actor_label="anonymous",
                borrower_id=user.borrower_id if user is not None else None,
                after={"username_known": user is not None},
            )
        ]
    )


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
