"""COPY in PostgreSQL's text format from lines built by the caller (book-wide runs).

lending.bulk.copy_insert adapts every value of every row (write_row); a run's score and
decision rows share most of their columns (the run, the time, the model), so their callers
format each row as one string, the shared columns once, and stream the lines in a few writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models

NULL = "\\N"
_BATCH = 5000  # lines per write


def copy_text(value: str) -> str:
    """A text value as COPY's text format reads it (backslash, tab, newline, CR escaped)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\\", "\\\\").replace("\t", "\\t")
        value = value.replace("\n", "\\n").replace("\r", "\\r")
    return value


def copy_lines(model: type[models.Model], fields: Sequence[str], lines: Sequence[str]) -> None:
    """COPY `lines` into the model's table (PostgreSQL): each line a row of `fields` (field
    or attribute names), tab-separated, ending in a newline, values as copy_text gives them,
    NULL as NULL."""
    meta = model._meta
    quote = connection.ops.quote_name
    by_name = {n: str(f.column) for f in meta.concrete_fields for n in (f.name, f.attname)}
    columns = ", ".join(quote(by_name[f]) for f in fields)
    with connection.cursor() as cursor:
        sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for start in range(0, len(lines), _BATCH):
                copy.write("".join(lines[start : start + _BATCH]))
