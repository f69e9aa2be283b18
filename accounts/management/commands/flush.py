"""Django's flush, able to empty the append-only logs on SQLite (see accounts.append_only).

Test teardown for transactional tests calls flush; on PostgreSQL it runs TRUNCATE, which the
row triggers do not stop, and this gives SQLite the same behaviour. Only a whole-database wipe
gets through: single-row UPDATE and DELETE stay refused on both.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand

from accounts.append_only import purge_allowed


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        with purge_allowed():
            super().handle(**options)
