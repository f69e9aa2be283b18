"""Writing many rows at once: COPY on PostgreSQL, bulk_create elsewhere.

For book-wide jobs (the nightly re-scoring) that write hundreds of thousands of rows: Django's
bulk_create sends one INSERT per batch with a parameter per value, COPY streams the rows. The
callers own the transaction and the content; these helpers only move rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def copy_supported() -> bool:
    return connection.vendor == "postgresql"


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys from the table's sequence (PostgreSQL), so rows written by
    COPY can be referred to (a limit decision names its score) without reading them back."""
    if count <= 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [table, column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_insert(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """COPY `rows` (values in the order of `fields`, attribute names such as "borrower_id";
    JSON columns as JSON text) into the model's table; returns how many were written.

    PostgreSQL only. A row breaking a constraint fails the whole COPY (and the caller's
    transaction): callers leave out what is already there first.
    """
    meta = model._meta
    by_attname = {f.attname: str(f.column) for f in meta.concrete_fields}
    columns = ", ".join(connection.ops.quote_name(by_attname[f]) for f in fields)
    written = 0
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(
            f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
                written += 1
    return written
