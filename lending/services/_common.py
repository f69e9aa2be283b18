"""Guards and derived line state shared by the lending services (see lending.services)."""

from __future__ import annotations

import contextvars
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min, Subquery, Sum

from accounts.choices import STAFF_ROLES, Role
from lending import money
from lending.choices import (
    DrawdownStatus,
)
from lending.errors import (
    DuplicateKeyConflict,
    InvalidAmount,
    InvalidChoice,
    InvalidData,
    InvalidRate,
    NotAllowed,
)
from lending.models import (
    ZERO,
    CreditLine,
    Drawdown,
    Instalment,
)
from lending.services import batch
from lending.signals import borrower_activity

if TYPE_CHECKING:
    from accounts.models import User


# The legal ceiling on a daily rate: 0.0986%/day is 36% a year (RULES §4B.4); the line's
# CheckConstraint holds the same bound.
MAX_DAILY_RATE = Decimal("0.000986")
MAX_TERM_MONTHS = 36


# --- guards -----------------------------------------------------------------------------------


def _require_writer(actor: User | None) -> None:
    """Book writes come from the system, the lending core's service account, or staff.

    A borrower login or a deactivated account never writes to the book, whatever the caller.
    """
    if actor is None:
        return
    if not actor.is_active or (actor.role not in STAFF_ROLES and actor.role != Role.SERVICE):
        raise NotAllowed(actor=actor.get_username())


def _require_staff(actor: User | None) -> None:
    """Decisions on a line (freeze, unfreeze) belong to risk staff or the system."""
    if actor is None:
        return
    if not actor.is_active or actor.role not in STAFF_ROLES:
        raise NotAllowed(actor=actor.get_username())


def _require_choice(value: str, choices: Iterable[str], field_name: str) -> None:
    if value not in set(choices):
        raise InvalidChoice(field=field_name, value=value)


def _require_positive(amount: Decimal) -> None:
    if amount is None or Decimal(amount) <= 0:
        raise InvalidAmount(amount=amount)


def _require_rate(daily_rate: Decimal) -> None:
    if daily_rate is None or not ZERO < Decimal(daily_rate) <= MAX_DAILY_RATE:
        raise InvalidRate(daily_rate=daily_rate)


def _require_key(value: str, field_name: str, max_length: int) -> None:
    """An idempotency key must be given and fit its column."""
    if not value or len(value) > max_length:
        raise InvalidData(fields=field_name)


def _full_clean(obj: Any, *, exclude: list[str] | None = None) -> None:
    """Model validation (lengths, choices) as a DomainError instead of a ValidationError."""
    try:
        obj.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise InvalidData(fields=", ".join(sorted(exc.message_dict))) from exc


def _conflict(key: str, stored: dict[str, Any], given: dict[str, Any]) -> None:
    """Raise DuplicateKeyConflict naming the fields that differ; None in `given` means unsaid."""
    differing = sorted(k for k, v in given.items() if v is not None and stored.get(k) != v)
    if differing:
        raise DuplicateKeyConflict(key=key, fields=", ".join(differing))


def _money(value: Decimal | int | str) -> Decimal:
    """Amounts as two-place Decimals, so a replayed "100" equals a stored 100.00."""
    return Decimal(value).quantize(money.FEN)


# --- derived state of a line ------------------------------------------------------------------


def _line_sync(line: CreditLine) -> list[str]:
    """Recompute used and oldest_unpaid_due from the drawdowns; return the fields that changed.

    The caller holds the line's row lock and saves with the returned update_fields.
    """
    # Inside a batch, from the batch's own loans of the line and the others' totals.
    total, oldest = batch.line_totals(line) or _line_totals_read(line)
    # A sum of fen amounts is exact; quantize only fixes how SQLite's sum is written.
    used = (total or ZERO).quantize(money.FEN)
    changed = []
    if line.used != used:
        line.used = used
        changed.append("used")
    if line.oldest_unpaid_due != oldest:
        line.oldest_unpaid_due = oldest
        changed.append("oldest_unpaid_due")
    return changed


def _line_totals_read(line: CreditLine) -> tuple[Decimal | None, date | None]:
    """(principal outstanding of the line's active drawdowns, oldest unpaid due date of their
    instalments), in one statement."""
    active = Drawdown.objects.filter(line=line.pk, status=DrawdownStatus.ACTIVE)
    totals: tuple[Decimal | None, date | None] = (
        CreditLine.objects.filter(pk=line.pk)
        .annotate(
            total=Subquery(
                active.values("line").annotate(total=Sum("principal_outstanding")).values("total")
            ),
            # Written-off loans are off the book: their unpaid instalments no longer drive the
            # line's DPD (the write-off froze or closed the line, so it lends nothing on them).
            oldest=Subquery(
                Instalment.objects.filter(
                    drawdown__line=line.pk,
                    drawdown__status=DrawdownStatus.ACTIVE,
                    paid_off_at__isnull=True,
                )
                .values("drawdown__line")
                .annotate(oldest=Min("due_date"))
                .values("oldest")
            ),
        )
        .values_list("total", "oldest")
        .get()
    )
    return totals


def _line_state(line: CreditLine) -> dict[str, Any]:
    return {
        "status": line.status,
        "used": line.used,
        "oldest_unpaid_due": line.oldest_unpaid_due,
    }


def _lock_line(borrower_id: int) -> CreditLine:
    # Row lock on the line: drawdowns, repayments and freezes of one borrower queue up here,
    # so `used` is decided on the latest committed value. Inside a batch (event ingestion),
    # the caller has locked it already: the batch's instance, as the last service left it.
    held = batch.held_line(borrower_id)
    if held is not None:
        return held
    return CreditLine.objects.select_for_update().get(borrower_id=borrower_id)


def _publish_after_commit(*, borrower_id: int, kind: str) -> None:
    """Tell other apps (lending.signals.borrower_activity) once the change has committed: a
    rolled-back batch announces nothing, and receivers see the committed rows. Inside
    activity_batched(), once per kind for the whole block, with every borrower concerned."""
    pending = _activity_pending.get()
    if pending is not None:
        pending.setdefault(kind, {}).setdefault(borrower_id, None)
        return
    _announce_after_commit(kind, [borrower_id])


def _announce_after_commit(kind: str, borrower_ids: list[int]) -> None:
    transaction.on_commit(
        lambda: borrower_activity.send(sender="lending", borrower_ids=borrower_ids, kind=kind)
    )


_activity_pending: contextvars.ContextVar[dict[str, dict[int, None]] | None] = (
    contextvars.ContextVar("riskops_activity_pending", default=None)
)


@contextmanager
def activity_batched() -> Iterator[None]:
    """Announce the block's book changes once per kind, listing each borrower once (in the
    order they first moved), after the transaction commits, instead of once per change.

    For a caller that applies many changes in one transaction that any error ends as a whole
    (event ingestion: a batch's drawdowns queue one re-score task, not one per drawdown).
    Must be entered inside that transaction; a block left by an error announces nothing.
    """
    pending: dict[str, dict[int, None]] = {}
    token = _activity_pending.set(pending)
    try:
        yield
    finally:
        _activity_pending.reset(token)
    for kind, borrowers in pending.items():
        _announce_after_commit(kind, list(borrowers))
