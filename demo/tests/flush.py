"""Emptying the test database after a module's committed demo book."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.core.management import call_command

# The data migrations whose rows a fresh test database has: (module, function).
SHIPPED = (
    ("monitoring.migrations.0005_rules_defaults", "forwards"),  # rules and lists, all kinds
    ("decisions.migrations.0006_override_seed", "seed"),  # override reasons, authority matrix
)


def flush_keeping_shipped_rows() -> None:
    """manage.py flush, then the rows the migrations ship put back by the migrations' own
    functions (the monitoring rules and lists at their defaults, the override reasons and the
    authority matrix; no audit rows, as after migrate): the database a fresh test run has.

    A module that seeds a committed book must empty the database afterwards (flush is the one
    way the append-only audit log may be emptied); a bare flush also took the migrations' rows,
    and every test that ran after such a module and read them (a backtest of the active
    velocity rule, an override under the matrix) failed on an empty table.
    """
    call_command("flush", interactive=False, verbosity=0)
    for module, function in SHIPPED:
        getattr(importlib.import_module(module), function)(apps, None)
