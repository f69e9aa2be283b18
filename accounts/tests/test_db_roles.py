"""The restricted PostgreSQL role (accounts.db_roles): the application's normal writes work,
and nothing it can send erases or rewrites the audit and access logs.

The test database is migrated by the owner (pytest-django, as the CI's postgres); the test then
runs `grant_app_role` as the owner and reconnects as that role, as a deployment would. CI runs
this file as its own step (.ci/run, "restricted database role").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from accounts.audit import AuditRow, audit_bulk, verify_chain
from accounts.db_roles import app_role_problems, app_role_statements
from accounts.models import AuditEvent, User
from accounts.services import user_create, user_deactivate, user_set_role
from lending.models import PiiAccess
from lending.services import pii_reveal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PASSWORD = "plum-orchard-lantern-42"  # noqa: S105 (a test password)


@pytest.fixture
def app_role(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """A restricted role for this test database, granted by the owner; (name, password)."""
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    # Roles are cluster-wide: one per test database, so parallel runs do not share one.
    name = re.sub(r"[^a-z0-9_]", "_", f"{connection.settings_dict['NAME']}_app".lower())[:63]
    password = secrets.token_urlsafe(24)
    monkeypatch.setenv("RISKOPS_APP_DB_PASSWORD", password)
    call_command("grant_app_role", name, verbosity=0)
    yield name, password


@contextmanager
def connected_as(role: str, password: str) -> Iterator[None]:
    """Django's default connection reconnected as `role` (then as the owner again)."""
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(USER=role, PASSWORD=password)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == role
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


def _refused(sql: str) -> str:
    """Run `sql` in a savepoint, expecting the database to refuse it; return its message."""
    with pytest.raises(DatabaseError) as refused, transaction.atomic(), connection.cursor() as c:
        c.execute(sql)
    return str(refused.value)


ERASING = [
    "UPDATE accounts_auditevent SET note = 'rewritten'",
    "DELETE FROM accounts_auditevent",
    "TRUNCATE accounts_auditevent",
    "TRUNCATE accounts_auditevent CASCADE",
    "UPDATE lending_piiaccess SET reason = 'rewritten'",
    "DELETE FROM lending_piiaccess",
    "TRUNCATE lending_piiaccess",
    "TRUNCATE accounts_user CASCADE",  # would cascade into the audit log
    "SET session_replication_role = replica",
    "ALTER TABLE accounts_auditevent DISABLE TRIGGER ALL",
    "ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only",
    "ALTER TABLE lending_piiaccess DISABLE TRIGGER ALL",
    "DROP TRIGGER accounts_auditevent_no_truncate ON accounts_auditevent",
    "DROP TABLE accounts_auditevent CASCADE",
    "INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())",
]


def test_the_restricted_role_writes_the_book_but_cannot_erase_the_logs(
    app_role, borrower_record, admin_user
):
    role, password = app_role
    audit_rows = AuditEvent.objects.count()

    with connected_as(role, password):
        # The application's normal writes: logins, roles, tokens, a reveal, bulk audit rows.
        senior = user_create(
            actor=admin_user, username="ria", password=PASSWORD, role="senior_analyst"
        )
        clerk = user_create(actor=admin_user, username="carl", password=PASSWORD, role="analyst")
        user_set_role(actor=admin_user, user=clerk, role="manager")
        user_deactivate(actor=admin_user, user=clerk)
        pii_reveal(
            actor=senior, borrower=borrower_record, field="mobile", reason="Customer called in"
        )
        audit_bulk([AuditRow(action="test.bulk", obj=senior)] * 3)
        written = AuditEvent.objects.count()
        accesses = PiiAccess.objects.count()

        # What it cannot do, however it tries:
        messages = {sql: _refused(sql) for sql in ERASING}
        # The flush command's switch does not help it either: TRUNCATE is not its privilege.
        messages["SET riskops.purge_append_only"] = _refused(
            "SET riskops.purge_append_only = 'on'; TRUNCATE accounts_auditevent"
        )

        assert AuditEvent.objects.count() == written
        assert PiiAccess.objects.count() == accesses
        assert verify_chain().ok

    assert written == audit_rows + 2 + 1 + 1 + 1 + 3
    assert User.objects.get(username="carl").is_active is False
    for sql, message in messages.items():
        assert re.search(r"permission denied|must be owner", message), (sql, message)


def test_grant_app_role_leaves_the_role_no_way_around_the_triggers(app_role):
    role, _ = app_role
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
        assert app_role_problems(cursor, role=role, owner=owner) == []
        cursor.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s", [role]
        )
        assert cursor.fetchone() == (False, False, False)


def test_grant_app_role_prints_its_sql_and_refuses_odd_role_names(capsys):
    if connection.vendor != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    call_command("grant_app_role", "riskops_app", "--sql")
    sql = capsys.readouterr().out
    assert "GRANT SELECT, INSERT ON accounts_auditevent, lending_piiaccess TO riskops_app" in sql
    assert "PASSWORD" not in sql

    with pytest.raises(Exception, match="lower-case letters"):
        app_role_statements(role='app"; DROP TABLE x; --', owner="postgres", database="riskops")
