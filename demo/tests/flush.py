"""Emptying the test database after a module's committed demo book."""

from __future__ import annotations

from django.core.management import call_command


def flush_keeping_shipped_rows() -> None:
    """manage.py flush, then the rows the migrations ship put back (the monitoring rules and
    lists at their defaults, the override reasons and the authority matrix), as a fresh test
    database has them.

    A module that seeds a committed book must empty the database afterwards (flush is the one
    way the append-only audit log may be emptied); a bare flush also took the migrations' rows,
    and every test that ran after such a module and read them (a backtest of the active
    velocity rule, an override under the matrix) failed on an empty table.
    """
    from decisions.services.override_defaults import ensure_override_defaults
    from monitoring.services import rules_ensure_defaults

    call_command("flush", interactive=False, verbosity=0)
    rules_ensure_defaults()
    ensure_override_defaults()
