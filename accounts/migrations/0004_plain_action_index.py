"""The audit row's action gets a plain index in place of db_index=True's two (a btree and a
LIKE-prefix one that no query uses, written with every audit row).

Done in SQL, not by an AlterField: SQLite would rebuild the table for it and lose the
append-only triggers (0002). The index is renamed or recreated; the table is not touched.
"""

from __future__ import annotations

from django.db import migrations, models

OLD = "accounts_auditevent_action_6dc29885"  # db_index=True's name for the column


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX IF EXISTS "{OLD}_like"')
        schema_editor.execute(f'ALTER INDEX IF EXISTS "{OLD}" RENAME TO "audit_action"')
    else:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{OLD}"')
        schema_editor.execute('CREATE INDEX "audit_action" ON "accounts_auditevent" ("action")')


def backwards(apps, schema_editor) -> None:
    schema_editor.execute('DROP INDEX IF EXISTS "audit_action"')
    schema_editor.execute(f'CREATE INDEX "{OLD}" ON "accounts_auditevent" ("action")')
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f'CREATE INDEX "{OLD}_like" ON "accounts_auditevent" ("action" varchar_pattern_ops)'
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_audit_chain_and_guards")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="action",
                    field=models.CharField(max_length=64, verbose_name="action"),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(fields=["action"], name="audit_action"),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
