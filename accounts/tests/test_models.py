from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from celery import shared_task
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from accounts.audit import audit, audit_context
from accounts.choices import AuditSource
from accounts.middleware import AuditContextMiddleware
from accounts.models import AuditEvent, User
from lending.models import PiiAccess
from lending.services import pii_reveal

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(analyst) -> AuditEvent:
    return audit(actor=analyst, action="test.done", obj=analyst, after={"x": 1})


@pytest.fixture
def access(senior_analyst, borrower_record) -> PiiAccess:
    pii_reveal(
        actor=senior_analyst,
        borrower=borrower_record,
        field="name",
        reason="Verifying the caller's identity",
    )
    return PiiAccess.objects.get()


def _raw(sql: str, params: list[Any], *, first: tuple[str, ...] = ()) -> None:
    # A savepoint per attempt: on PostgreSQL a refused statement breaks the transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in first:
            cursor.execute(statement)
        cursor.execute(sql, params)


# TRUNCATE waits for no deferred foreign-key check of the rows the fixtures just wrote:
CHECK_NOW = ("SET CONSTRAINTS ALL IMMEDIATE",)


# Append-only, through the model ---------------------------------------------------------------


def test_saving_an_existing_audit_event_is_refused(event):
    event.action = "test.rewritten"
    with pytest.raises(PermissionError):
        event.save()
    assert AuditEvent.objects.get().action == "test.done"


def test_deleting_an_audit_event_instance_is_refused(event):
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.count() == 1


def test_queryset_update_and_delete_of_audit_events_are_refused(event):
    with pytest.raises(PermissionError):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.rewritten")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().action == "test.done"


def test_saving_deleting_or_bulk_changing_a_pii_access_is_refused(access):
    access.reason = "something else entirely"
    with pytest.raises(PermissionError):
        access.save()
    with pytest.raises(PermissionError):
        access.delete()
    with pytest.raises(PermissionError):
        PiiAccess.objects.update(reason="rewritten")
    with pytest.raises(PermissionError):
        PiiAccess.objects.all().delete()
    assert PiiAccess.objects.get().reason == "Verifying the caller's identity"


# Append-only, in the database (migration 0002's triggers) -------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE accounts_auditevent SET action = %s WHERE id = %s",
        "DELETE FROM accounts_auditevent WHERE id = %s OR action = %s",
    ],
)
def test_raw_sql_cannot_change_or_remove_audit_events(event, sql):
    params: list[object] = (
        ["test.rewritten", event.pk] if sql.startswith("UPDATE") else [event.pk, "test.done"]
    )
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(sql, params)
    assert AuditEvent.objects.get().action == "test.done"


@pytest.mark.parametrize(
    "sql, params",
    [
        ("UPDATE lending_piiaccess SET reason = %s", ["rewritten"]),
        ("DELETE FROM lending_piiaccess WHERE reason <> %s", [""]),
    ],
)
def test_raw_sql_cannot_change_or_remove_pii_accesses(access, sql, params):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(sql, params)
    assert PiiAccess.objects.get().reason == "Verifying the caller's identity"


def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no TRUNCATE and no session_replication_role")


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["accounts_auditevent", "lending_piiaccess"])
def test_truncating_an_append_only_table_is_refused(event, access, table):
    _postgres_only()

    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"):
        _raw(f"TRUNCATE {table} CASCADE", [], first=CHECK_NOW)

    assert AuditEvent.objects.exists() and PiiAccess.objects.exists()


@pytest.mark.postgres
def test_truncating_a_table_that_cascades_into_the_audit_log_is_refused(event):
    # accounts_user is referenced by the audit log: CASCADE would empty it too.
    _postgres_only()

    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"):
        _raw("TRUNCATE accounts_user CASCADE", [], first=CHECK_NOW)

    assert AuditEvent.objects.exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE accounts_auditevent SET action = 'test.rewritten'",
        "DELETE FROM accounts_auditevent",
        "UPDATE lending_piiaccess SET reason = 'rewritten'",
        "TRUNCATE accounts_auditevent",
    ],
)
def test_replica_mode_does_not_switch_the_triggers_off(event, access, sql):
    # session_replication_role = replica skips ordinary triggers; ours fire ALWAYS. (Setting it
    # needs a superuser: the owner in the demo, never the restricted application role.)
    _postgres_only()
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("only a superuser may set session_replication_role")

    with pytest.raises(DatabaseError, match="append-only"):
        _raw(sql, [], first=(*CHECK_NOW, "SET LOCAL session_replication_role = replica"))

    assert AuditEvent.objects.filter(action="test.done").exists()
    assert PiiAccess.objects.get().reason == "Verifying the caller's identity"


def test_inserting_through_raw_sql_is_still_possible(event):
    # Append-only means appends work: the triggers guard UPDATE and DELETE only.
    _raw(
        "INSERT INTO accounts_auditevent (at, actor_label, action, object_type, object_id, "
        "before, after, source, reference, note, prev_hash, row_hash) "
        "VALUES (%s, 'x', 'raw.insert', 'x', '1', '{}', '{}', 'system', '', '', '', '')",
        [event.at],
    )
    assert AuditEvent.objects.count() == 2


# Where a change came from ---------------------------------------------------------------------


def _middleware(write: Callable[[HttpRequest], object]) -> AuditContextMiddleware:
    def view(request: HttpRequest) -> HttpResponse:
        write(request)
        return HttpResponse("ok")

    return AuditContextMiddleware(view)


def test_a_request_records_its_id_source_and_ip(analyst):
    request = RequestFactory().post(
        "/borrowers/1/", REMOTE_ADDR="192.0.2.7", HTTP_X_REQUEST_ID="req-42"
    )

    response = _middleware(lambda r: audit(actor=analyst, action="web.done", obj=analyst))(request)

    row = AuditEvent.objects.get()
    assert (row.source, row.reference, row.ip_address) == (
        AuditSource.WEB,
        "request:req-42",
        "192.0.2.7",
    )
    assert response["X-Request-ID"] == "req-42"


def test_an_api_request_is_recorded_as_api_with_a_generated_id(service_user):
    request = RequestFactory().post("/api/v1/events/", REMOTE_ADDR="192.0.2.8")

    write = _middleware(lambda r: audit(actor=service_user, action="api.done", obj=service_user))
    response = write(request)

    row = AuditEvent.objects.get()
    assert row.source == AuditSource.API
    assert row.reference == f"request:{response['X-Request-ID']}"
    assert len(response["X-Request-ID"]) == 32


def test_the_context_does_not_leak_past_the_request(analyst):
    _middleware(lambda r: None)(RequestFactory().get("/", REMOTE_ADDR="192.0.2.9"))

    row = audit(actor=None, action="later", obj=analyst)

    assert (row.source, row.ip_address, row.actor_label) == (AuditSource.SYSTEM, None, "system")


@shared_task(name="accounts.tests.audit_probe_task")
def audit_probe_task(user_id: int) -> None:
    """A task that writes one audit row with no actor, as scheduled jobs do."""
    audit(actor=None, action="task.done", obj=User.objects.get(pk=user_id))


def test_a_task_records_its_name_and_id(analyst):
    audit_probe_task.apply(args=[analyst.pk], task_id="t-1")

    row = AuditEvent.objects.get()
    assert row.source == AuditSource.TASK
    assert row.reference == "accounts.tests.audit_probe_task:t-1"
    assert row.actor_label == "accounts.tests.audit_probe_task"


def test_a_command_records_its_name(analyst):
    with audit_context(source=AuditSource.COMMAND, reference="seed_demo"):
        audit(actor=None, action="command.done", obj=analyst)

    row = AuditEvent.objects.get()
    assert (row.source, row.reference, row.actor_label) == (
        AuditSource.COMMAND,
        "seed_demo",
        "seed_demo",
    )


def test_issue_service_token_prints_the_key_and_audits_as_a_command(service_user, capsys):
    call_command("issue_service_token", "lending-core", "--rotate")

    key = capsys.readouterr().out.strip()
    assert len(key) == 40
    row = AuditEvent.objects.get(action="token.issued")
    assert (row.source, row.actor_label) == (AuditSource.COMMAND, "issue_service_token")
    call_command("issue_service_token", "lending-core")
    assert capsys.readouterr().out.strip() == key  # without --rotate: the existing token


@pytest.mark.django_db(transaction=True)
def test_a_whole_database_flush_still_empties_the_logs(senior_analyst, borrower_record):
    # Transactional tests (the browser tests' live server) end with `flush`: the triggers let
    # exactly that through (accounts.append_only.purge_allowed), the DELETE trigger on SQLite
    # and the TRUNCATE trigger on PostgreSQL. Single-row deletes stay refused.
    pii_reveal(
        actor=senior_analyst,
        borrower=borrower_record,
        field="name",
        reason="Verifying the caller's identity",
    )
    with pytest.raises(DatabaseError):
        _raw("DELETE FROM lending_piiaccess", [])

    call_command("flush", interactive=False, verbosity=0)

    assert not AuditEvent.objects.exists()
    assert not PiiAccess.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_after_a_flush_the_append_only_tables_refuse_a_purge_again(analyst):
    call_command("flush", interactive=False, verbosity=0)
    row = audit(actor=None, action="test.after_flush", obj=User.objects.create(username="u"))

    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM accounts_auditevent WHERE id = %s", [row.pk])
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="TRUNCATE refused"):
            _raw("TRUNCATE accounts_auditevent", [])
    assert AuditEvent.objects.filter(pk=row.pk).exists()
