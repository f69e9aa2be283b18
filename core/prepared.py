"""ORM queries compiled once per process, then run with new values: for hot single-row paths.

Why: on the drawdown check's and a single event's path, turning a QuerySet into SQL costs
about 1 ms a query on this machine, against 0.15 ms for the round trip itself; a check runs
some fifteen. A `Prepared` builds its QuerySet once with placeholder values, keeps the SQL,
the positions of those values among its parameters and Django's own result converters, and on
each call only swaps in the new values, executes and converts: the same SQL, the same rows
and types as the QuerySet, none of the compiling.

The QuerySet is the single definition: `build(**arguments)` returns it (`.values()`, or
`.values_list()` without annotations); for many ids the caller simply runs it. An argument is
an int, a string, an aware datetime, or a tuple of ints or strings for `__in` (compiled once
per length: keep this for a few values). An argument the compiled parameters do not hold
exactly once is refused when the query is first prepared, never guessed at.

Relies on the SQL compiler's interface (get_compiler, as_sql, select, col_count,
get_converters), stable since Django 1.8. The converters are the compiler's, applied with the
calling thread's connection; they read only settings (the time zone), never a connection's
state. core/tests/test_prepared.py compares prepared queries with their QuerySets on both
profiles, and monitoring's rule tests run through them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ValuesIterable, ValuesListIterable

# Placeholders no real argument equals: negative ids, and moments in 1901.
_INT_BASE = -7_300_000_001
Compiled = tuple[
    str, list[Any], list[tuple[str, int | None] | None], dict[int, Any], list[str] | None
]


def _placeholder_int(n: int) -> int:
    return _INT_BASE - n


def _placeholder_at(n: int) -> datetime:
    return datetime(1901, 1, 1, 0, 0, n % 60, n, tzinfo=UTC)


def _placeholder_str(n: int) -> str:
    return f"\x1fprepared-{n}\x1f"


TUPLES = frozenset({"ints", "strs"})
MAKERS: dict[str, Callable[[int], Any]] = {
    "int": _placeholder_int,
    "ints": _placeholder_int,
    "at": _placeholder_at,
    "str": _placeholder_str,
    "strs": _placeholder_str,
}


class Prepared:
    """One QuerySet shape, compiled once per database and per length of its tuple arguments.

    `kinds` names each argument of `build` and its kind: "int", "str", "at" (an aware
    datetime compared with a DateTimeField), or "ints" and "strs" (tuples, for `__in`)."""

    def __init__(self, build: Callable[..., QuerySet[Any, Any]], kinds: dict[str, str]) -> None:
        if set(kinds.values()) - set(MAKERS):
            raise ValueError(f"unknown argument kinds in {kinds}")
        self.build = build
        self.kinds = kinds
        self._compiled: dict[tuple[Any, ...], Compiled] = {}
        self._lock = threading.Lock()

    def _placeholders(self, lengths: tuple[int, ...]) -> dict[str, Any]:
        placeholders: dict[str, Any] = {}
        n = 0
        remaining = list(lengths)
        for name, kind in self.kinds.items():
            make = MAKERS[kind]
            if kind in TUPLES:
                placeholders[name] = tuple(make(n + i) for i in range(remaining[0]))
                n += remaining.pop(0)
            else:
                placeholders[name] = make(n)
                n += 1
        return placeholders

    def _compile(self, using: str, lengths: tuple[int, ...]) -> Compiled:
        """SQL, its parameters, which argument goes where, converters, the dicts' keys."""
        connection = connections[using]
        placeholders = self._placeholders(lengths)
        queryset = self.build(**placeholders)
        query = queryset.query
        if queryset._iterable_class is ValuesIterable:  # noqa: SLF001  (what .values() made)
            # As ValuesIterable names a row's columns.
            names: list[str] | None = (
                list(query.selected)
                if query.selected
                else [*query.extra_select, *query.values_select, *query.annotation_select]
            )
        elif queryset._iterable_class is ValuesListIterable and not query.annotation_select:  # noqa: SLF001
            names = None
        else:
            raise ValueError("Prepared needs .values() or .values_list() without annotations")
        compiler = query.get_compiler(using=using)
        sql, compiled_params = compiler.as_sql()
        params = list(compiled_params)
        slots: list[tuple[str, int | None] | None] = [None] * len(params)
        for name, kind in self.kinds.items():
            values = placeholders[name] if kind in TUPLES else (placeholders[name],)
            for index, value in enumerate(values):
                if kind == "at":
                    value = connection.ops.adapt_datetimefield_value(value)
                found = [i for i, p in enumerate(params) if type(p) is type(value) and p == value]
                if len(found) != 1:
                    raise ValueError(f"argument {name} is not exactly one parameter of the query")
                slots[found[0]] = (name, index if kind in TUPLES else None)
        fields = [s[0] for s in compiler.select[0 : compiler.col_count]]
        return sql, params, slots, compiler.get_converters(fields), names

    def rows(self, **arguments: Any) -> list[Any]:
        """What `list(build(**arguments))` gives: dicts for .values(), tuples for .values_list()
        (on the default database, as the QuerySet would run)."""
        return rows_together((self, arguments))[0]

    def _bound(self, arguments: dict[str, Any]) -> Bound | None:
        """The SQL and values to run for these arguments, with how to convert its rows; None
        when an argument is an empty tuple (the QuerySet itself must run)."""
        using = DEFAULT_DB_ALIAS
        lengths = tuple(len(arguments[n]) for n, k in self.kinds.items() if k in TUPLES)
        if 0 in lengths:
            # An empty `__in` changes the SQL's shape (Django drops or empties that branch):
            # the QuerySet itself knows how.
            return None
        connection = connections[using]
        key = (using, connection.vendor, lengths)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(using, lengths)
            with self._lock:
                self._compiled[key] = compiled
        sql, params, slots, converters, names = compiled
        values = list(params)
        for i, slot in enumerate(slots):
            if slot is not None:
                name, index = slot
                value = arguments[name] if index is None else arguments[name][index]
                if value is None:
                    # The ORM would write IS NULL where this SQL says = NULL: never the same.
                    raise ValueError(f"argument {name} is None; a prepared query needs a value")
                if self.kinds[name] == "at":
                    value = connection.ops.adapt_datetimefield_value(value)
                values[i] = value
        return sql, values, converters, names


# A prepared query bound to its values: SQL, values, converters, the dicts' keys.
Bound = tuple[str, list[Any], dict[int, Any], list[str] | None]


def rows_together(*calls: tuple[Prepared, dict[str, Any]]) -> list[list[Any]]:
    """The rows of several prepared queries (each as Prepared.rows gives them), in order.

    On PostgreSQL they are sent together in one pipeline: one round trip for all, where each
    would wait for its own (the histories of a single event's borrower are eight small
    queries). Elsewhere they run one after the other.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    bound = [prepared._bound(arguments) for prepared, arguments in calls]  # noqa: SLF001
    fetched: list[list[Any] | None] = [None] * len(calls)
    runnable = [(i, b) for i, b in enumerate(bound) if b is not None]
    if connection.vendor == "postgresql" and len(runnable) > 1:
        connection.ensure_connection()
        with connection.connection.pipeline():
            cursors = []
            for i, (sql, values, _converters, _names) in runnable:
                cursor = connection.cursor()
                cursor.execute(sql, values)
                cursors.append((i, cursor))
            for i, cursor in cursors:
                fetched[i] = cursor.fetchall()
                cursor.close()
    out: list[list[Any]] = []
    for (prepared, arguments), this, rows in zip(calls, bound, fetched, strict=True):
        if this is None:
            out.append(list(prepared.build(**arguments)))
            continue
        sql, values, converters, names = this
        if rows is None:
            with connection.cursor() as cursor:
                cursor.execute(sql, values)
                rows = cursor.fetchall()
        out.append(_converted(connection, rows, converters, names))
    return out


def _converted(
    connection: Any, fetched: list[Any], converters: dict[int, Any], names: list[str] | None
) -> list[Any]:
    """Rows as the QuerySet gives them: its converters applied, dicts for .values()."""
    out: list[Any] = []
    for row in fetched:
        converted = list(row)
        for position, (functions, expression) in converters.items():
            value = converted[position]
            for function in functions:
                value = function(value, expression, connection)
            converted[position] = value
        out.append(dict(zip(names, converted, strict=True)) if names else tuple(converted))
    return out


def model_rows(model: type[Model], rows: list[dict[str, Any]]) -> list[Any]:
    """Instances of `model` from rows of a prepared `.values(*every concrete attname)`, as the
    QuerySet would build them (Model.from_db): for a hot path that needs instances."""
    names = [field.attname for field in model._meta.concrete_fields]
    return [model.from_db(DEFAULT_DB_ALIAS, names, [row[name] for name in names]) for row in rows]


def concrete_attnames(model: type[Model]) -> list[str]:
    """The attnames `model_rows` reads, for the prepared query's `.values()`."""
    return [field.attname for field in model._meta.concrete_fields]
