"""The audit log's hash chain: every row linked to the one before, tampering found by
`manage.py audit_verify`, and concurrent writers that never fork the chain."""

from __future__ import annotations

import threading
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from accounts.append_only import install_triggers
from accounts.audit import (
    GENESIS_HASH,
    AuditRow,
    audit,
    audit_bulk,
    clear_audit_context,
    compute_row_hash,
    set_audit_context,
    verify_chain,
)
from accounts.choices import AuditSource
from accounts.models import AuditEvent, User

pytestmark = pytest.mark.django_db

TABLE = "accounts_auditevent"
# A row as SQL outside the application would add it: no hashes.
RAW_INSERT = (
    "INSERT INTO accounts_auditevent (at, actor_label, action, object_type, object_id, before, "
    "after, source, reference, note, prev_hash, row_hash) VALUES (CURRENT_TIMESTAMP, 'x', %s, "
    "'x', '1', '{}', '{}', 'system', '', '', '', '')"
)


class _SchemaEditor(SimpleNamespace):
    """What install_triggers and the migration functions use of a schema editor."""

    def execute(self, sql: str, params: Any = None) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)


def _as_owner_without_triggers(sql: str, params: list[Any]) -> None:
    """Tamper as the tables' owner can: lift the append-only triggers, run `sql`, put them back."""
    editor = _SchemaEditor(connection=connection)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # ALTER TABLE waits for no deferred foreign-key check of the rows just written:
            editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            editor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TABLE}_append_only")
        else:
            editor.execute(f"DROP TRIGGER {TABLE}_no_update")
            editor.execute(f"DROP TRIGGER {TABLE}_no_delete")
        editor.execute(sql, params)
        install_triggers(editor, (TABLE,), truncate=True)


def _three_rows(user: User) -> list[AuditEvent]:
    return [audit(actor=user, action=f"test.step{i}", obj=user, after={"i": i}) for i in range(3)]


def test_each_audit_row_is_chained_to_the_one_before(analyst):
    first, second, third = _three_rows(analyst)

    assert first.prev_hash == GENESIS_HASH
    assert (second.prev_hash, third.prev_hash) == (first.row_hash, second.row_hash)
    for row in AuditEvent.objects.order_by("pk"):
        assert row.row_hash == compute_row_hash(row, row.prev_hash)
        assert len(row.row_hash) == 64


def test_audit_bulk_chains_its_rows_in_order_onto_the_tail(analyst, manager):
    tail = audit(actor=analyst, action="test.before", obj=analyst)

    rows = audit_bulk(
        [
            AuditRow(action="rescore.changed", obj=user, actor=None, after={"score": score})
            for user, score in ((analyst, 612), (manager, 587))
        ]
    )

    assert [r.action for r in AuditEvent.objects.order_by("pk")] == [
        "test.before",
        "rescore.changed",
        "rescore.changed",
    ]
    assert rows[0].prev_hash == tail.row_hash
    assert rows[1].prev_hash == rows[0].row_hash
    assert verify_chain().ok


def test_awkward_values_hash_the_same_after_the_database_round_trip(analyst):
    # jsonb turns an integral float into an int, and IPv6 addresses are compressed on save:
    # the hash is computed over the values as they read back.
    set_audit_context(source=AuditSource.WEB, reference="request:r1", ip_address="2001:0db8::0001")
    try:
        audit(
            actor=analyst,
            action="test.awkward",
            obj=analyst,
            before={"limit": Decimal("20000.10"), "ratio": 0.1, "big": 1e20, "flag": True},
            after={"名字": "张浩浩", "nested": [1, 2.0, {"z": None, "a": "引号\"'"}]},
            note="line one\nline two",
        )
    finally:
        clear_audit_context()

    assert verify_chain().ok


def test_audit_verify_reports_an_intact_chain_and_its_head(analyst, capsys):
    rows = _three_rows(analyst)

    call_command("audit_verify")

    out = capsys.readouterr().out
    assert "Audit chain intact: 3 rows" in out
    assert rows[-1].row_hash in out


def test_audit_verify_names_the_first_row_altered_behind_the_triggers_back(analyst):
    first, second, third = _three_rows(analyst)
    _as_owner_without_triggers(
        "UPDATE accounts_auditevent SET note = %s WHERE id = %s", ["nothing to see here", second.pk]
    )

    with pytest.raises(CommandError, match=rf"broken at row id {second.pk}: row_hash"):
        call_command("audit_verify")


def test_audit_verify_notices_a_row_removed_from_the_middle(analyst):
    first, second, third = _three_rows(analyst)
    _as_owner_without_triggers("DELETE FROM accounts_auditevent WHERE id = %s", [second.pk])

    with pytest.raises(CommandError, match=rf"broken at row id {third.pk}: prev_hash"):
        call_command("audit_verify")


def test_audit_verify_notices_a_row_rewritten_with_a_fresh_hash(analyst):
    # Recomputing the altered row's own hash does not help: the next row points at the old one.
    first, second, third = _three_rows(analyst)
    forged = AuditEvent.objects.get(pk=second.pk)
    forged.note = "rewritten"
    new_hash = compute_row_hash(forged, forged.prev_hash)
    _as_owner_without_triggers(
        "UPDATE accounts_auditevent SET note = %s, row_hash = %s WHERE id = %s",
        ["rewritten", new_hash, second.pk],
    )

    report = verify_chain()

    assert (report.broken_id, report.problem) == (
        third.pk,
        "prev_hash does not match the row before",
    )


def test_an_unchained_row_inserted_by_raw_sql_breaks_the_chain(analyst):
    _three_rows(analyst)
    with connection.cursor() as cursor:
        cursor.execute(RAW_INSERT, ["raw.insert"])

    assert verify_chain().problem == "prev_hash does not match the row before"


def test_the_migration_chains_rows_written_before_the_chain_existed(analyst):
    # accounts 0003 gives existing rows their hashes, in id order, behind lifted triggers.
    from importlib import import_module

    migration = import_module("accounts.migrations.0003_audit_chain_and_guards")
    for action in ("legacy.one", "legacy.two"):
        with connection.cursor() as cursor:
            cursor.execute(RAW_INSERT, [action])
    assert not verify_chain().ok

    editor = _SchemaEditor(connection=connection)
    migration.chain_existing_rows(django_apps, editor)
    migration.install(django_apps, editor)

    assert verify_chain().ok
    audit(actor=analyst, action="test.after", obj=analyst)
    assert verify_chain().rows == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain(analyst):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers already; the race needs PostgreSQL")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                with transaction.atomic():
                    audit(actor=analyst, action=f"test.w{n}.{i}", obj=analyst)
                    if i % 3 == 0:  # some transactions write several rows
                        audit_bulk([AuditRow(action=f"test.w{n}.{i}.bulk", obj=analyst)] * 2)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = list(AuditEvent.objects.order_by("pk").values_list("prev_hash", flat=True))
    assert len(rows) == 6 * (10 + 2 * 4)
    assert len(set(rows)) == len(rows)  # no two rows chained onto the same tail
    assert verify_chain().ok
