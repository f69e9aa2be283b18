"""Database triggers that make the audit log append-only (accounts.append_only has the SQL).

The model already refuses save() of an existing row and queryset update()/delete(); these
triggers refuse UPDATE and DELETE from any SQL the application runs as well.
On SQLite, a later migration that alters the table rebuilds it and loses the triggers: such a
migration must install them again (the model tests would catch it).
"""

from __future__ import annotations

from django.db import migrations

from accounts.append_only import install_triggers, remove_triggers

TABLES = ("accounts_auditevent",)


def forward(apps, schema_editor) -> None:
    install_triggers(schema_editor, TABLES)


def backward(apps, schema_editor) -> None:
    remove_triggers(schema_editor, TABLES)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
