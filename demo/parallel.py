"""Bulk seeding on both cores: worker processes generate chunks and COPY them themselves.

Generating the history in Python costs about as much CPU as PostgreSQL spends taking it in, so
two worker processes (forked, each with its own database connection) each generate a chunk,
then write it with COPY and commit. Ids stay deterministic and dense: a worker generates its
chunk with ids counted from 0, then waits its turn (chunks reserve id ranges strictly in chunk
order, right after generating, so the wait is short) and shifts the ids by the reserved
offsets before writing. The result is the same rows, ids included, as the one-process path.
"""

from __future__ import annotations

import multiprocessing as mp
import time as clock
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from multiprocessing.synchronize import Condition
from typing import Any

from django.db import connections, transaction

from demo import book, history, writers
from demo.plan import BookPlan

# Set in each worker by _init (inherited through fork, never pickled).
_state: dict[str, Any] = {}
TURN_TIMEOUT = 600  # seconds a chunk may wait for the previous one to reserve its ids


def _id_columns() -> dict[str, list[tuple[int, int]]]:
    """Per table: (column index, index of the table it refers to) for every id column."""
    tables = list(book.TABLES)
    table_of = {model: name for name, model in writers.MODELS.items()}
    result: dict[str, list[tuple[int, int]]] = {}
    for name, model in writers.MODELS.items():
        fields = {f.attname: f for f in model._meta.concrete_fields}
        refs = []
        for i, column in enumerate(writers.COLUMNS[name]):
            field = fields[column]
            # A relation first: a one-to-one primary key (a borrower's profile) is the
            # borrower's id, not an id of its own.
            if field.is_relation and field.related_model in table_of:
                refs.append((i, tables.index(table_of[field.related_model])))
            elif field.primary_key:
                refs.append((i, tables.index(name)))
        result[name] = refs
    return result


def _init(
    plan: BookPlan,
    chunk_size: int,
    turn: Synchronized,
    failed: Synchronized,
    offsets: SynchronizedArray,
    cond: Condition,
) -> None:
    _state.update(
        plan=plan,
        chunk_size=chunk_size,
        turn=turn,
        failed=failed,
        offsets=offsets,
        cond=cond,
        refs=_id_columns(),
    )
    # The parent closed its connections before forking; this process opens its own.
    connections.close_all()


def shift_ids(rows: book.Rows, base: list[int], refs: dict[str, list[tuple[int, int]]]) -> None:
    """Move a chunk generated with ids from 0 to the id ranges reserved for it: `base` is the
    first id per table (in book.TABLES order), `refs` what _id_columns returns."""
    tables = list(book.TABLES)
    result_shifts = {key: base[tables.index(table)] for key, table in book.RESULT_ID_TABLES.items()}
    for row in rows["event"]:
        result = row[7]  # the API's answer names the rows it wrote, by id
        for key in result.keys() & result_shifts.keys():
            result[key] += result_shifts[key]
    for table in book.TABLES:
        shifts = [(i, base[t]) for i, t in refs[table]]
        batch = rows[table]
        for n, row in enumerate(batch):
            values = list(row)
            for i, shift in shifts:
                if values[i] is not None:
                    values[i] += shift
            batch[n] = tuple(values)


def _work(chunk: int) -> tuple[int, dict[str, int], dict[str, float], float, list[tuple[Any, ...]]]:
    plan: BookPlan = _state["plan"]
    cond: Condition = _state["cond"]
    turn, failed, offsets = _state["turn"], _state["failed"], _state["offsets"]
    try:
        first = chunk * _state["chunk_size"]
        last = min(first + _state["chunk_size"], plan.borrowers)
        started = clock.perf_counter()
        local = book.Ids(dict.fromkeys(book.TABLES, 0))
        rows = history.generate_chunk(plan, first, last, local)
        generated = clock.perf_counter() - started
        with cond:
            if not cond.wait_for(lambda: turn.value == chunk or failed.value, TURN_TIMEOUT):
                raise TimeoutError(f"chunk {chunk} waited too long for its turn")
            if failed.value:
                raise RuntimeError("another chunk failed")
            base = list(offsets)
            for i, table in enumerate(book.TABLES):
                offsets[i] += local.next[table]
            turn.value = chunk + 1
            cond.notify_all()
        shift_ids(rows, base, _state["refs"])
        writer = writers.CopyWriter()
        with transaction.atomic():
            writer.write(rows)
        return last - first, writer.counts, writer.seconds, generated, rows[book.TALLY]
    except BaseException:
        with cond:
            failed.value = 1
            cond.notify_all()
        raise


def seed_parallel(
    plan: BookPlan,
    *,
    start_ids: dict[str, int],
    chunk_size: int,
    workers: int,
    on_chunk: Callable[[int, dict[str, int], dict[str, float], float, list[tuple[Any, ...]]], None],
) -> None:
    """Write the whole plan with `workers` processes; `on_chunk` is told of each chunk done.

    Every chunk commits on its own (bulk mode). The caller's connection is closed first (a
    forked child must not share its socket) and reopens on next use.
    """
    context = mp.get_context("fork")
    turn = context.Value("q", 0)
    failed = context.Value("b", 0)
    offsets = context.Array("q", [start_ids[t] for t in book.TABLES])
    cond = context.Condition()
    connections.close_all()
    n_chunks = -(-plan.borrowers // chunk_size)
    with context.Pool(
        workers, initializer=_init, initargs=(plan, chunk_size, turn, failed, offsets, cond)
    ) as pool:
        for done, counts, seconds, generated, tally in pool.imap(_work, range(n_chunks)):
            on_chunk(done, counts, seconds, generated, tally)
