"""The nightly limit policy's decisions for many lines at once: the same writes as the
single-line services in lending.services.lines (the line, its audit row, the notice), in bulk."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import AuditRow, audit_bulk
from lending import bulk, caps
from lending.choices import (
    LimitChangeKind,
    LineStatus,
    NoticeKind,
)
from lending.models import (
    CreditLine,
    LimitChange,
    Notice,
)
from lending.services._common import (
    _money,
    _require_staff,
)

if TYPE_CHECKING:
    from accounts.models import User


# Limit changes, write-offs and closures: managers and above (or the system).
from lending.services.lines import (
    FREEZE_REASON_CODES,
    LIMIT_REASON_CODES,
    _note,
    _reason_code,
    _require_line_decider,
)

# --- the same decisions for many lines at once (the nightly limit policy) ---------------------


@dataclass(frozen=True)
class LineChange:
    """One line's automatic change as the caller read the line: the values it read
    (limit, status, status code and note, lock) guard the write, so a line that moved since is
    skipped, never overwritten. `new_limit` for a limit change; `status_code` for a freeze."""

    borrower_id: int
    line_id: int
    old_limit: Decimal
    status: str
    status_code: str
    status_reason: str
    locked_until: date | None
    note: str = ""
    new_limit: Decimal | None = None
    code: str = ""


def _bulk_notices(rows: list[tuple[int, str, dict[str, Any]]]) -> None:
    now = timezone.now()
    if bulk.copy_supported():
        bulk.copy_insert(
            Notice,
            ("borrower_id", "kind", "params", "created_at"),
            ((b, kind, json.dumps(params), now) for b, kind, params in rows),
        )
    else:
        Notice.objects.bulk_create(
            [Notice(borrower_id=b, kind=k, params=p, created_at=now) for b, k, p in rows],
            batch_size=2000,
        )


# A line's history row in bulk, column by column (the demo's seeder writes the same shape).
LIMIT_CHANGE_FIELDS = (
    "line_id",
    "effective_at",
    "kind",
    "old_limit",
    "new_limit",
    "old_status",
    "new_status",
    "reason_code",
    "automatic",
    "decided_by",
    "approved_by",
)


def _bulk_history(
    applied: Sequence[LineChange],
    *,
    kind: str,
    actor: User | None,
    automatic: bool,
    code: str | None = None,
) -> None:
    """The lines' LimitChange rows for changes just applied (by COPY on PostgreSQL), at the
    same moment; a limit change keeps the status, a freeze the limit. The reason code is each
    change's own, or `code` for all of them."""
    now = timezone.now()
    who = actor.get_username() if actor is not None else ""
    rows = [
        (
            c.line_id,
            now,
            kind,
            c.old_limit,
            c.new_limit if kind == LimitChangeKind.LIMIT else c.old_limit,
            c.status,
            LineStatus.FROZEN if kind == LimitChangeKind.FREEZE else c.status,
            c.code if code is None else code,
            automatic,
            who,
            "",
        )
        for c in applied
    ]
    if not rows:
        return
    if bulk.copy_supported():
        bulk.copy_insert(LimitChange, LIMIT_CHANGE_FIELDS, rows)
    else:
        LimitChange.objects.bulk_create(
            [LimitChange(**dict(zip(LIMIT_CHANGE_FIELDS, row, strict=True))) for row in rows],
            batch_size=2000,
        )


_SEPARATOR, _NULL = "\x1f", "\x1e"


def _joined(values: list[Any]) -> str:
    """Values as one string for string_to_array (None as the NULL marker)."""
    return _SEPARATOR.join(
        _NULL if v is None else (v.isoformat() if isinstance(v, date) else str(v)) for v in values
    )


def _guarded_update(
    changes: Sequence[LineChange], assignments: str, values: dict[str, list[Any]], extra: str
) -> dict[int, tuple[Decimal, date | None]]:
    """UPDATE the lines of `changes` FROM unnest(...) where each still reads as the caller read
    it; returns {line id: (used, locked_until)} of the lines written (PostgreSQL)."""
    table = CreditLine._meta.db_table
    columns = {
        "line_id": ("bigint", [c.line_id for c in changes]),
        "old_limit": ("numeric", [c.old_limit for c in changes]),
        "old_status": ("text", [c.status for c in changes]),
        "old_code": ("text", [c.status_code for c in changes]),
        "old_reason": ("text", [c.status_reason for c in changes]),
        "old_locked": ("date", [c.locked_until for c in changes]),
        **{name: (kind, data) for name, (kind, data) in values.items()},
    }
    names = list(columns)
    # Numbers and dates go as one text parameter per column, split by the database
    # (string_to_array): a typed array costs the client a conversion per element. Text columns
    # go as text[] (a free-text note may hold any character, and '' must stay '').
    arrays = ", ".join(
        f"%({n})s::text[]"
        if columns[n][0] == "text"
        else f"string_to_array(%({n})s, E'\\x1f', E'\\x1e')::{columns[n][0]}[]"
        for n in names
    )
    sql = f"""
        UPDATE {table} AS c SET {assignments}
        FROM unnest({arrays}) AS v({", ".join(names)})
        WHERE c.id = v.line_id AND c.credit_limit = v.old_limit AND c.status = v.old_status
          AND c.status_code = v.old_code AND c.status_reason = v.old_reason
          AND c.locked_until IS NOT DISTINCT FROM v.old_locked AND c.status <> 'closed' {extra}
        RETURNING c.id, c.used, c.locked_until
    """  # noqa: S608 (names from model meta; values are parameters)
    with connection.cursor() as cursor:
        params = {
            n: columns[n][1] if columns[n][0] == "text" else _joined(columns[n][1]) for n in names
        } | {"today": timezone.localdate()}
        cursor.execute(sql, params)
        return {row[0]: (row[1], row[2]) for row in cursor.fetchall()}


def _guarded_update_each(
    changes: Sequence[LineChange], updates: list[dict[str, Any]], automatic: bool
) -> dict[int, tuple[Decimal, date | None]]:
    """The same guarded write one line at a time (SQLite: small books, one writer)."""
    today = timezone.localdate()
    done: dict[int, tuple[Decimal, date | None]] = {}
    for change, update in zip(changes, updates, strict=True):
        lines = CreditLine.objects.filter(
            pk=change.line_id,
            credit_limit=change.old_limit,
            status=change.status,
            status_code=change.status_code,
            status_reason=change.status_reason,
            locked_until=change.locked_until,
        ).exclude(status=LineStatus.CLOSED)
        if automatic:
            lines = lines.filter(Q(locked_until__isnull=True) | Q(locked_until__lte=today))
        if lines.update(**update):
            line = CreditLine.objects.values_list("used", "locked_until").get(pk=change.line_id)
            done[change.line_id] = (line[0], line[1])
    return done


_LINE_TYPE = CreditLine._meta.label_lower  # an audit row's object_type, as audit() names it


@transaction.atomic  # not durable: the nightly limit policy composes it with its decisions
def line_limits_set_bulk(
    *, actor: User | None, changes: Sequence[LineChange], reason_code: str, automatic: bool = True
) -> list[LineChange]:
    """line_limit_set for many lines in one statement: the same rules, the same writes.

    Each line gets `change.new_limit` only if it still reads as the caller read it (limit,
    status, status code and note, lock): a line that moved since is skipped, not clobbered.
    The refusals of line_limit_set are honoured by leaving the line out: a closed line, a
    limit above the product cap or negative, and with automatic=True a line locked after
    today. The same limit again writes nothing. For each line written: the audit row
    "line.limit_changed" (audit_bulk), its LimitChange row (by COPY) and a
    Notice(LIMIT_CHANGED, old, new, reason_code), as line_limit_set writes them. A redelivered
    chunk finds its lines moved and writes nothing twice. Returns the changes applied.

    Raises NotAllowed (a User actor below manager, or inactive), ReasonRequired,
    InvalidChoice (as line_limit_set).
    """
    _require_line_decider(actor)
    code = _reason_code(reason_code, LIMIT_REASON_CODES)
    cap = caps.product_limit_cap()
    wanted = [
        replace(c, new_limit=_money(c.new_limit), note=_note(c.note))
        for c in changes
        if c.new_limit is not None
        and 0 <= c.new_limit <= cap
        and _money(c.new_limit) != c.old_limit
    ]
    if not wanted:
        return []
    if bulk.copy_supported():
        lock = "AND (c.locked_until IS NULL OR c.locked_until <= %(today)s)" if automatic else ""
        done = _guarded_update(
            wanted,
            "credit_limit = v.new_limit",
            {"new_limit": ("numeric", [c.new_limit for c in wanted])},  # type: ignore[dict-item]
            lock,
        )
    else:
        done = _guarded_update_each(
            wanted, [{"credit_limit": c.new_limit} for c in wanted], automatic
        )
    applied = [c for c in wanted if c.line_id in done]
    _bulk_history(applied, kind=LimitChangeKind.LIMIT, actor=actor, automatic=automatic, code=code)
    rows = []
    for c in applied:
        used, locked_until = done[c.line_id]
        rows.append(
            AuditRow(
                action="line.limit_changed",
                obj=None,  # named, not instantiated: thousands of rows in a book-wide run
                object_type=_LINE_TYPE,
                object_id=str(c.line_id),
                actor=actor,
                borrower_id=c.borrower_id,
                before={"credit_limit": c.old_limit, "locked_until": locked_until},
                after={
                    "credit_limit": c.new_limit,
                    "locked_until": locked_until,
                    "reason_code": code,
                    "automatic": automatic,
                    "used": used,
                },
                note=c.note,
            )
        )
    _bulk_notices(
        [
            (
                c.borrower_id,
                NoticeKind.LIMIT_CHANGED,
                {"old": str(c.old_limit), "new": str(c.new_limit), "reason_code": code},
            )
            for c in applied
        ]
    )
    audit_bulk(rows)
    return applied


@transaction.atomic  # not durable: the nightly limit policy composes it with its decisions
def line_freeze_bulk(*, actor: User | None, changes: Sequence[LineChange]) -> list[LineChange]:
    """line_freeze for many lines in one statement (each with its own `change.code`).

    A line is frozen only if it still reads as the caller read it and is active: a frozen or
    closed line is left out (line_freeze refuses both), as is one that moved since. For each
    line frozen: the audit row "line.frozen" (audit_bulk), its LimitChange row (kind freeze;
    automatic when the system freezes) and a Notice(LINE_FROZEN, reason_code), as line_freeze
    writes them. Returns the changes applied.

    Raises NotAllowed (a User actor who is not active risk staff), ReasonRequired,
    InvalidChoice (a code a freeze does not take).
    """
    _require_staff(actor)
    wanted = [
        replace(c, code=_reason_code(c.code, FREEZE_REASON_CODES), note=_note(c.note))
        for c in changes
        if c.status == LineStatus.ACTIVE
    ]
    if not wanted:
        return []
    if bulk.copy_supported():
        done = _guarded_update(
            wanted,
            "status = 'frozen', status_code = v.new_code, status_reason = v.new_reason",
            {
                "new_code": ("text", [c.code for c in wanted]),  # type: ignore[dict-item]
                "new_reason": ("text", [c.note for c in wanted]),  # type: ignore[dict-item]
            },
            "",
        )
    else:
        done = _guarded_update_each(
            wanted,
            [
                {"status": LineStatus.FROZEN, "status_code": c.code, "status_reason": c.note}
                for c in wanted
            ],
            automatic=False,
        )
    applied = [c for c in wanted if c.line_id in done]
    _bulk_history(applied, kind=LimitChangeKind.FREEZE, actor=actor, automatic=actor is None)
    audit_bulk(
        [
            AuditRow(
                action="line.frozen",
                obj=None,
                object_type=_LINE_TYPE,
                object_id=str(c.line_id),
                actor=actor,
                borrower_id=c.borrower_id,
                before={
                    "status": c.status,
                    "status_code": c.status_code,
                    "status_reason": c.status_reason,
                },
                after={
                    "status": LineStatus.FROZEN,
                    "status_code": c.code,
                    "status_reason": c.note,
                },
                note=c.note,
            )
            for c in applied
        ]
    )
    _bulk_notices(
        [(c.borrower_id, NoticeKind.LINE_FROZEN, {"reason_code": c.code}) for c in applied]
    )
    return applied
