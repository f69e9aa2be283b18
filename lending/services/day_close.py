"""The nightly day close: the book brought to what is owed at the end of a business day.

For a day D that has ended (Shanghai time), in this order:

a. Penalty. Every overdue instalment of an active loan accrues penalty interest on its unpaid
   principal through D (money.accrue_penalties: fee_due grows, penalty_through becomes D).
   After the close every balance in the database is what is owed at the end of D.
b. Transitions. Each line whose delinquency bucket at the end of D differs from the end of
   D-1 gets a LineTransition row: `entered` a worse bucket (M0->M1, M1->M2, ...) or `cured`
   back to M0. A line's oldest unpaid due date at a moment is rebuilt from the schedule
   (instalments not paid off by then, by `paid_off_at`), so a day caught up later is
   recorded as it was.
c. Write-off. Every active loan whose oldest instalment unpaid at the end of D is
   caps.write_off_dpd() or more days past due is written off (drawdown_write_off: one
   audit row each, a `written_off` transition, the line closed when no active loan is left).
d. A DayClose row with the counts and the duration, and one audit row
   "day_close.completed".
e. After commit, `lending.signals.line_transitions_recorded` is sent with D and the ids of
   D's transitions. Other apps react there or read the rows; the book never calls them.

Set-based, for a book of a million lines: only lines that can change are read (an indexed
range on CreditLine.oldest_unpaid_due for accrual and write-off; instalments due exactly on a
bucket boundary, and the day's repayments, for transitions), in chunks of LINES_PER_CHUNK
lines, each chunk its own short transaction with bulk updates.

Idempotent: a day already done is not run again (day_close_run returns its row). A run that
fails part way is marked failed and resumes where it stopped: accrual skips instalments
already accrued through D (penalty_through), transitions are unique per (line, day, kind), a
loan written off stays written off; the penalty tally is kept on the DayClose row in the same
transaction as the accrual it counts, so it is exact across a resume.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Exists, F, Min, OuterRef, Q
from django.utils import timezone

from accounts.audit import audit
from lending import caps, money
from lending.choices import (
    Bucket,
    DayCloseStatus,
    DrawdownStatus,
    LineStatus,
    TransitionKind,
)
from lending.errors import DayCloseRunning, DayNotOver
from lending.models import (
    ZERO,
    CreditLine,
    DayClose,
    Drawdown,
    Instalment,
    LineTransition,
    Repayment,
)
from lending.services.lines import drawdown_write_off
from lending.signals import publish_transitions

logger = logging.getLogger(__name__)

# Lines per transaction: short enough that a repayment waiting on one of their row locks
# waits milliseconds, large enough that a million-line book takes a few hundred round trips.
LINES_PER_CHUNK = 1000
# A claim older than this belongs to a run that died (the task's hard time limit is shorter:
# lending.tasks.DAY_CLOSE_TIME_LIMIT), so another run may take the day over.
CLAIM_STALE_AFTER = timedelta(minutes=65)


def _close_of(day: date) -> datetime:
    """The last moment of `day` in the project's time zone."""
    return timezone.make_aware(datetime.combine(day, time.max))


def _unpaid_at(moment: datetime, prefix: str = "") -> Q:
    """Instalments not yet paid off (principal and interest) at `moment`."""
    return Q(**{f"{prefix}paid_off_at__isnull": True}) | Q(**{f"{prefix}paid_off_at__gt": moment})


def _chunks(ids: Sequence[int], size: int = LINES_PER_CHUNK) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _rank(bucket: str) -> int:
    return int(bucket[1:])


# --- the run ----------------------------------------------------------------------------------


def day_close_run(*, day: date) -> DayClose:
    """Close business day `day` (see the module docstring for what that does).

    Not one transaction: a claim, then one short transaction per chunk of lines and per
    write-off, then the finish, so a million-line book never holds a long lock and a failed
    run resumes where it stopped. A day already done returns its row and does nothing.

    Raises DayNotOver (`day` is today or later, Shanghai time), DayCloseRunning (another run
    claimed the day less than CLAIM_STALE_AFTER ago). Any other error marks the day failed
    (the next run resumes it) and propagates.
    """
    if day >= timezone.localdate():
        raise DayNotOver(day=day)
    close = _claim(day)
    if close.status == DayCloseStatus.DONE:
        return close
    try:
        _accrue(close_pk=close.pk, day=day)
        _record_transitions(day=day)
        _write_off(day=day)
        return _finish(close_pk=close.pk, day=day)
    except BaseException:  # a soft time limit too: the day must not stay claimed
        logger.exception("Day close of %s failed; the next run resumes it.", day)
        DayClose.objects.filter(pk=close.pk, status=DayCloseStatus.RUNNING).update(
            status=DayCloseStatus.FAILED, finished_at=timezone.now()
        )
        raise


def day_close_catch_up(*, through: date | None = None) -> list[DayClose]:
    """Close every day not yet closed, in order: from the day after the last day done through
    `through` (default yesterday, Shanghai time). With no day ever closed, only `through`.

    What the nightly task calls, so a missed night is caught up the next. Stops at the first
    refusal or failure (it propagates; the days before it stay done). Returns the rows of the
    days it closed (empty when nothing was due).
    """
    through = through or timezone.localdate() - timedelta(days=1)
    last_done = (
        DayClose.objects.filter(status=DayCloseStatus.DONE)
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )
    day = last_done + timedelta(days=1) if last_done else through
    closed = []
    while day <= through:
        closed.append(day_close_run(day=day))
        day += timedelta(days=1)
    return closed


@transaction.atomic(durable=True)
def _claim(day: date) -> DayClose:
    """The day's DayClose row, claimed for this run (status running), or done already."""
    now = timezone.now()
    close, created = DayClose.objects.get_or_create(day=day, defaults={"started_at": now})
    if created:
        return close
    # Row lock on the day's close: two workers claiming the same day queue up here, and the
    # second sees the first's claim.
    close = DayClose.objects.select_for_update().get(pk=close.pk)
    if close.status == DayCloseStatus.DONE:
        return close
    if close.status == DayCloseStatus.RUNNING and close.started_at > now - CLAIM_STALE_AFTER:
        raise DayCloseRunning(day=day, started_at=timezone.localtime(close.started_at))
    close.status = DayCloseStatus.RUNNING
    close.started_at = now
    close.finished_at = None
    close.save(update_fields=["status", "started_at", "finished_at"])
    return close


@transaction.atomic(durable=True)
def _finish(*, close_pk: int, day: date) -> DayClose:
    # Row lock on the day's close: the claim of a concurrent run waits for the verdict.
    close = DayClose.objects.select_for_update().get(pk=close_pk)
    transition_ids = list(
        LineTransition.objects.filter(day=day).order_by("pk").values_list("pk", flat=True)
    )
    close.transitions = len(transition_ids)
    close.written_off = Drawdown.objects.filter(
        written_off_at__gt=_close_of(day - timedelta(days=1)), written_off_at__lte=_close_of(day)
    ).count()
    close.status = DayCloseStatus.DONE
    close.finished_at = timezone.now()
    close.save(update_fields=["transitions", "written_off", "status", "finished_at"])
    audit(
        actor=None,
        action="day_close.completed",
        obj=close,
        after={
            "day": day,
            "penalty_accrued": close.penalty_accrued,
            "instalments_accrued": close.instalments_accrued,
            "transitions": close.transitions,
            "written_off": close.written_off,
            "seconds": round((close.finished_at - close.started_at).total_seconds(), 3),
        },
    )
    # Other apps hear of the day's transitions only once they are committed.
    transaction.on_commit(lambda: publish_transitions(day=day, transition_ids=transition_ids))
    return close


# --- a. penalty -------------------------------------------------------------------------------


def _accrue(*, close_pk: int, day: date) -> None:
    """Accrue penalty through `day` on the overdue instalments of every overdue line."""
    # Overdue lines only: an indexed range on oldest_unpaid_due, ids in line order (the lock
    # order below). Closed lines have no active loan left to accrue on.
    line_ids = list(
        CreditLine.objects.filter(oldest_unpaid_due__lt=day)
        .exclude(status=LineStatus.CLOSED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for chunk in _chunks(line_ids):
        _accrue_chunk(close_pk=close_pk, day=day, line_ids=chunk)


@transaction.atomic(durable=True)
def _accrue_chunk(*, close_pk: int, day: date, line_ids: list[int]) -> None:
    # Row locks on the chunk's lines, in id order, before their instalments: the lock order
    # of every lending service (line, then drawdown and schedule). A repayment on one of
    # these lines waits for this chunk or this chunk waits for it; either way the later one
    # reads the other's penalty_through, so no day of penalty is booked twice.
    list(
        CreditLine.objects.select_for_update()
        .filter(pk__in=line_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    instalments = list(
        Instalment.objects.filter(
            drawdown__line_id__in=line_ids,
            drawdown__status=DrawdownStatus.ACTIVE,
            due_date__lt=day,
            principal_paid__lt=F("principal_due"),
        )
        .filter(Q(penalty_through__isnull=True) | Q(penalty_through__lt=day))
        .annotate(contract_rate=F("drawdown__daily_rate"))
        .order_by("drawdown_id", "seq")
    )
    by_drawdown: dict[int, list[Instalment]] = defaultdict(list)
    for inst in instalments:
        by_drawdown[inst.drawdown_id].append(inst)
    changed: list[Instalment] = []
    total = ZERO
    for group in by_drawdown.values():
        rate: Decimal = group[0].contract_rate  # type: ignore[attr-defined]
        accrued = money.accrue_penalties(group, daily_rate=rate, on=day)
        changed.extend(inst for inst in group if inst.seq in accrued)
        total += sum(accrued.values(), ZERO)
    if not changed:
        return
    _save_penalties(changed, day)
    # The tally moves with the accrual it counts: exact across a failed run's resume.
    DayClose.objects.filter(pk=close_pk).update(
        penalty_accrued=F("penalty_accrued") + total,
        instalments_accrued=F("instalments_accrued") + len(changed),
    )


def _save_penalties(instalments: list[Instalment], day: date) -> None:
    """Write fee_due, and penalty_through = `day`, of `instalments`, by primary key.

    Not QuerySet.bulk_update, which builds a CASE WHEN branch per row in Python (about 3 ms a
    row, most of a day close's time on a large book): on PostgreSQL one UPDATE joined to the
    new values passed as two arrays; elsewhere one UPDATE sent once per row (executemany).
    """
    ops = connection.ops
    table = ops.quote_name(Instalment._meta.db_table)
    # Instalment's columns carry its fields' names (no db_column).
    fee, through, pk = (ops.quote_name(name) for name in ("fee_due", "penalty_through", "id"))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET {fee} = new.fee, {through} = %s"  # noqa: S608 (names from the model)
                f" FROM unnest(%s::bigint[], %s::numeric[]) AS new(id, fee)"
                f" WHERE {table}.{pk} = new.id",
                [day, [inst.pk for inst in instalments], [inst.fee_due for inst in instalments]],
            )
            return
        through_value = ops.adapt_datefield_value(day)
        cursor.executemany(
            f"UPDATE {table} SET {fee} = %s, {through} = %s WHERE {pk} = %s",  # noqa: S608 (names from the model)
            [
                (ops.adapt_decimalfield_value(inst.fee_due, 14, 2), through_value, inst.pk)
                for inst in instalments
            ],
        )


# --- b. transitions ---------------------------------------------------------------------------


def _record_transitions(*, day: date) -> None:
    """Record the lines whose bucket at the close of `day` differs from the close of day-1."""
    previous = day - timedelta(days=1)
    end_previous, end_day = _close_of(previous), _close_of(day)
    # A line can only get worse overnight if an instalment unpaid at the close of the day
    # was due exactly on a bucket's first day past due (1, 31, 61, ... days before): the
    # instalment_due_date index finds them. It can only get better if money came in that
    # day: the repayments' paid_at index finds those.
    boundaries = [day - timedelta(days=low) for _name, low, _high in money.BUCKETS if low > 0]
    crossing = set(
        Instalment.objects.filter(due_date__in=boundaries)
        .filter(_unpaid_at(end_day))
        .values_list("drawdown__line_id", flat=True)
        .distinct()
    )
    repaid = set(
        Repayment.objects.filter(paid_at__gt=end_previous, paid_at__lte=end_day)
        .values_list("drawdown__line_id", flat=True)
        .distinct()
    )
    # Lines closed before the day began have no delinquency to track.
    line_ids = list(
        CreditLine.objects.filter(pk__in=crossing | repaid)
        .filter(Q(closed_at__isnull=True) | Q(closed_at__gt=end_previous))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for chunk in _chunks(line_ids):
        _record_chunk(day=day, line_ids=chunk)


@transaction.atomic(durable=True)
def _record_chunk(*, day: date, line_ids: list[int]) -> None:
    """No row locks: the day's delinquency is read from the schedule as of fixed moments
    (paid_off_at before the close of day-1 and of day), which later changes do not move."""
    previous = day - timedelta(days=1)
    end_previous, end_day = _close_of(previous), _close_of(day)
    # Per line: the oldest due date unpaid at the close of day-1 (overdue then) and of day.
    oldest: dict[int, tuple[date | None, date | None]] = {
        row["drawdown__line_id"]: (row["before"], row["after"])
        for row in Instalment.objects.filter(drawdown__line_id__in=line_ids, due_date__lt=day)
        .values("drawdown__line_id")
        .annotate(
            before=Min("due_date", filter=Q(due_date__lt=previous) & _unpaid_at(end_previous)),
            after=Min("due_date", filter=_unpaid_at(end_day)),
        )
    }
    lines = CreditLine.objects.filter(pk__in=line_ids).values("pk", "borrower_id", "used")
    rows = []
    for line in lines:
        oldest_before, oldest_after = oldest.get(line["pk"], (None, None))
        dpd_before = money.days_past_due(oldest_before, previous)
        dpd = money.days_past_due(oldest_after, day)
        was, now = money.bucket_for(dpd_before), money.bucket_for(dpd)
        if _rank(now) > _rank(was):
            kind = TransitionKind.ENTERED
        elif now == Bucket.M0 and was != Bucket.M0:
            kind = TransitionKind.CURED
        else:
            continue  # the same bucket, or better but still past due
        rows.append(
            LineTransition(
                line_id=line["pk"],
                borrower_id=line["borrower_id"],
                day=day,
                kind=kind,
                from_bucket=was,
                to_bucket=now,
                dpd=dpd,
                balance=line["used"],
            )
        )
    # One row per line, day and kind: a resumed run adds nothing twice.
    LineTransition.objects.bulk_create(rows, ignore_conflicts=True)


# --- c. write-off -----------------------------------------------------------------------------


def _write_off(*, day: date) -> None:
    """Write off every active loan caps.write_off_dpd() or more days past due at `day`."""
    cutoff = day - timedelta(days=caps.write_off_dpd())
    # The line's oldest unpaid due date is indexed and is never later than any of its loans':
    # it narrows the book to the few lines that can hold such a loan.
    unpaid_since_cutoff = Instalment.objects.filter(
        drawdown=OuterRef("pk"), due_date__lte=cutoff
    ).filter(_unpaid_at(_close_of(day)))
    loans = (
        Drawdown.objects.filter(status=DrawdownStatus.ACTIVE, line__oldest_unpaid_due__lte=cutoff)
        .filter(Exists(unpaid_since_cutoff))
        .only("pk", "borrower_id")
        .order_by("line_id", "pk")
    )
    for loan in list(loans):
        # Each write-off is its own transaction (the service's): a decision with its own
        # audit row, and a failure later in the run keeps the ones already made.
        drawdown_write_off(actor=None, drawdown=loan, day=day)
