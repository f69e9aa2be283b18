"""Writing the audit log, and knowing which request, task or command a change came from.

Services call `audit()` (or `audit_bulk()` for many rows at once) inside their own transaction.
The request middleware, the Celery task_prerun hook and management commands set the context
(source, reference, IP) in a context variable, so a service never needs the request to record
where it was called from.

The hash chain: every row stores `prev_hash`, the `row_hash` of the row before it (by id), and
`row_hash` = SHA-256 over a version tag, `prev_hash` and a canonical serialisation of the row's
content (`canonical_content`). Altering, removing or inserting a row in the middle breaks the
chain at that row, which `manage.py audit_verify` (`verify_chain`) reports. Appends are
serialized so two writers never chain onto the same tail: a transaction-level advisory lock
on PostgreSQL, held until the writing transaction commits; on SQLite the IMMEDIATE
transactions (settings) already let one writer in at a time. Cutting rows off the *end* of the
chain leaves a valid shorter chain; `audit_verify` prints the head so it can be recorded
elsewhere (a ticket, a daily report) and compared later.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connections, models, router, transaction
from django.utils import timezone
from django.utils.ipv6 import clean_ipv6_address

from accounts.choices import AuditSource

if TYPE_CHECKING:
    from accounts.models import AuditEvent, User


@dataclass(frozen=True)
class AuditContext:
    source: str = AuditSource.SYSTEM
    reference: str = ""
    ip_address: str | None = None


# The default is a frozen dataclass, so sharing one instance across contexts is safe.
_context: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "riskops_audit_context",
    default=AuditContext(),  # noqa: B039
)


def set_audit_context(*, source: str, reference: str = "", ip_address: str | None = None) -> None:
    _context.set(AuditContext(source=source, reference=reference, ip_address=ip_address))


def clear_audit_context() -> None:
    _context.set(AuditContext())


def current_audit_context() -> AuditContext:
    return _context.get()


@contextmanager
def audit_context(*, source: str, reference: str = "") -> Iterator[None]:
    """Run a block (a management command, a script) under a given audit source."""
    token = _context.set(AuditContext(source=source, reference=reference or uuid.uuid4().hex))
    try:
        yield
    finally:
        _context.reset(token)


def _jsonable(value: Any) -> Any:
    """Decimals as strings (exact), datetimes as ISO 8601, model instances as their pk."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


# The chain --------------------------------------------------------------------------------------

# The prev_hash of the very first row: 64 zeros, so an empty prev_hash is always a break.
GENESIS_HASH = "0" * 64
# Bumped if the serialisation ever changes; rows keep the version they were hashed with.
HASH_VERSION = b"riskops.audit.v1"
# The PostgreSQL advisory lock key that serializes appends (any fixed 64-bit number, the
# same in every process; "riskaudi" in ASCII).
CHAIN_LOCK_KEY = 0x7269736B61756469


def _canonical_json(value: Any) -> Any:
    """JSON values as they read back from either database.

    PostgreSQL's jsonb keeps numbers as `numeric`: an integral float such as 1e20 reads back
    as the int 100000000000000000000, so integral floats are hashed as ints. Other floats read
    back equal (Python writes the shortest exact decimal). Key order is fixed by sort_keys.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_json(v) for v in value]
    return value


def canonical_content(event: Any) -> bytes:
    """The bytes a row's hash covers: every column but id and the two hashes.

    `event` is an AuditEvent (or a migration's historical one). The timestamp is UTC with
    microseconds, as both databases store it.
    """
    content = {
        "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "borrower_id": event.borrower_id,
        "before": _canonical_json(event.before),
        "after": _canonical_json(event.after),
        "source": event.source,
        "reference": event.reference,
        "ip_address": event.ip_address,
        "note": event.note,
    }
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def compute_row_hash(event: Any, prev_hash: str) -> str:
    """SHA-256 (hex) over the version tag, the previous row's hash and this row's content."""
    digest = hashlib.sha256(HASH_VERSION)
    digest.update(b"\n" + prev_hash.encode("ascii", "replace") + b"\n")
    digest.update(canonical_content(event))
    return digest.hexdigest()


def lock_chain_tail(model: type[models.Model], using: str) -> str:
    """Take the append lock and return the hash the next row must chain onto.

    Call inside a transaction: the PostgreSQL lock is transaction-scoped, so it is held until
    the rows written after it commit (or roll back), and the next writer then reads them as
    the tail. On SQLite the transaction's IMMEDIATE write lock already does this.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        meta = model._meta
        pk = meta.pk.column if meta.pk is not None else "id"
        tail_sql = (
            f"SELECT {quote('row_hash')} FROM {quote(meta.db_table)} "  # noqa: S608 (names)
            f"ORDER BY {quote(str(pk))} DESC LIMIT 1"
        )
        connection.ensure_connection()
        # One round trip for both: the server runs them in order, and the second statement's
        # snapshot is taken once the first holds the lock, so it reads the rows the previous
        # holder committed.
        with (
            connection.connection.pipeline(),
            connection.cursor() as lock,
            connection.cursor() as tail,
        ):
            lock.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
            tail.execute(tail_sql)
            row = tail.fetchone()
        return row[0] if row is not None else GENESIS_HASH
    last = (
        model._default_manager.using(using)
        .order_by("-pk")
        .values_list("row_hash", flat=True)
        .first()
    )
    return last if last is not None else GENESIS_HASH


def chain_append(model: type[models.Model], events: Sequence[Any], using: str) -> list[Any]:
    """Chain unsaved `events` onto the tail, in order, and insert them (one INSERT per batch).

    The caller holds a transaction (audit_bulk opens one). Also used by accounts' data
    migrations with the historical model.
    """
    prev = lock_chain_tail(model, using)
    for event in events:
        event.prev_hash = prev
        event.row_hash = compute_row_hash(event, prev)
        prev = event.row_hash
    return list(model._default_manager.using(using).bulk_create(events))


# Writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    """One audit row to write: what `audit()` takes, for `audit_bulk()`.

    `obj` is the changed object; None for an event about no stored object (a failed login
    for an unknown username), which then names `object_type` itself, or for a bulk writer that
    names the object by `object_type` ("app_label.model") and `object_id` rather than build a
    model instance per row (a book-wide run's thousands of limit changes). `actor_label`
    overrides the label derived from the actor or the audit context.
    """

    action: str
    obj: models.Model | None
    actor: User | None = None
    borrower_id: int | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    object_type: str = ""
    actor_label: str = ""
    object_id: str = ""


def _normal_ip(value: str | None) -> str | None:
    # As the database will hand it back: IPv6 compressed (Django's field does the same on save).
    if value and ":" in value:
        return clean_ipv6_address(value)
    return value or None


@functools.cache
def _attnames(model: type[models.Model]) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields)


def _event(row: AuditRow, ctx: AuditContext, at: datetime) -> AuditEvent:
    from accounts.models import AuditEvent

    if row.actor_label:
        label = row.actor_label
    elif row.actor is not None:
        label = row.actor.get_username()
    else:
        label = ctx.reference.split(":", 1)[0] if ctx.reference else ctx.source
    # Stored as they will read back, so the hash computed now is the hash verified later:
    # _jsonable leaves only JSON's own types (str keys, lists, str/int/float/bool/None), which
    # read back equal (integral floats: canonical_content). The JSON text is kept on the
    # instance (_before_json, _after_json) for COPY to send as it is.
    before = _jsonable(row.before)
    after = _jsonable(row.after)
    before_json = json.dumps(before, ensure_ascii=False)
    after_json = json.dumps(after, ensure_ascii=False)
    values = {
        "id": None,
        "at": at,
        "actor_id": row.actor.pk if row.actor is not None else None,
        "actor_label": label[:150],
        "action": row.action,
        "object_type": row.obj._meta.label_lower if row.obj is not None else row.object_type,
        "object_id": str(row.obj.pk) if row.obj is not None else row.object_id,
        "borrower_id": row.borrower_id,
        "before": before,
        "after": after,
        "source": ctx.source,
        "reference": ctx.reference[:200],
        "ip_address": _normal_ip(ctx.ip_address),
        "note": row.note,
        "prev_hash": "",
        "row_hash": "",
    }
    # Positional, in the model's column order: Django's fast path for building an instance
    # (no keyword matching, no default per field), a third of the cost of keyword arguments
    # in a book-wide run's thousands of rows.
    event = AuditEvent(*[values[name] for name in _attnames(AuditEvent)])
    if row.actor is not None:
        AuditEvent.actor.field.set_cached_value(event, row.actor)
    event._before_json = before_json  # type: ignore[attr-defined]
    event._after_json = after_json  # type: ignore[attr-defined]
    return event


def audit_bulk(rows: Sequence[AuditRow]) -> list[AuditEvent]:
    """Append many audit rows, chained, in one INSERT per batch (a whole-book re-scoring).

    Call it inside the service's transaction, after the changes. Takes the chain's append lock
    until that transaction ends (module docstring): keep the rest of the transaction short.
    """
    from accounts.models import AuditEvent

    if not rows:
        return []
    ctx = _context.get()
    now = timezone.now()
    events = [_event(row, ctx, now) for row in rows]
    using = router.db_for_write(AuditEvent)
    pending = _deferred.get()
    if pending is not None and pending.using == using and pending.active(using):
        pending.events.extend(events)
        return events
    return _append(events, using)


def _append(events: list[AuditEvent], using: str) -> list[AuditEvent]:
    from accounts.models import AuditEvent

    # The caller's transaction (no savepoint: a failed audit row fails the whole change), or a
    # transaction of its own when called outside one: the lock and the rows commit together.
    with transaction.atomic(using=using, savepoint=False):
        if len(events) >= COPY_FROM and connections[using].vendor == "postgresql":
            return _copy_append(events, using)
        return chain_append(AuditEvent, events, using)


@dataclass
class _Pending:
    """Audit rows built inside an audit_deferred() block, written when it ends."""

    using: str
    events: list[AuditEvent] = field(default_factory=list)
    # The transaction the block runs in (Django's savepoint ids identify it): a row audited in
    # a transaction of its own (on_commit hook, another connection) is written at once.
    depth: int = 0

    def active(self, using: str) -> bool:
        connection = connections[using]
        return connection.in_atomic_block and len(connection.savepoint_ids) >= self.depth


_deferred: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar(
    "riskops_audit_deferred", default=None
)


@contextmanager
def audit_deferred(using: str = "default") -> Iterator[None]:
    """Collect the audit rows of a block and append them, chained, in one write at its end.

    For a service that makes many changes in one transaction (event ingestion: a batch of
    hundreds of events, each audited by its lending service): instead of one append lock, tail
    read and INSERT per row, the rows are built as each change happens (with its own time,
    actor and context) and appended together, in the same order, when the block ends without
    an error, still inside the caller's transaction: the chain is the one audit() row by row
    would have written. Must be entered inside that transaction. An error leaves the block
    without writing anything (the transaction rolls back anyway). The AuditEvent returned by
    audit() inside the block has no id until the block ends. Only for a block that any error
    ends as a whole: rows of a savepoint rolled back inside it, the block carrying on, would
    still be written.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("audit_deferred() needs the caller's transaction.")
    pending = _Pending(using=using, depth=len(connection.savepoint_ids))
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
    if pending.events:
        _append(pending.events, using)


# From this many rows on, audit_bulk writes by COPY on PostgreSQL (a book-wide run's limit
# changes: thousands of rows, where bulk_create's per-value parameters and second JSON encoding
# cost more than the hashing); fewer go through bulk_create, as the migrations' chain_append.
COPY_FROM = 50

_COPY_FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "borrower_id",
    "before",
    "after",
    "source",
    "reference",
    "ip_address",
    "note",
    "prev_hash",
    "row_hash",
)


def _copy_append(events: Sequence[AuditEvent], using: str) -> list[AuditEvent]:
    """chain_append by COPY (PostgreSQL): the same chain, the same rows.

    The ids are taken from the table's sequence after the append lock, so they are higher
    than every chained row before and ascend in chain order, as verify_chain walks them. The
    JSON columns go as the text _event encoded (it is what they read back as).
    """
    from accounts.models import AuditEvent

    prev = lock_chain_tail(AuditEvent, using)
    connection = connections[using]
    meta = AuditEvent._meta
    columns = {f.attname: f.column for f in meta.concrete_fields}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(events)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        names = ", ".join(quote(str(columns[f])) for f in _COPY_FIELDS)
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({names}) FROM STDIN") as copy:
            for pk, event in zip(ids, events, strict=True):
                event.pk = pk
                event.prev_hash = prev
                event.row_hash = compute_row_hash(event, prev)
                prev = event.row_hash
                copy.write_row(
                    (
                        pk,
                        event.at,
                        event.actor_id,
                        event.actor_label,
                        event.action,
                        event.object_type,
                        event.object_id,
                        event.borrower_id,
                        event._before_json,  # type: ignore[attr-defined]
                        event._after_json,  # type: ignore[attr-defined]
                        event.source,
                        event.reference,
                        event.ip_address,
                        event.note,
                        event.prev_hash,
                        event.row_hash,
                    )
                )
    for event in events:
        event._state.adding = False
        event._state.db = using
    return list(events)


def audit(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    borrower_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEvent:
    """Append one audit row. Call it inside the service's transaction, after the change.

    `actor` is None for changes the system makes on its own (a scheduled task); the row then
    names the task or command from the audit context.
    """
    row = AuditRow(
        action=action,
        obj=obj,
        actor=actor,
        borrower_id=borrower_id,
        before=before or {},
        after=after or {},
        note=note,
    )
    return audit_bulk([row])[0]


# Verifying -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """What verify_chain found: rows checked, the head, and the first broken row if any."""

    rows: int
    head_id: int | None
    head_hash: str
    broken_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain(*, chunk_size: int = 2000) -> ChainReport:
    """Walk the audit log in id order and report the first row whose chain is broken.

    A row is broken when its prev_hash is not the previous row's row_hash (a row before it was
    removed or inserted, or its prev_hash altered) or when its row_hash does not match its
    content (the row itself was altered).
    """
    from accounts.models import AuditEvent

    expected_prev = GENESIS_HASH
    rows = 0
    head_id: int | None = None
    for event in AuditEvent.objects.order_by("pk").iterator(chunk_size=chunk_size):
        rows += 1
        if event.prev_hash != expected_prev:
            return ChainReport(
                rows, head_id, expected_prev, event.pk, "prev_hash does not match the row before"
            )
        if event.row_hash != compute_row_hash(event, event.prev_hash):
            return ChainReport(
                rows, head_id, expected_prev, event.pk, "row_hash does not match its content"
            )
        expected_prev = event.row_hash
        head_id = event.pk
    return ChainReport(rows, head_id, expected_prev)
