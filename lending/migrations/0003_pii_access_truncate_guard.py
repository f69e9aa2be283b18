"""The personal-data access log refuses TRUNCATE too (accounts.append_only has the SQL).

PostgreSQL: a statement trigger refuses TRUNCATE of lending_piiaccess except inside
manage.py flush, and the triggers fire ALWAYS, so `session_replication_role = replica` does not
skip them. The trigger functions are the ones accounts 0003 created. SQLite has no TRUNCATE;
its triggers are installed again unchanged.
"""

from __future__ import annotations

from django.db import migrations

from accounts.append_only import install_triggers, remove_triggers

TABLES = ("lending_piiaccess",)


def forward(apps, schema_editor) -> None:
    install_triggers(schema_editor, TABLES, truncate=True)


def backward(apps, schema_editor) -> None:
    remove_triggers(schema_editor, TABLES)
    install_triggers(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("lending", "0002_pii_access_append_only"),
        ("accounts", "0003_audit_chain_and_guards"),
    ]

    operations = [migrations.RunPython(forward, backward)]
