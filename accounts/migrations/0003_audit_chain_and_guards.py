"""The audit log's hash chain, a guard against TRUNCATE, and service accounts without passwords.

1. `at` is now set by accounts.audit before the row is hashed (a Python default instead of
   auto_now_add). The column does not change, so only the migration state does: an AlterField
   would make SQLite rebuild the table and drop its triggers.
2. Rows written before the chain existed get their prev_hash and row_hash, in id order. The
   UPDATE trigger is lifted for that, inside this migration's transaction, and put back in 3.
3. The triggers again (accounts.append_only): on PostgreSQL a statement trigger now refuses
   TRUNCATE too (except inside manage.py flush), and every trigger fires ALWAYS, so
   `SET session_replication_role = replica` no longer skips it. lending 0003 does the same for
   the personal-data access log.
4. Service accounts get an unusable password (they authenticate with an API token only), with
   an audit row each.
"""

from __future__ import annotations

import django.utils.timezone
from django.contrib.auth.hashers import make_password
from django.db import migrations, models

from accounts.append_only import install_triggers, remove_triggers
from accounts.audit import GENESIS_HASH, chain_append, compute_row_hash

TABLES = ("accounts_auditevent",)
CHUNK = 1000


def chain_existing_rows(apps, schema_editor) -> None:
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    alias = schema_editor.connection.alias
    # The base manager: a plain one, even where the model's own refuses bulk updates.
    events = AuditEvent._base_manager.using(alias)
    rows = events.order_by("pk")
    if not rows.exists():
        return
    # Lift the UPDATE refusal for this one rewrite (3 installs the triggers again):
    if schema_editor.connection.vendor == "postgresql":
        # ALTER TABLE refuses while deferred foreign-key checks are pending in the transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE", None)
        schema_editor.execute(
            "ALTER TABLE accounts_auditevent DISABLE TRIGGER accounts_auditevent_append_only", None
        )
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS accounts_auditevent_no_update", None)
    prev = GENESIS_HASH
    batch = []
    for event in rows.iterator(chunk_size=CHUNK):
        event.prev_hash = prev
        event.row_hash = prev = compute_row_hash(event, prev)
        batch.append(event)
        if len(batch) == CHUNK:
            events.bulk_update(batch, ["prev_hash", "row_hash"])
            batch = []
    events.bulk_update(batch, ["prev_hash", "row_hash"])


def install(apps, schema_editor) -> None:
    install_triggers(schema_editor, TABLES, truncate=True)


def back_to_0002(apps, schema_editor) -> None:
    remove_triggers(schema_editor, TABLES)
    install_triggers(schema_editor, TABLES)


def service_accounts_without_password(apps, schema_editor) -> None:
    User = apps.get_model("accounts", "User")
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    alias = schema_editor.connection.alias
    events = []
    for user in User.objects.using(alias).filter(role="service").order_by("pk"):
        if user.password.startswith("!"):  # already unusable (UNUSABLE_PASSWORD_PREFIX)
            continue
        user.password = make_password(None)
        user.save(update_fields=["password"])
        events.append(
            AuditEvent(
                at=django.utils.timezone.now(),
                actor_label="migrate",
                action="user.password_disabled",
                object_type="accounts.user",
                object_id=str(user.pk),
                after={"usable_password": False},
                source="command",
                reference="migrate:accounts.0003",
                note="Service accounts authenticate with an API token only.",
            )
        )
    if events:
        chain_append(AuditEvent, events, alias)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_append_only_triggers")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="at",
                    field=models.DateTimeField(
                        db_index=True,
                        default=django.utils.timezone.now,
                        editable=False,
                        verbose_name="at",
                    ),
                ),
            ],
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop),
        migrations.RunPython(install, back_to_0002),
        migrations.RunPython(service_accounts_without_password, migrations.RunPython.noop),
    ]
