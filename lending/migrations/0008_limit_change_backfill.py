"""Backfill LimitChange from the audit log: every limit change, freeze, unfreeze and closure of
a line recorded before the history existed, at the moment its audit row was written.

A line whose limit and status never moved gets no row (LimitChange: no row means the opening
limit all along). A status row's limit, and a limit row's status, are the ones in force at
that moment, read from the line's neighbouring rows (or, with none, from the line as it is).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import migrations

ACTIONS = {
    "line.limit_changed": "limit",
    "line.frozen": "freeze",
    "line.unfrozen": "unfreeze",
    "line.closed": "close",
}
BATCH = 5000


def _rows_of_line(line: Any, events: list[Any]) -> list[dict[str, Any]]:
    """One line's history rows, oldest first, from its audit rows (oldest first)."""
    limits = [i for i, e in enumerate(events) if e.action == "line.limit_changed"]
    statuses = [i for i, e in enumerate(events) if e.action != "line.limit_changed"]

    def around(positions: list[int], index: int, key: str, now: Any) -> Any:
        """`key` in force at events[index]: after the last earlier row, else before the next
        later one, else the line's value now."""
        earlier = [i for i in positions if i < index]
        if earlier:
            return events[earlier[-1]].after.get(key, now)
        later = [i for i in positions if i > index]
        if later:
            return events[later[0]].before.get(key, now)
        return now

    rows = []
    for index, event in enumerate(events):
        before, after = event.before or {}, event.after or {}
        kind = ACTIONS[event.action]
        if kind == "limit":
            old_limit = Decimal(str(before["credit_limit"]))
            new_limit = Decimal(str(after["credit_limit"]))
            old_status = new_status = str(around(statuses, index, "status", line.status))
            code = after.get("reason_code") or "manual"
        else:
            old_limit = new_limit = Decimal(
                str(around(limits, index, "credit_limit", line.credit_limit))
            )
            old_status = str(before.get("status", line.status))
            new_status = str(after.get("status", line.status))
            code = after.get("status_code") or "manual"
        rows.append(
            {
                "line_id": line.pk,
                "effective_at": event.at,
                "kind": kind,
                "old_limit": old_limit,
                "new_limit": new_limit,
                "old_status": old_status,
                "new_status": new_status,
                "reason_code": code,
                "automatic": bool(after.get("automatic", False)),
                "decided_by": event.actor_label if event.actor_id is not None else "",
                "approved_by": str(after.get("approved_by", ""))[:150],
            }
        )
    return rows


def backfill(apps: Any, schema_editor: Any) -> None:
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    CreditLine = apps.get_model("lending", "CreditLine")
    LimitChange = apps.get_model("lending", "LimitChange")
    events = (
        AuditEvent.objects.filter(action__in=list(ACTIONS), object_type="lending.creditline")
        .order_by("object_id", "at", "id")
        .only("action", "object_id", "at", "actor_id", "actor_label", "before", "after")
    )
    groups: dict[int, list[Any]] = {}

    def write() -> None:
        lines = CreditLine.objects.in_bulk(list(groups))
        LimitChange.objects.bulk_create(
            [
                LimitChange(**row)
                for line_id, group in groups.items()
                if line_id in lines
                for row in _rows_of_line(lines[line_id], group)
            ],
            batch_size=BATCH,
        )
        groups.clear()

    count = 0
    for event in events.iterator(chunk_size=BATCH):
        line_id = int(event.object_id)
        if line_id not in groups and count >= BATCH:
            write()
            count = 0
        groups.setdefault(line_id, []).append(event)
        count += 1
    write()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_audit_chain_and_guards"),
        ("lending", "0007_limit_change"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
