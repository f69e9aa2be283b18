"""The database half of the append-only audit and access logs: the triggers the migrations
install (accounts 0002/0003 on the audit log, lending 0002/0003 on the personal-data access log).

PostgreSQL: a row trigger refuses every UPDATE and DELETE, and a statement trigger refuses
TRUNCATE. All of them fire ALWAYS, so `SET session_replication_role = replica` (which skips
ordinary triggers) does not switch them off. The one way through is the `flush` command (a
whole-database wipe, as test teardown does): `purge_allowed()` sets the session variable
`riskops.purge_append_only` that the TRUNCATE trigger checks. Any role could set that
variable, so it only stops an accident or an injected TRUNCATE from the owner's connection;
what stops a determined application login is the database role it runs as
(accounts.db_roles): no TRUNCATE, UPDATE or DELETE privilege on these tables, not their owner
(so no ALTER TABLE ... DISABLE TRIGGER), not a superuser (so no session_replication_role).

SQLite: triggers refuse UPDATE and DELETE; the DELETE trigger asks the SQL function
`riskops_append_only_enforced()`, which this module registers on every Django SQLite
connection. It answers 1 except inside `purge_allowed()`. SQLite has no TRUNCATE (DELETE
without WHERE fires the trigger too). A connection without the function (the sqlite3 shell)
gets "no such function" on UPDATE/DELETE of these tables, so it is refused there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

SQLITE_FUNCTION = "riskops_append_only_enforced"
# The session variable the PostgreSQL TRUNCATE trigger checks (set only by purge_allowed()).
PG_PURGE_SETTING = "riskops.purge_append_only"
# Every append-only table, for the restricted role's grants (accounts.db_roles). Table names,
# not models: accounts imports no domain app.
APPEND_ONLY_TABLES = ("accounts_auditevent", "lending_piiaccess")

# Process-wide on purpose: the flush command and a live-server thread share the test database.
_purge_allowed = False


@contextmanager
def purge_allowed(connection: BaseDatabaseWrapper | None = None) -> Iterator[None]:
    """Let a whole-database wipe (manage.py flush) empty the append-only tables.

    SQLite: the DELETE trigger's function answers 0 meanwhile. PostgreSQL: `connection` (the
    one flush runs on) gets the session variable the TRUNCATE trigger lets through, reset after.
    """
    global _purge_allowed
    pg = connection if connection is not None and connection.vendor == "postgresql" else None
    _purge_allowed = True
    try:
        if pg is not None:
            with pg.cursor() as cursor:
                cursor.execute(f"SET {PG_PURGE_SETTING} = 'on'")
        yield
    finally:
        _purge_allowed = False
        if pg is not None:
            with pg.cursor() as cursor:
                cursor.execute(f"RESET {PG_PURGE_SETTING}")


def _enforced() -> int:
    return 0 if _purge_allowed else 1


def register_sqlite_function(sender: Any, connection: BaseDatabaseWrapper, **_: Any) -> None:
    """connection_created receiver: give SQLite connections the function the trigger asks."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 0, _enforced)


PG_FUNCTION = """
CREATE OR REPLACE FUNCTION riskops_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = TG_TABLE_NAME || ' is append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END
$$
"""


PG_TRUNCATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION riskops_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{PG_PURGE_SETTING}', true) = 'on' THEN
        RETURN NULL;  -- manage.py flush (accounts.append_only.purge_allowed)
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = TG_TABLE_NAME || ' is append-only: TRUNCATE refused',
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


def _pg_truncate_forward(table: str) -> list[str]:
    # ENABLE ALWAYS: fires under session_replication_role = replica too.
    return [
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION riskops_refuse_truncate()",
        f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_no_truncate",
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


def install_triggers(
    schema_editor: Any, tables: tuple[str, ...], *, truncate: bool = False
) -> None:
    """Create the append-only triggers on `tables` (a migration's RunPython calls this).

    `truncate=True` (migrations from accounts 0003 and lending 0003 on) adds the PostgreSQL
    TRUNCATE guard and makes every trigger fire ALWAYS; migrations 0002 keep their
    original behaviour, as migrations must.
    """
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [PG_FUNCTION] + [s for t in tables for s in _pg_forward(t)]
        if truncate:
            statements.append(PG_TRUNCATE_FUNCTION)
            statements += [s for t in tables for s in _pg_truncate_forward(t)]
    elif vendor == "sqlite":
        statements = [s for t in tables for s in _sqlite_forward(t)]
    else:
        raise RuntimeError(f"No append-only triggers written for {vendor}.")
    for sql in statements:
        # params=None: the SQL goes to the driver as written, with no %-placeholder parsing.
        schema_editor.execute(sql, params=None)


def remove_triggers(schema_editor: Any, tables: tuple[str, ...]) -> None:
    """Drop the triggers install_triggers created (the function stays: others use it)."""
    vendor = schema_editor.connection.vendor
    for table in tables:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}", None)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}", None)
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update", None)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete", None)
