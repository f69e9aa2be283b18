"""Writing generated rows: COPY on PostgreSQL, executemany on SQLite, bulk_create as a baseline.

The rows are plain tuples in the column order of COLUMNS, with naive Asia/Shanghai datetimes
(see demo.book); each writer converts what its database needs. Primary keys are
assigned by the generator, so after writing the sequences are moved past them
(`reset_sequences`).
"""

from __future__ import annotations

import json
import time as clock
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from django.db import connection, models

from demo.book import TABLES, Rows
from demo.models import DemoBorrowerProfile
from lending.models import (
    BankAccount,
    Borrower,
    CreditLine,
    DeclaredAsset,
    Device,
    Drawdown,
    Instalment,
    LimitChange,
    LineTransition,
    Notice,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)
from lending.services.lines_bulk import LIMIT_CHANGE_FIELDS
from monitoring.models import Event

MODELS: dict[str, type[models.Model]] = {
    "borrower": Borrower,
    "line": CreditLine,
    "limitchange": LimitChange,
    "bank": BankAccount,
    "device": Device,
    "asset": DeclaredAsset,
    "drawdown": Drawdown,
    "instalment": Instalment,
    "repayment": Repayment,
    "allocation": RepaymentAllocation,
    "transfer": TransferOut,
    "event": Event,
    "transition": LineTransition,
    "notice": Notice,
    "profile": DemoBorrowerProfile,
}
# The tuple layout of each table's rows (attnames), as demo.book builds them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "borrower": (
        "id",
        "customer_no",
        "name",
        "national_id",
        "national_id_last4",
        "mobile",
        "mobile_last4",
        "city",
        "employer",
        "income_band",
        "registered_at",
        "identity_check",
        "identity_check_source",
        "identity_checked_at",
        "home_address",
        "emergency_contact_name",
        "emergency_contact_mobile",
        "national_id_hash",
    ),
    "line": (
        "id",
        "borrower_id",
        "credit_limit",
        "used",
        "status",
        "daily_rate",
        "opened_at",
        "locked_until",
        "status_reason",
        "oldest_unpaid_due",
        "status_code",
        "closed_at",
    ),
    "bank": ("id", "borrower_id", "bank_name", "card_no", "first_seen_at", "last_seen_at"),
    "device": (
        "id",
        "borrower_id",
        "device_id",
        "platform",
        "first_seen_at",
        "last_seen_at",
        "ip_address",
    ),
    "asset": ("id", "borrower_id", "kind", "amount", "declared_at", "verified", "verified_at"),
    "drawdown": (
        "id",
        "line_id",
        "borrower_id",
        "loan_no",
        "amount",
        "term_months",
        "repayment_mode",
        "daily_rate",
        "apr",
        "purpose",
        "disbursed_at",
        "bank_account_id",
        "device_id",
        "status",
        "principal_outstanding",
        "settled_at",
        "written_off_at",
        "written_off_principal",
    ),
    "instalment": (
        "id",
        "drawdown_id",
        "seq",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "penalty_through",
        "paid_off_at",
    ),
    "repayment": (
        "id",
        "drawdown_id",
        "borrower_id",
        "reference",
        "amount",
        "paid_at",
        "bank_account_id",
        "unapplied_amount",
    ),
    "allocation": ("id", "repayment_id", "instalment_id", "fee", "interest", "principal"),
    "transfer": (
        "id",
        "borrower_id",
        "reference",
        "amount",
        "occurred_at",
        "counterparty_name",
        "counterparty_account",
        "counterparty_is_lender",
        "bank_account_id",
    ),
    "event": (
        "id",
        "event_id",
        "kind",
        "borrower_id",
        "occurred_at",
        "received_at",
        "payload",
        "result",
        "posted_by_id",
        "payload_digest",
    ),
    "transition": (
        "id",
        "line_id",
        "borrower_id",
        "day",
        "kind",
        "from_bucket",
        "to_bucket",
        "dpd",
        "balance",
        "created_at",
    ),
    "notice": ("id", "borrower_id", "kind", "params", "created_at", "read_at"),
    # As the services write a line's history in bulk, with the id the seeder assigns.
    "limitchange": ("id", *LIMIT_CHANGE_FIELDS),
    "profile": ("borrower_id", "latent_risk", "archetype"),
}
PLUS_8 = timezone(timedelta(hours=8))
EIGHT_HOURS = timedelta(hours=8)


def check_columns() -> None:
    """Fail early, and clearly, if a model gained or lost a column the seeder does not know."""
    for table, model in MODELS.items():
        actual = {f.attname for f in model._meta.concrete_fields}
        if actual != set(COLUMNS[table]):
            raise RuntimeError(
                f"demo.seeding is out of date for {model._meta.label}: the model has "
                f"{sorted(actual ^ set(COLUMNS[table]))} that the seeder does not match."
            )


def _field_kinds(table: str) -> list[str]:
    fields = {f.attname: f for f in MODELS[table]._meta.concrete_fields}
    return [fields[c].get_internal_type() for c in COLUMNS[table]]


class Writer(ABC):
    """Writes chunks of rows and keeps per-table counts and seconds; subclasses say how."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(TABLES, 0)
        self.seconds = dict.fromkeys(TABLES, 0.0)

    def write(self, rows: Rows) -> None:
        for table in TABLES:
            batch = rows[table]
            if not batch:
                continue
            started = clock.perf_counter()
            self.write_table(table, batch)
            self.seconds[table] += clock.perf_counter() - started
            self.counts[table] += len(batch)

    @abstractmethod
    def write_table(self, table: str, batch: list[tuple[Any, ...]]) -> None:
        """Write one table's rows of a chunk."""


def _sqlite_datetime(value: datetime | None) -> str | None:
    # Django keeps aware datetimes in SQLite as naive UTC text; lookups compare that text.
    return None if value is None else str(value - EIGHT_HOURS)


def _text(value: Any) -> Any:
    return None if value is None else str(value)


class ExecuteManyWriter(Writer):
    """INSERT ... VALUES with executemany: SQLite (or any backend) in the caller's transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.plans: dict[str, tuple[str, list[Callable[[Any], Any] | None]]] = {}
        for table, model in MODELS.items():
            qn = connection.ops.quote_name
            cols = ", ".join(qn(c) for c in _columns_sql(table))
            marks = ", ".join(["%s"] * len(COLUMNS[table]))
            # Identifiers from the models' metadata, quoted; the values are parameters.
            sql = f"INSERT INTO {qn(model._meta.db_table)} ({cols}) VALUES ({marks})"  # noqa: S608
            converters: list[Callable[[Any], Any] | None] = []
            for kind in _field_kinds(table):
                if kind == "DateTimeField":
                    converters.append(_sqlite_datetime if connection.vendor == "sqlite" else _aware)
                elif kind in {"DecimalField", "DateField"}:
                    converters.append(_text)
                elif kind == "JSONField":
                    converters.append(json.dumps)
                else:
                    converters.append(None)
            self.plans[table] = (sql, converters)

    def write_table(self, table: str, batch: list[tuple[Any, ...]]) -> None:
        sql, converters = self.plans[table]
        active = [(i, f) for i, f in enumerate(converters) if f is not None]
        converted = []
        for row in batch:
            values = list(row)
            for i, f in active:
                values[i] = f(values[i])
            converted.append(values)
        with connection.cursor() as cursor:
            cursor.executemany(sql, converted)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=PLUS_8)


def _columns_sql(table: str) -> list[str]:
    """Column names in the database (attname == column for every field here)."""
    fields = {f.attname: f for f in MODELS[table]._meta.concrete_fields}
    return [str(fields[c].column) for c in COLUMNS[table]]


class CopyWriter(Writer):
    """PostgreSQL COPY FROM STDIN (psycopg 3) on Django's connection, in its transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.plans: dict[str, tuple[str, list[int], list[int]]] = {}
        for table, model in MODELS.items():
            cols = ", ".join(connection.ops.quote_name(c) for c in _columns_sql(table))
            kinds = _field_kinds(table)
            datetimes = [i for i, k in enumerate(kinds) if k == "DateTimeField"]
            jsons = [i for i, k in enumerate(kinds) if k == "JSONField"]
            self.plans[table] = (
                f"COPY {connection.ops.quote_name(model._meta.db_table)} ({cols}) FROM STDIN",
                datetimes,
                jsons,
            )

    def write_table(self, table: str, batch: list[tuple[Any, ...]]) -> None:
        sql, datetimes, jsons = self.plans[table]
        connection.ensure_connection()
        raw = connection.connection  # the psycopg.Connection under Django's wrapper
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            if datetimes or jsons:
                for row in batch:
                    values = list(row)
                    for i in datetimes:
                        if values[i] is not None:
                            values[i] = values[i].replace(tzinfo=PLUS_8)
                    for i in jsons:
                        values[i] = json.dumps(values[i])
                    copy.write_row(values)
            else:
                for row in batch:
                    copy.write_row(row)


class BulkCreateWriter(Writer):
    """Model instances through bulk_create: the ordinary ORM way, kept as the baseline."""

    def __init__(self, batch_size: int = 1000) -> None:
        super().__init__()
        self.batch_size = batch_size

    def write_table(self, table: str, batch: list[tuple[Any, ...]]) -> None:
        model = MODELS[table]
        kinds = _field_kinds(table)
        cols = COLUMNS[table]
        objs = []
        for row in batch:
            values = {
                c: (_aware(v) if k == "DateTimeField" else v)
                for c, v, k in zip(cols, row, kinds, strict=True)
            }
            objs.append(model(**values))
        model._default_manager.bulk_create(objs, batch_size=self.batch_size)


class SaveWriter(Writer):
    """One save() per row: the naive way, for the benchmark's baseline only."""

    def write_table(self, table: str, batch: list[tuple[Any, ...]]) -> None:
        model = MODELS[table]
        kinds = _field_kinds(table)
        cols = COLUMNS[table]
        for row in batch:
            values = {
                c: (_aware(v) if k == "DateTimeField" else v)
                for c, v, k in zip(cols, row, kinds, strict=True)
            }
            model(**values).save(force_insert=True)


def next_ids() -> dict[str, int]:
    """The first free primary key per table (max + 1)."""
    result = {}
    for table, model in MODELS.items():
        top = model._default_manager.aggregate(top=models.Max("pk"))["top"]
        result[table] = (top or 0) + 1
    return result


def reset_sequences(tables: Sequence[str] = TABLES) -> None:
    """Move the id sequences past the ids the seeder assigned (PostgreSQL; no-op on SQLite)."""
    from django.core.management.color import no_style

    statements = connection.ops.sequence_reset_sql(no_style(), [MODELS[t] for t in tables])
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def writer_for(kind: str) -> Writer:
    """'copy' (PostgreSQL only), 'executemany', 'bulk_create' or 'save'."""
    if kind == "copy":
        if connection.vendor != "postgresql":
            raise ValueError("COPY needs PostgreSQL")
        return CopyWriter()
    return {"executemany": ExecuteManyWriter, "bulk_create": BulkCreateWriter, "save": SaveWriter}[
        kind
    ]()


def default_writer() -> str:
    return "copy" if connection.vendor == "postgresql" else "executemany"
