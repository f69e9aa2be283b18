"""Django's flush, able to empty the append-only logs (see accounts.append_only).

Test teardown for transactional tests calls flush, and `seed_demo --reset` wipes the database
with it. The append-only tables refuse it otherwise: on PostgreSQL a TRUNCATE trigger, on
SQLite the DELETE trigger. Inside this command both let the whole-database wipe through
(`purge_allowed`); single-row UPDATE and DELETE stay refused everywhere, and TRUNCATE of an
audit table anywhere else is refused. The restricted application role (accounts.db_roles) has
no TRUNCATE privilege at all: flush is an owner's command.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand
from django.db import DEFAULT_DB_ALIAS, connections

from accounts.append_only import purge_allowed


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        connection = connections[options.get("database") or DEFAULT_DB_ALIAS]
        with purge_allowed(connection):
            super().handle(**options)
