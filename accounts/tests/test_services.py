from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rest_framework.authtoken.models import Token

from accounts.audit import clear_audit_context, set_audit_context
from accounts.choices import AuditSource, PiiField, Role
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
from accounts.models import AuditEvent, PiiAccess, User
from accounts.services import (
    pii_reveal,
    service_token_issue,
    user_create,
    user_deactivate,
    user_set_role,
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


# pii_reveal ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role_fixture", ["senior_analyst", "manager", "head_of_risk", "admin_user"]
)
def test_allowed_roles_get_the_full_value_and_leave_an_access_record(
    request, role_fixture, borrower_record, request_context
):
    actor = request.getfixturevalue(role_fixture)

    value = pii_reveal(
        actor=actor, borrower=borrower_record, field=PiiField.NATIONAL_ID, reason=REASON
    )

    assert value == "110101199003071234"
    access = PiiAccess.objects.get()
    assert access.actor == actor
    assert access.actor_role == actor.role
    assert access.borrower == borrower_record
    assert access.field == PiiField.NATIONAL_ID
    assert access.reason == REASON
    assert access.ip_address == "10.1.2.3"
    assert access.reference == "request:abc123"
    event = AuditEvent.objects.get()
    assert event.action == "pii.revealed"
    assert event.actor == actor
    assert event.borrower_id == borrower_record.pk
    assert event.object_type == "accounts.piiaccess"
    assert event.object_id == str(access.pk)
    assert event.note == REASON
    assert event.source == AuditSource.WEB
    assert event.ip_address == "10.1.2.3"
    assert event.reference == "request:abc123"


def test_reveal_records_never_contain_the_revealed_value(senior_analyst, borrower_record):
    pii_reveal(actor=senior_analyst, borrower=borrower_record, field="mobile", reason=REASON)

    event = AuditEvent.objects.get()
    assert "13800001234" not in str(event.before) + str(event.after) + event.note
    assert event.after == {"field": "mobile", "object_ref": ""}


def test_name_and_mobile_are_revealed_from_the_database(senior_analyst, borrower_record):
    Borrower.objects.filter(pk=borrower_record.pk).update(mobile="13900009999")

    assert (
        pii_reveal(actor=senior_analyst, borrower=borrower_record, field="mobile", reason=REASON)
        == "13900009999"
    )
    assert (
        pii_reveal(actor=senior_analyst, borrower=borrower_record, field="name", reason=REASON)
        == "张三"
    )


def test_a_bank_card_is_revealed_by_its_account_id(manager, borrower_record, bank_account):
    value = pii_reveal(
        actor=manager,
        borrower=borrower_record,
        field=PiiField.BANK_CARD,
        reason=REASON,
        object_ref=str(bank_account.pk),
    )

    assert value == "6222020200112233445"
    assert PiiAccess.objects.get().object_ref == str(bank_account.pk)


@pytest.mark.parametrize("object_ref", ["", "999999", "abc"])
def test_a_bank_card_outside_the_borrower_is_refused(manager, borrower_record, object_ref):
    with pytest.raises(PiiObjectNotFound):
        pii_reveal(
            actor=manager,
            borrower=borrower_record,
            field=PiiField.BANK_CARD,
            reason=REASON,
            object_ref=object_ref,
        )
    assert not PiiAccess.objects.exists()


@pytest.mark.parametrize("role_fixture", ["analyst", "borrower_user", "service_user", "outsider"])
def test_roles_without_reveal_authority_are_refused_and_nothing_is_written(
    request, role_fixture, borrower_record
):
    actor = request.getfixturevalue(role_fixture)

    with pytest.raises(RevealNotAllowed):
        pii_reveal(actor=actor, borrower=borrower_record, field="national_id", reason=REASON)

    assert not PiiAccess.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_deactivated_senior_analyst_is_refused(senior_analyst, borrower_record):
    User.objects.filter(pk=senior_analyst.pk).update(is_active=False)
    senior_analyst.refresh_from_db()

    with pytest.raises(RevealNotAllowed):
        pii_reveal(actor=senior_analyst, borrower=borrower_record, field="name", reason=REASON)


@pytest.mark.parametrize("reason", ["", "          ", "too short", "  short   "])
def test_a_blank_or_short_reason_is_refused_and_nothing_is_written(
    senior_analyst, borrower_record, reason
):
    with pytest.raises(ReasonRequired) as exc_info:
        pii_reveal(actor=senior_analyst, borrower=borrower_record, field="name", reason=reason)

    assert "10" in exc_info.value.message
    assert not PiiAccess.objects.exists()
    assert not AuditEvent.objects.exists()


def test_each_reveal_is_logged_again_when_replayed(senior_analyst, borrower_record):
    for _ in range(2):
        pii_reveal(actor=senior_analyst, borrower=borrower_record, field="name", reason=REASON)

    assert PiiAccess.objects.count() == 2
    assert AuditEvent.objects.filter(action="pii.revealed").count() == 2


def test_an_unknown_field_is_a_programming_error(senior_analyst, borrower_record):
    with pytest.raises(ValueError, match="Unknown"):
        pii_reveal(actor=senior_analyst, borrower=borrower_record, field="salary", reason=REASON)


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
        borrower=borrower_record,
    )

    assert user.borrower == borrower_record
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
            borrower=borrower_record if with_borrower else None,
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
