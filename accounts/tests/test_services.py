from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, Permission
from rest_framework.authtoken.models import Token

from accounts.audit import clear_audit_context, set_audit_context
from accounts.choices import AuditSource, Role
from accounts.errors import (
    CannotChangeOwnAccount,
    NotAllowed,
    NotAServiceAccount,
    RoleBorrowerMismatch,
    ServiceAccountPassword,
    UsernameTaken,
    WeakPassword,
)
from accounts.models import AuditEvent, User
from accounts.services import (
    service_token_issue,
    user_create,
    user_deactivate,
    user_set_password,
    user_set_role,
    user_update,
)
from lending.models import BankAccount, Borrower

pytestmark = pytest.mark.django_db

REASON = "Customer called about a disputed repayment"
NEW_PASSWORD = "plum-orchard-lantern-42"  # noqa: S105 (a test password)


@pytest.fixture
def request_context() -> Iterator[None]:
    """As if the call came from a web request, the way AuditContextMiddleware sets it."""
    set_audit_context(source=AuditSource.WEB, reference="request:abc123", ip_address="10.1.2.3")
    yield
    clear_audit_context()


@pytest.fixture
def bank_account(borrower_record: Borrower) -> BankAccount:
    seen = datetime(2026, 2, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    return BankAccount.objects.create(
        borrower=borrower_record,
        bank_name="ICBC",
        card_no="6222020200112233445",
        first_seen_at=seen,
        last_seen_at=seen,
    )


# user_create --------------------------------------------------------------------------------


def test_an_administrator_creates_a_login_with_a_role(admin_user):
    user = user_create(actor=admin_user, username="nina", password=NEW_PASSWORD, role="manager")

    assert user.role == Role.MANAGER
    assert user.check_password(NEW_PASSWORD)
    assert not user.is_staff
    event = AuditEvent.objects.get(action="user.created")
    assert event.actor == admin_user
    assert event.object_id == str(user.pk)
    assert event.after["role"] == "manager"
    assert NEW_PASSWORD not in str(event.after)


def test_the_system_creates_an_administrator_with_admin_site_access(db):
    user = user_create(
        actor=None, username="root2", password=NEW_PASSWORD, role="admin", is_superuser=True
    )

    assert user.is_staff
    assert user.is_superuser


def test_a_borrower_login_is_tied_to_its_borrower(admin_user, borrower_record):
    user = user_create(
        actor=admin_user,
        username="zhang",
        password=NEW_PASSWORD,
        role="borrower",
        borrower_id=borrower_record.pk,
    )

    assert user.borrower_id == borrower_record.pk
    assert AuditEvent.objects.get(action="user.created").borrower_id == borrower_record.pk


def test_a_non_administrator_cannot_create_logins(manager):
    with pytest.raises(NotAllowed):
        user_create(actor=manager, username="nina", password=NEW_PASSWORD, role="analyst")
    assert not User.objects.filter(username="nina").exists()


@pytest.mark.parametrize("role, with_borrower", [("borrower", False), ("analyst", True)])
def test_role_and_borrower_must_match(admin_user, borrower_record, role, with_borrower):
    with pytest.raises(RoleBorrowerMismatch):
        user_create(
            actor=admin_user,
            username="nina",
            password=NEW_PASSWORD,
            role=role,
            borrower_id=borrower_record.pk if with_borrower else None,
        )


def test_only_an_administrator_can_be_a_superuser(admin_user):
    with pytest.raises(NotAllowed):
        user_create(
            actor=admin_user,
            username="nina",
            password=NEW_PASSWORD,
            role="manager",
            is_superuser=True,
        )


def test_a_weak_password_is_refused(admin_user):
    with pytest.raises(WeakPassword):
        user_create(actor=admin_user, username="nina", password="12345678", role="analyst")
    assert not User.objects.filter(username="nina").exists()


def test_a_taken_username_is_refused(admin_user, analyst):
    with pytest.raises(UsernameTaken):
        user_create(actor=admin_user, username="alice", password=NEW_PASSWORD, role="manager")


def test_replaying_a_creation_returns_the_same_login_without_a_second_audit_row(admin_user):
    first = user_create(actor=admin_user, username="nina", password=NEW_PASSWORD, role="analyst")
    second = user_create(actor=admin_user, username="nina", password=NEW_PASSWORD, role="analyst")

    assert first.pk == second.pk
    assert AuditEvent.objects.filter(action="user.created").count() == 1


# user_set_role ------------------------------------------------------------------------------


def test_an_administrator_changes_a_role(admin_user, analyst):
    user = user_set_role(actor=admin_user, user=analyst, role="senior_analyst")

    assert user.role == Role.SENIOR_ANALYST
    analyst.refresh_from_db()
    assert analyst.role == Role.SENIOR_ANALYST
    event = AuditEvent.objects.get(action="user.role_changed")
    assert event.before["role"] == "analyst"
    assert event.after["role"] == "senior_analyst"


def test_promotion_to_administrator_gives_admin_site_access_and_demotion_removes_it(
    admin_user, manager
):
    assert user_set_role(actor=admin_user, user=manager, role="admin").is_staff
    assert not user_set_role(actor=admin_user, user=manager, role="manager").is_staff


def test_an_administrator_cannot_change_their_own_role(admin_user):
    with pytest.raises(CannotChangeOwnAccount):
        user_set_role(actor=admin_user, user=admin_user, role="analyst")


def test_a_non_administrator_cannot_change_roles(head_of_risk, analyst):
    with pytest.raises(NotAllowed):
        user_set_role(actor=head_of_risk, user=analyst, role="manager")
    analyst.refresh_from_db()
    assert analyst.role == Role.ANALYST


@pytest.mark.parametrize("login, role", [("borrower_user", "analyst"), ("analyst", "borrower")])
def test_borrower_logins_and_staff_logins_do_not_swap(request, admin_user, login, role):
    with pytest.raises(RoleBorrowerMismatch):
        user_set_role(actor=admin_user, user=request.getfixturevalue(login), role=role)


def test_setting_the_same_role_again_changes_nothing(admin_user, analyst):
    user_set_role(actor=admin_user, user=analyst, role="manager")
    user_set_role(actor=admin_user, user=analyst, role="manager")

    assert AuditEvent.objects.filter(action="user.role_changed").count() == 1


# user_deactivate ----------------------------------------------------------------------------


def test_deactivation_ends_logins_and_revokes_the_api_token(admin_user, service_user):
    user = user_deactivate(actor=admin_user, user=service_user)

    assert not user.is_active
    assert not Token.objects.filter(user=service_user).exists()
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.after == {"is_active": False, "token_revoked": True}


def test_an_administrator_cannot_deactivate_themselves(admin_user):
    with pytest.raises(CannotChangeOwnAccount):
        user_deactivate(actor=admin_user, user=admin_user)


def test_a_non_administrator_cannot_deactivate(manager, analyst):
    with pytest.raises(NotAllowed):
        user_deactivate(actor=manager, user=analyst)
    analyst.refresh_from_db()
    assert analyst.is_active


def test_deactivating_twice_writes_one_audit_row(admin_user, analyst):
    user_deactivate(actor=admin_user, user=analyst)
    user_deactivate(actor=admin_user, user=analyst)

    assert AuditEvent.objects.filter(action="user.deactivated").count() == 1


# service_token_issue ------------------------------------------------------------------------


def test_a_service_account_gets_a_token_that_authenticates(admin_user, service_user, client):
    key = service_token_issue(actor=admin_user, user=service_user)

    assert Token.objects.get(user=service_user).key == key
    event = AuditEvent.objects.get(action="token.issued")
    assert event.after == {"username": "lending-core", "rotated": True}
    assert key not in str(event.after) + event.note
    response = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200


def test_issuing_again_rotates_the_token(service_user):
    first = service_token_issue(actor=None, user=service_user)
    second = service_token_issue(actor=None, user=service_user)

    assert first != second
    assert list(Token.objects.filter(user=service_user).values_list("key", flat=True)) == [second]


@pytest.mark.parametrize("login", ["analyst", "outsider"])
def test_tokens_are_issued_only_to_active_service_accounts(request, admin_user, login):
    with pytest.raises(NotAServiceAccount):
        service_token_issue(actor=admin_user, user=request.getfixturevalue(login))


def test_a_non_administrator_cannot_issue_tokens(manager, service_user):
    with pytest.raises(NotAllowed):
        service_token_issue(actor=manager, user=service_user)


# Service accounts: an API token, never a password ------------------------------------------------


def test_a_service_account_is_created_without_a_usable_password(admin_user):
    user = user_create(actor=admin_user, username="core-2", password=None, role="service")

    assert not user.has_usable_password()
    assert AuditEvent.objects.get(action="user.created").after["usable_password"] is False
    # Replayed, it is the same login:
    assert user_create(actor=admin_user, username="core-2", password=None, role="service") == user


def test_a_service_account_cannot_be_given_a_password(admin_user, service_user):
    with pytest.raises(ServiceAccountPassword):
        user_create(actor=admin_user, username="core-2", password=NEW_PASSWORD, role="service")
    with pytest.raises(ServiceAccountPassword):
        user_set_password(actor=admin_user, user=service_user, password=NEW_PASSWORD)
    assert not User.objects.filter(username="core-2").exists()


def test_the_migration_takes_existing_service_accounts_their_passwords(service_user):
    # conftest's service account was made the old way, with a password (accounts 0003 fixes it).
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    migration = import_module("accounts.migrations.0003_audit_chain_and_guards")
    assert service_user.has_usable_password()

    migration.service_accounts_without_password(apps, type("E", (), {"connection": connection}))

    service_user.refresh_from_db()
    assert not service_user.has_usable_password()
    event = AuditEvent.objects.get(action="user.password_disabled")
    assert (event.object_id, event.actor_label) == (str(service_user.pk), "migrate")


# Passwords ---------------------------------------------------------------------------------------


def _row_text(event: AuditEvent) -> str:
    return " ".join(str(v) for v in (event.before, event.after, event.note, event.reference))


def test_a_login_changes_its_own_password_and_the_audit_row_holds_no_password(analyst):
    old_hash = analyst.password

    user = user_set_password(actor=analyst, user=analyst, password=NEW_PASSWORD)

    assert user.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(action="user.password_changed")
    assert (event.actor, event.after) == (analyst, {"by": "self", "usable_password": True})
    for secret in (NEW_PASSWORD, old_hash, user.password):
        assert secret not in _row_text(event)


def test_an_administrator_sets_or_disables_someone_elses_password(admin_user, analyst):
    user_set_password(actor=admin_user, user=analyst, password=NEW_PASSWORD)
    user_set_password(actor=admin_user, user=analyst, password=None)

    analyst.refresh_from_db()
    assert not analyst.has_usable_password()
    assert list(
        AuditEvent.objects.filter(object_id=str(analyst.pk))
        .order_by("pk")
        .values_list("action", "after")
    ) == [
        ("user.password_changed", {"by": "administrator", "usable_password": True}),
        ("user.password_disabled", {"by": "administrator", "usable_password": False}),
    ]


def test_nobody_else_sets_a_password(manager, analyst):
    with pytest.raises(NotAllowed):
        user_set_password(actor=manager, user=analyst, password=NEW_PASSWORD)
    assert not AuditEvent.objects.exists()


def test_a_weak_new_password_is_refused_and_nothing_is_recorded(analyst):
    with pytest.raises(WeakPassword):
        user_set_password(actor=analyst, user=analyst, password="alice")
    analyst.refresh_from_db()
    assert not analyst.check_password("alice")
    assert not AuditEvent.objects.exists()


# Profile, groups and permissions ----------------------------------------------------------------


def test_an_administrator_edits_a_profile_and_each_change_is_recorded(admin_user, analyst):
    joined = datetime(2025, 3, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

    user_update(
        actor=admin_user,
        user=analyst,
        changes={
            "first_name": "Alice",
            "email": "alice@example.com",
            "date_joined": joined,
            "last_name": analyst.last_name,  # unchanged: not recorded
        },
    )

    event = AuditEvent.objects.get(action="user.updated")
    assert event.actor == admin_user
    assert event.before == {
        "first_name": "",
        "email": "",
        "date_joined": event.before["date_joined"],
    }
    assert event.after == {
        "first_name": "Alice",
        "email": "alice@example.com",
        "date_joined": joined.isoformat(),
    }
    analyst.refresh_from_db()
    assert (analyst.first_name, analyst.date_joined) == ("Alice", joined)


def test_group_and_permission_changes_are_recorded_by_name(admin_user, analyst):
    reviewers = Group.objects.create(name="reviewers")
    view_audit = Permission.objects.get(codename="view_auditevent")

    user_update(
        actor=admin_user, user=analyst, changes={}, groups=[reviewers], permissions=[view_audit]
    )

    event = AuditEvent.objects.get(action="user.updated")
    assert event.before == {"groups": [], "permissions": []}
    assert event.after == {"groups": ["reviewers"], "permissions": ["accounts.view_auditevent"]}
    assert list(analyst.groups.all()) == [reviewers]


def test_an_edit_that_changes_nothing_writes_no_audit_row(admin_user, analyst):
    user_update(
        actor=admin_user,
        user=analyst,
        changes={"username": analyst.username},
        groups=[],
        permissions=[],
    )
    assert not AuditEvent.objects.exists()


def test_only_an_administrator_edits_profiles_and_usernames_stay_unique(
    manager, admin_user, analyst
):
    with pytest.raises(NotAllowed):
        user_update(actor=manager, user=analyst, changes={"email": "x@example.com"})
    with pytest.raises(UsernameTaken):
        user_update(actor=admin_user, user=analyst, changes={"username": manager.username})
    with pytest.raises(ValueError, match="role"):
        user_update(actor=admin_user, user=analyst, changes={"role": "admin"})
    assert not AuditEvent.objects.exists()
