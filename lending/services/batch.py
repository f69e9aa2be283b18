"""A batch of book changes in one transaction (event ingestion): rows read once, written once.

Event ingestion applies hundreds of events per transaction through the same services a single
event uses. Run one by one, each service looks up the rows it needs (the line, the card, the
device, the loan and its schedule, whether a reference is new), writes each row at once, and
re-reads the line's drawdowns to bring `used` and the oldest unpaid due date up to date: five
to six statements an event. Inside `book_batch` the services instead work on the batch's
instances of the rows of the borrowers whose lines the caller has locked:

- their lines (`_lock_line`), the very instances the previous service changed;
- their cards and devices, read and locked once for the batch (`seen_of`);
- the loans the batch repays, with their schedules, read and locked once (`repaid_loan`);
- which customer and loan numbers and payment references are new, one look-up each;
- the loans the batch itself pays out, with their schedules, kept as they are created;
- the borrowers it registers, with their new lines, held like the locked ones.

New rows of these borrowers (`insert`) get their ids at once (reserved from the table's
sequence on PostgreSQL) and are written by COPY when the block ends; updates of the batch's
instances (`save`) too: one statement per table, not one per row. A line's `used` and oldest
unpaid due date (`line_totals`) come from the batch's own loans of the line plus, read once
per line, the totals of its other active loans, which nothing in the batch changes. A batch of
a few events (`defer_inserts` False) and SQLite insert at once; the rest is the same.

The services behave exactly as outside a batch: the same checks, refusals, rows, audit rows
and answers; only when the rows reach the database differs
(monitoring/tests/test_ingest_unit_of_work.py compares the two, row by row). Nothing inside
the block may read these rows back with a query: the services ask the batch instead.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import EllipsisType
from typing import Any, TypeVar

from django.db import connection, router, transaction
from django.db.models import Min, Model, OuterRef, QuerySet, Subquery, Sum

from core.bulk import rows_update
from core.prepared import Prepared
from lending.bulk import copy_insert, reserve_ids
from lending.choices import DrawdownStatus
from lending.models import (
    ZERO,
    BankAccount,
    Borrower,
    CreditLine,
    Device,
    Drawdown,
    Instalment,
    LimitChange,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)

Payment = TypeVar("Payment", Repayment, TransferOut)

# The order new rows are written in at the end: a row after the rows it refers to.
INSERT_ORDER: tuple[type[Model], ...] = (
    Borrower,
    CreditLine,
    LimitChange,
    BankAccount,
    Device,
    Drawdown,
    Instalment,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)
# Ids reserved from a sequence at a time (PostgreSQL): one statement per this many new rows
# (a batch of 1,000 events pays out a few hundred loans of a dozen instalments each).
RESERVE_BLOCK = 500


@dataclass
class _Batch:
    lines: dict[int, CreditLine]  # by borrower id, locked by the caller
    new_loans: set[str]  # loan numbers the book does not have
    new_customers: set[str]  # customer numbers the book does not have
    defer_inserts: bool  # new rows written at the end (ids reserved), or at once
    loans: dict[str, Drawdown]  # repaid (locked) and new loans of `lines`, by loan number
    schedules: dict[int, list[Instalment]]  # their instalments by drawdown id, by seq
    line_loans: dict[int, list[Drawdown]]  # the same loans by line id
    wanted_references: set[str]  # payment references the batch may record
    # Cards and devices of the borrowers of `lines`, by model, borrower id, then card or
    # device id: read (and locked) the first time a service asks for either.
    seen: dict[type[Model], dict[int, dict[str, Any]]] = field(default_factory=dict)
    # Of wanted_references, those the book does not have, by model: read the first time asked.
    new_references: dict[type[Model], set[str]] = field(default_factory=dict)
    references: dict[tuple[type[Model], str], Model] = field(default_factory=dict)
    customers: dict[str, Borrower] = field(default_factory=dict)  # registered by the batch
    # Totals of each line's other active loans: (principal outstanding, oldest unpaid due).
    line_others: dict[int, tuple[Decimal, date | None]] = field(default_factory=dict)
    inserts: dict[type[Model], dict[int, Model]] = field(default_factory=dict)
    updates: dict[int, tuple[Model, set[str]]] = field(default_factory=dict)
    reserved: dict[type[Model], list[int]] = field(default_factory=dict)
    # The instances the batch holds, by id(): kept here too, so no id is reused while the
    # batch lasts.
    owned: dict[int, Model] = field(default_factory=dict)

    def own(self, instance: Any) -> Any:
        self.owned[id(instance)] = instance
        return instance


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar(
    "riskops_book_batch", default=None
)


def _current() -> _Batch | None:
    batch = _batch.get()
    # Only inside the caller's transaction: a service run after the block (or in another
    # transaction) reads and writes as usual.
    if batch is None or not transaction.get_connection().in_atomic_block:
        return None
    return batch


@contextmanager
def book_batch(
    *,
    lines: Iterable[CreditLine],
    new_loans: Iterable[str] = (),
    repaid_loans: Iterable[str] = (),
    references: Iterable[str] = (),
    new_customers: Iterable[str] = (),
    defer_inserts: bool = True,
) -> Iterator[None]:
    """Run the block's services as one batch (see the module docstring).

    The caller holds the row locks of `lines` in its transaction and changes those lines only
    through these instances until the block ends. `new_loans` are loan numbers it has just
    found the book does not have; `repaid_loans` the loans the block's repayments name (those
    of these lines are read and locked here, line first as everywhere); `references` the
    payment references the block may record; `new_customers` customer numbers the book does
    not have (a borrower registered in the block is the batch's, line and all, for the rest
    of it: `registered`). With `defer_inserts` False, new rows are written
    at once, as outside a batch (for a batch of a few events, where reserving ids costs more
    than the inserts). A block left by an error writes nothing more: the caller's transaction
    rolls back.
    """
    held = {line.borrower_id: line for line in lines}
    borrower_ids = list(held)
    wanted_loans = set(repaid_loans)
    loans = (
        {
            drawdown.loan_no: drawdown
            for drawdown in Drawdown.objects.select_for_update(of=("self",))
            .select_related("borrower")
            .filter(loan_no__in=wanted_loans, borrower_id__in=borrower_ids)
        }
        if wanted_loans and borrower_ids
        else {}
    )
    schedules: dict[int, list[Instalment]] = {drawdown.pk: [] for drawdown in loans.values()}
    if loans:
        for instalment in (
            Instalment.objects.select_for_update()
            .filter(drawdown_id__in=list(schedules))
            .order_by("drawdown_id", "seq")
        ):
            schedules[instalment.drawdown_id].append(instalment)
    line_loans: dict[int, list[Drawdown]] = {}
    for drawdown in loans.values():
        line_loans.setdefault(drawdown.line_id, []).append(drawdown)
    batch = _Batch(
        lines=held,
        new_loans=set(new_loans),
        new_customers=set(new_customers),
        defer_inserts=defer_inserts and connection.vendor == "postgresql",
        loans=loans,
        schedules=schedules,
        line_loans=line_loans,
        wanted_references=set(references),
    )
    for line in held.values():
        batch.own(line)
    for drawdown in loans.values():
        batch.own(drawdown)
        for instalment in schedules[drawdown.pk]:
            batch.own(instalment)
    token = _batch.set(batch)
    try:
        yield
    finally:
        _batch.reset(token)
    _flush(batch)


def _flush(batch: _Batch) -> None:
    """Write the new rows (in INSERT_ORDER), then the kept updates: one statement (or a few)
    per table and set of fields."""
    for model in INSERT_ORDER:
        rows = list(batch.inserts.get(model, {}).values())
        if rows:
            _write_new(model, rows)
    groups: dict[tuple[type[Model], tuple[str, ...]], list[Model]] = {}
    for instance, kept in batch.updates.values():
        groups.setdefault((type(instance), tuple(sorted(kept))), []).append(instance)
    for (model, fields), rows in groups.items():
        rows_update(model, rows, fields)


def _write_new(model: type[Model], rows: list[Model]) -> None:
    """Insert these rows, ids included, as they stand: by COPY (PostgreSQL, where the batch
    defers inserts; Django's bulk_create spends more time preparing each value than COPY
    takes to send the rows)."""
    fields = [field.attname for field in model._meta.concrete_fields]
    copy_insert(model, fields, ([getattr(row, name) for name in fields] for row in rows))
    for row in rows:
        row._state.adding = False  # saved, as bulk_create would leave it
        row._state.db = router.db_for_write(model)


# --- what the services ask ----------------------------------------------------------------


def insert(*instances: Model, borrower_id: int) -> None:
    """Write these new rows of one model (bulk_create: each gets its id). Inside a batch
    holding the borrower's line, the batch then holds them (their later updates wait for its
    end), and when it defers inserts they get their ids now, reserved from the table's
    sequence, and are written at its end."""
    if not instances:
        return
    batch = _current()
    holder = batch if batch is not None and borrower_id in batch.lines else None
    model = type(instances[0])
    if holder is None or not holder.defer_inserts:
        model._default_manager.bulk_create(instances)
    else:
        _keep_for_the_end(holder, instances)
    if holder is not None:
        for instance in instances:
            holder.own(instance)


def _keep_for_the_end(batch: _Batch, instances: Sequence[Model]) -> None:
    """Give these new rows of one model ids reserved from its sequence and keep them for the
    batch's end (_flush)."""
    model = type(instances[0])
    reserved = batch.reserved.setdefault(model, [])
    if len(reserved) < len(instances):
        reserved += reserve_ids(model, max(RESERVE_BLOCK, len(instances)))
    kept = batch.inserts.setdefault(model, {})
    for instance in instances:
        instance.pk = reserved.pop(0)
        kept[id(instance)] = instance


def save(instance: Model, fields: Iterable[str]) -> None:
    """instance.save(update_fields=fields), or, for an instance the batch holds, at the end of
    the batch (a row not written yet is simply written as it is then)."""
    fields = list(fields)
    if not fields:
        return
    batch = _current()
    if batch is None or id(instance) not in batch.owned:
        instance.save(update_fields=fields)
        return
    if id(instance) in batch.inserts.get(type(instance), {}):
        return
    _, kept = batch.updates.setdefault(id(instance), (instance, set()))
    kept.update(fields)


def held_line(borrower_id: int) -> CreditLine | None:
    """The borrower's line, locked by the batch's caller; None outside a batch or for a line
    it does not hold."""
    batch = _current()
    return batch.lines.get(borrower_id) if batch is not None else None


def customer_is_new(customer_no: str) -> bool:
    """Whether the batch knows the book has no borrower `customer_no` (answered once: a
    second registration finds the first, with `customer_of_batch`)."""
    return _new_once("new_customers", customer_no)


def customer_of_batch(customer_no: str) -> Borrower | None:
    """A borrower the batch registered (its line cached on it); None otherwise."""
    batch = _current()
    if batch is None:
        return None
    return batch.customers.get(customer_no)


def registered(borrower: Borrower, line: CreditLine) -> None:
    """Take a borrower just registered, and their new line, as the batch's: inserted with
    `insert` (at the end, when the batch defers inserts), the line held as if the caller had
    locked it (no one else sees it before the batch commits), with no other loans."""
    batch = _current()
    if batch is None or not batch.defer_inserts:
        return
    batch.customers[borrower.customer_no] = borrower
    batch.lines[borrower.pk] = batch.own(line)
    batch.line_others[line.pk] = (ZERO, None)
    for by_borrower in batch.seen.values():
        by_borrower[borrower.pk] = {}


def insert_registration(borrower: Borrower, line: CreditLine) -> None:
    """Write a new borrower and their line: at the end of a batch that defers inserts (ids
    reserved now), else at once."""
    batch = _current()
    if batch is None or not batch.defer_inserts:
        borrower.save(force_insert=True)
        line.save(force_insert=True)
        return
    _keep_for_the_end(batch, [borrower])
    _keep_for_the_end(batch, [line])
    batch.own(borrower)
    batch.own(line)
    line.borrower = borrower  # the id reserved above, and the reverse cache: borrower.line


def loan_is_new(loan_no: str) -> bool:
    """Whether the batch knows the book has no loan `loan_no` (answered once: a second
    drawdown of the same number finds the first, with `loan_of_batch`)."""
    return _new_once("new_loans", loan_no)


def _new_once(known_new: str, key: str) -> bool:
    """Whether `key` is in the batch's set `known_new`, taking it out: the second time the
    same key is asked about, the batch holds what the first created."""
    batch = _current()
    keys: set[str] | None = getattr(batch, known_new) if batch is not None else None
    if keys is None or key not in keys:
        return False
    keys.discard(key)
    return True


def loan_of_batch(loan_no: str) -> Drawdown | None:
    """A loan the batch holds (repaid or paid out by it); None otherwise."""
    batch = _current()
    return batch.loans.get(loan_no) if batch is not None else None


def loan_paid_out(drawdown: Drawdown, schedule: list[Instalment]) -> None:
    """Hold a loan the batch has just paid out (inserted with `insert`), with its schedule:
    a later repayment of the batch finds it, and its line's totals count it."""
    batch = _current()
    if batch is None or drawdown.borrower_id not in batch.lines:
        return
    batch.loans[drawdown.loan_no] = drawdown
    batch.schedules[drawdown.pk] = schedule
    batch.line_loans.setdefault(drawdown.line_id, []).append(drawdown)


def repaid_loan(loan_no: str) -> tuple[Drawdown, list[Instalment]] | None:
    """A loan the batch holds, locked with its borrower, and its instalments by seq; None
    when the batch does not hold it."""
    drawdown = loan_of_batch(loan_no)
    if drawdown is None:
        return None
    batch = _current()
    assert batch is not None  # noqa: S101 (loan_of_batch found a batch)
    return drawdown, batch.schedules[drawdown.pk]


def reference_of_batch(model: type[Payment], reference: str) -> Payment | None | EllipsisType:
    """What the batch knows of a payment reference: the row it recorded with it, None when
    the book has none (known from the batch's look-up), or ... when it does not know."""
    batch = _current()
    if batch is None:
        return ...
    recorded = batch.references.get((model, reference))
    if isinstance(recorded, model):
        return recorded
    if model not in batch.new_references:
        wanted = batch.wanted_references
        known = model._default_manager.filter(reference__in=wanted).values_list(
            "reference", flat=True
        )
        batch.new_references[model] = wanted - set(known) if wanted else set()
    return None if reference in batch.new_references[model] else ...


def reference_recorded(instance: Repayment | TransferOut) -> None:
    """Note the payment the batch has just recorded under its reference."""
    batch = _current()
    if batch is not None:
        batch.references[(type(instance), instance.reference)] = instance


def seen_of(model: type[BankAccount] | type[Device], borrower_id: int) -> dict[str, Any] | None:
    """The borrower's cards (or devices) by number, as the batch holds them (add the ones you
    create); None when the batch does not hold this borrower's."""
    batch = _current()
    if batch is None or borrower_id not in batch.lines:
        return None
    if model not in batch.seen:
        # The first time either is asked for: every held borrower's, in one statement.
        by_borrower: dict[int, dict[str, Any]] = {pk: {} for pk in batch.lines}
        key = "card_no" if model is BankAccount else "device_id"
        for row in model._default_manager.select_for_update().filter(
            borrower_id__in=list(batch.lines)
        ):
            by_borrower[row.borrower_id][getattr(row, key)] = batch.own(row)
        batch.seen[model] = by_borrower
    return batch.seen[model][borrower_id]


def line_totals(line: CreditLine) -> tuple[Decimal, date | None] | None:
    """(used, oldest unpaid due date) of a line the batch holds, from its loans as they stand
    in the batch; None outside a batch or for a line it does not hold."""
    batch = _current()
    if batch is None or batch.lines.get(line.borrower_id) is not line:
        return None
    own = [d for d in batch.line_loans.get(line.pk, []) if d.status == DrawdownStatus.ACTIVE]
    if line.pk not in batch.line_others:
        # The first time: for every line the batch holds loans of (one statement each for
        # all of them); a line whose only loans the batch paid out itself, on its own later.
        _others_read(batch, {*batch.line_loans, line.pk} - set(batch.line_others))
    total, oldest = batch.line_others[line.pk]
    used = total + sum((d.principal_outstanding for d in own), ZERO)
    dues = [
        instalment.due_date
        for d in own
        for instalment in batch.schedules[d.pk]
        if instalment.paid_off_at is None
    ]
    if oldest is not None:
        dues.append(oldest)
    return used, min(dues, default=None)


def _others_read(batch: _Batch, line_ids: set[int]) -> None:
    """batch.line_others for these lines: the totals of their active loans the batch does not
    hold (which nothing in the batch changes), in one statement."""
    mine = tuple(sorted(drawdown.pk for drawdown in batch.loans.values()))
    # The loans to leave out, once per subquery (a prepared argument is one parameter).
    arguments = {"lines": tuple(sorted(line_ids)), "mine": mine, "mine_too": mine}
    # Precompiled for a batch of a few events (a single repayment), the QuerySet otherwise.
    few = len(line_ids) <= PREPARED_UP_TO and len(arguments["mine"]) <= PREPARED_UP_TO
    rows = OTHERS_TOTALS.rows(**arguments) if few else OTHERS_TOTALS.build(**arguments)
    for row in rows:
        batch.line_others[row["pk"]] = (row["total"] or ZERO, row["oldest"])


def _others_totals(
    lines: tuple[int, ...], mine: tuple[int, ...], mine_too: tuple[int, ...]
) -> QuerySet[Any, Any]:
    """Per line: the principal outstanding of its active loans other than `mine`, and the
    oldest due date of their unpaid instalments."""
    others = Drawdown.objects.filter(line=OuterRef("pk"), status=DrawdownStatus.ACTIVE).exclude(
        pk__in=mine
    )
    unpaid = Instalment.objects.filter(
        drawdown__line=OuterRef("pk"), drawdown__status=DrawdownStatus.ACTIVE, paid_off_at=None
    ).exclude(drawdown__in=mine_too)
    return (
        CreditLine.objects.filter(pk__in=lines)
        .annotate(
            total=Subquery(
                others.values("line").annotate(total=Sum("principal_outstanding")).values("total")
            ),
            oldest=Subquery(
                unpaid.values("drawdown__line").annotate(oldest=Min("due_date")).values("oldest")
            ),
        )
        .order_by()
        .values("pk", "total", "oldest")
    )


OTHERS_TOTALS = Prepared(_others_totals, {"lines": "ints", "mine": "ints", "mine_too": "ints"})
# Lines and loans up to which OTHERS_TOTALS runs precompiled.
PREPARED_UP_TO = 4
