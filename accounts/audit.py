"""Writing the audit log, and knowing which request, task or command a change came from.

Services call `audit()` inside their own transaction. The request middleware, the Celery
task_prerun hook and management commands set the context (source, reference, IP) in a
context variable, so a service never needs the request to record where it was called from.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models

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
    from accounts.models import AuditEvent

    ctx = _context.get()
    if actor is not None:
        label = actor.get_username()
    else:
        label = ctx.reference.split(":", 1)[0] if ctx.reference else ctx.source
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=label[:150],
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        borrower_id=borrower_id,
        before=_jsonable(before or {}),
        after=_jsonable(after or {}),
        source=ctx.source,
        reference=ctx.reference[:200],
        ip_address=ctx.ip_address,
        note=note,
    )
