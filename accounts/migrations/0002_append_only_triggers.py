"""Database triggers that make the audit log and the personal-data access log append-only.

The models already refuse save() of an existing row and queryset update()/delete(); these
triggers refuse UPDATE and DELETE from any SQL the application runs as well.
PostgreSQL: one plpgsql function raising insufficient_privilege, BEFORE UPDATE OR DELETE.
SQLite: RAISE(ABORT) triggers; the DELETE one lets `manage.py flush` through (see
accounts/append_only.py), matching PostgreSQL where flush's TRUNCATE fires no row trigger.

On SQLite, a later migration that alters these tables rebuilds them and loses the triggers:
such a migration must run this one's forward function again (the model tests would catch it).
"""

from __future__ import annotations

from django.db import migrations

TABLES = ("accounts_auditevent", "accounts_piiaccess")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION riskops_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END
$$
"""


def _pg_forward(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION riskops_refuse_change()",
    ]


def _sqlite_forward(table: str) -> list[str]:
    message = f"{table} is append-only"
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{message}: UPDATE refused'); END",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
        "WHEN riskops_append_only_enforced() "
        f"BEGIN SELECT RAISE(ABORT, '{message}: DELETE refused'); END",
    ]


def forward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [PG_FUNCTION] + [s for t in TABLES for s in _pg_forward(t)]
    elif vendor == "sqlite":
        statements = [s for t in TABLES for s in _sqlite_forward(t)]
    else:
        raise RuntimeError(f"No append-only triggers written for {vendor}.")
    for sql in statements:
        # params=None: the SQL goes to the driver as written, with no %-placeholder parsing.
        schema_editor.execute(sql, params=None)


def backward(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}", None)
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update", None)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete", None)
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS riskops_refuse_change()", None)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
