"""The database half of the append-only audit and access logs: the triggers the migrations
install (accounts 0002 on the audit log, lending 0002 on the personal-data access log).

On PostgreSQL a trigger refuses every UPDATE and DELETE of a row. On SQLite, triggers do the
same; the DELETE trigger asks the SQL function `riskops_append_only_enforced()`, which this
module registers on every Django SQLite connection. It answers 1 except inside
`purge_allowed()`, used only by the `flush` command (wiping a whole database, as test
teardown does): PostgreSQL's flush uses TRUNCATE, which row triggers do not see, so both
vendors allow exactly the same thing. A connection without the function (the sqlite3 shell)
gets "no such function" on UPDATE/DELETE of these tables, so it is refused there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

SQLITE_FUNCTION = "riskops_append_only_enforced"

# Process-wide on purpose: the flush command and a live-server thread share the test database.
_purge_allowed = False


@contextmanager
def purge_allowed() -> Iterator[None]:
    """Let a whole-database wipe (manage.py flush) delete audit rows on SQLite."""
    global _purge_allowed
    _purge_allowed = True
    try:
        yield
    finally:
        _purge_allowed = False


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


def install_triggers(schema_editor: Any, tables: tuple[str, ...]) -> None:
    """Create the append-only triggers on `tables` (a migration's RunPython calls this)."""
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [PG_FUNCTION] + [s for t in tables for s in _pg_forward(t)]
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
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update", None)
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete", None)
