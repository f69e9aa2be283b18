from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from accounts.audit import clear_audit_context, set_audit_context
from accounts.choices import AuditSource
from accounts.errors import PiiObjectNotFound, ReasonRequired, RevealNotAllowed
from accounts.models import AuditEvent, User
from lending.choices import PiiField
from lending.models import BankAccount, Borrower, PiiAccess
from lending.services import pii_reveal

pytestmark = pytest.mark.django_db

REASON = "Customer called about a disputed repayment"


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
    assert event.object_type == "lending.piiaccess"
    assert event.object_id == str(access.pk)
    assert event.note == REASON
    assert event.source == AuditSource.WEB
    assert event.ip_address == "10.1.2.3"
    assert event.reference == "request:abc123"


def test_reveal_records_never_contain_the_revealed_value(senior_analyst, borrower_record):
    pii_reveal(actor=senior_analyst, borrower=borrower_record, field="mobile", reason=REASON)

    event = AuditEvent.objects.get()
    assert "13800001234" not in str(event.before) + str(event.after) + event.note
    assert event.after == {"field": "mobile", "object_ref": "", "granted": True}


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
def test_roles_without_reveal_authority_are_refused_and_the_attempt_is_recorded(
    request, role_fixture, borrower_record
):
    actor = request.getfixturevalue(role_fixture)

    with pytest.raises(RevealNotAllowed):
        pii_reveal(actor=actor, borrower=borrower_record, field="national_id", reason=REASON)

    attempt = PiiAccess.objects.get()
    assert (attempt.actor, attempt.granted, attempt.field) == (actor, False, "national_id")
    refusal = AuditEvent.objects.get()
    assert refusal.action == "pii.reveal_refused"
    assert refusal.borrower_id == borrower_record.pk
    assert not AuditEvent.objects.filter(action="pii.revealed").exists()


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
