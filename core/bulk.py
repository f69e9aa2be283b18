"""Rows changed in memory, written back in a few statements: `rows_update`.

Why not Django's bulk_update: it builds one CASE WHEN per row and field, which PostgreSQL
takes longer to parse and plan than the update itself (a batch of 500 events spent more time
compiling its CASE than running the rest of its statements). On PostgreSQL this writes
`UPDATE t SET f = v.f FROM (VALUES (...), ...) AS v WHERE t.pk = v.pk`, each value cast to
its column's type; elsewhere (SQLite) it is bulk_update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Field, Model

# Rows per statement: 250 rows of a few columns keep a statement well under the 65,535
# parameters PostgreSQL's protocol allows.
ROWS_PER_STATEMENT = 250


def rows_update(model: type[Model], rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Write `fields` (names, as for update_fields) of these saved instances of `model`.

    Each row is written once, by primary key, with the values it holds in memory; no
    signals are sent and no other column is touched, as with save(update_fields=...).
    """
    if not rows or not fields:
        return
    using = router.db_for_write(model)
    connection = connections[using]
    if connection.vendor != "postgresql":
        model._default_manager.db_manager(using).bulk_update(
            rows, list(fields), batch_size=ROWS_PER_STATEMENT
        )
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns: list[Field[Any, Any]] = []
    for name in ["pk", *fields]:
        field = meta.pk if name == "pk" else meta.get_field(name)
        if not isinstance(field, Field):
            raise TypeError(f"{model.__name__}.{name} is not a column")
        columns.append(field)
    pk = columns[0]
    casts = ", ".join(f"%s::{field.db_type(connection)}" for field in columns)
    aliases = ", ".join(quote(str(field.column)) for field in columns)
    assignments = ", ".join(
        f"{quote(str(field.column))} = v.{quote(str(field.column))}" for field in columns[1:]
    )
    table = quote(meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            params: list[Any] = []
            for row in chunk:
                params += [
                    field.get_db_prep_save(getattr(row, field.attname), connection)
                    for field in columns
                ]
            values = ", ".join([f"({casts})"] * len(chunk))
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} "  # noqa: S608 (names from the model)
                f"FROM (VALUES {values}) AS v({aliases}) "
                f"WHERE t.{quote(str(pk.column))} = v.{quote(str(pk.column))}",
                params,
            )
