"""The database half of the append-only audit and access logs (migration 0002's triggers).

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
