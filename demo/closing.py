"""The nightly day close, replayed over one line's seeded history.

The book a seed run leaves is the one lending.services.day_close would have left after closing
every day of the history, the as-of day last. For each business day D, at the close of D (the
end of the day, every payment of D seen):

a. penalty on every overdue instalment of an active loan, accrued through D
   (money.accrue_penalties: accruing once through a day books the same fen as night by night);
b. a LineTransition when the line's bucket at the close of D differs from the close of D-1:
   `entered` a worse bucket, or `cured` back to M0 (a better bucket still past due records
   nothing); its balance is the line's used at the close;
c. every active loan caps.write_off_dpd() or more days past due written off
   (drawdown_write_off): written_off_at the close of D, a `written_off` transition whose
   balance is the principal written off, the notices, and the line closed (code written_off)
   once no active loan is left. A written-off loan no longer drives the line's oldest unpaid
   due date (the day close's own transitions still read every instalment of the line).

The figures come from the same pure functions (money.accrue_penalties, money.days_past_due,
money.bucket_for) and the same threshold (caps.write_off_dpd()). A loan's write-off day follows
from its final state: the seeder never pays a loan that late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from lending import caps, money
from lending.choices import Bucket, LineStatusCode, NoticeKind, TransitionKind

if TYPE_CHECKING:
    from demo.book import Loan

ZERO = Decimal("0.00")
ONE_DAY = timedelta(days=1)
# The nightly run closing day D starts just after midnight (lending.tasks' beat schedule).
RUN_AFTER = timedelta(minutes=5)
# The DPD at which each bucket begins, past M0: a line can only get worse on these days after
# an instalment's due date, and better only on a day a payment cleared one.
BUCKET_STARTS = tuple(low for _, low, _ in money.BUCKETS[1:])


def close_of(day: date) -> datetime:
    """The last moment of `day` (naive Asia/Shanghai, as the seeder's rows are): what the
    close of `day` sees, and when a loan written off that day was written off."""
    return datetime.combine(day, time.max)  # noqa: DTZ001  (naive local, see demo.book)


def run_of(day: date) -> datetime:
    """When the nightly run that closed `day` ran."""
    return datetime.combine(day + ONE_DAY, time(0)) + RUN_AFTER  # noqa: DTZ001


@dataclass
class CloseTally:
    """What the close of the as-of day itself did (its DayClose row)."""

    penalty: Decimal = ZERO
    instalments: int = 0
    transitions: int = 0
    written_off: int = 0

    def add(self, other: CloseTally) -> None:
        self.penalty += other.penalty
        self.instalments += other.instalments
        self.transitions += other.transitions
        self.written_off += other.written_off


@dataclass
class Transition:
    day: date
    kind: str
    from_bucket: str
    to_bucket: str
    dpd: int
    balance: Decimal


@dataclass
class LineClose:
    """The outcome for one line: its transitions, the notices, when it was closed (if it
    was), and the as-of day's tally."""

    transitions: list[Transition] = field(default_factory=list)
    notices: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)
    closed_at: datetime | None = None
    tally: CloseTally = field(default_factory=CloseTally)


def _oldest_uncleared(loan: Loan) -> date | None:
    return min((s.due_date for s in loan.states if s.paid_off_at is None), default=None)


def close_line(loans: Sequence[Loan], *, as_of: date) -> LineClose:
    """Run the history's day closes over one line's loans (changing them in place)."""
    result = LineClose()
    threshold = timedelta(days=caps.write_off_dpd())
    written: dict[date, list[Loan]] = {}
    for loan in loans:
        if loan.settled_at is not None:
            continue
        oldest = _oldest_uncleared(loan)
        through = as_of
        if oldest is not None and oldest + threshold <= as_of:
            through = oldest + threshold
            loan.written_off_at = close_of(through)
            written.setdefault(through, []).append(loan)
        if through == as_of:
            # The as-of close books one more day on what earlier closes brought to as_of - 1.
            money.accrue_penalties(loan.states, daily_rate=loan.rate, on=as_of - ONE_DAY)
            booked = money.accrue_penalties(loan.states, daily_rate=loan.rate, on=as_of)
            result.tally.penalty += sum(booked.values(), ZERO)
            result.tally.instalments += len(booked)
        else:
            money.accrue_penalties(loan.states, daily_rate=loan.rate, on=through)
    closed_on = _closing_day(loans, written)
    if closed_on is not None:
        result.closed_at = close_of(closed_on)
    result.transitions = line_transitions(loans, as_of=as_of, written=written, closed_on=closed_on)
    for day, gone in sorted(written.items()):
        for loan in gone:
            params = {
                "loan_no": loan.loan_no,
                "principal": str(loan.principal_outstanding),
                "day": day.isoformat(),
            }
            result.notices.append((run_of(day), NoticeKind.WRITTEN_OFF, params))
        if day == closed_on:
            params = {"reason_code": str(LineStatusCode.WRITTEN_OFF)}
            result.notices.append((run_of(day), NoticeKind.LINE_CLOSED, params))
    result.tally.written_off = len(written.get(as_of, ()))
    result.tally.transitions = sum(1 for t in result.transitions if t.day == as_of)
    return result


def _closing_day(loans: Sequence[Loan], written: dict[date, list[Loan]]) -> date | None:
    """The first write-off day after whose close no loan of the line is active (settled or
    written off by then): drawdown_write_off closes the line then."""
    for day in sorted(written):
        moment = close_of(day)
        if all(
            (loan.settled_at is not None and loan.settled_at <= moment)
            or (loan.written_off_at is not None and loan.written_off_at <= moment)
            for loan in loans
        ):
            return day
    return None


def _used_at(loans: Sequence[Loan], day: date) -> Decimal:
    """The line's used at the close of `day`: principal outstanding of the loans drawn by then
    and not written off on an earlier day."""
    moment = close_of(day)
    total = ZERO
    for loan in loans:
        if loan.disbursed_at > moment:
            continue
        if loan.written_off_at is not None and loan.written_off_at.date() < day:
            continue
        total += loan.outstanding_at(moment)
    return total


def line_transitions(
    loans: Sequence[Loan],
    *,
    as_of: date,
    written: dict[date, list[Loan]],
    closed_on: date | None,
) -> list[Transition]:
    """The LineTransition rows the nightly closes would have recorded for this line.

    Every instalment ever overdue is an interval of closes: from the day after its due date to
    the day before the one it was cleared on (its paid_off_at's date; never, if it was not).
    The line's DPD at a close is that day minus the earliest due date among the intervals
    covering it (written-off loans' instalments included, as the line's oldest unpaid due date
    includes them). Only the days a bucket can change on are looked at.
    """
    overdue: list[tuple[date, date | None]] = []
    for loan in loans:
        for s in loan.states:
            cleared = None if s.paid_off_at is None else s.paid_off_at.date()
            if s.due_date < as_of and (cleared is None or cleared > s.due_date + ONE_DAY):
                overdue.append((s.due_date, cleared))
    if not overdue:
        return []
    days: set[date] = set(written)
    for due, cleared in overdue:
        days.update(due + timedelta(days=start) for start in BUCKET_STARTS)
        if cleared is not None:
            days.add(cleared)
    found: list[Transition] = []
    previous = Bucket.M0.value
    for day in sorted(d for d in days if d <= as_of):
        if closed_on is not None and day > closed_on:
            break  # a closed line's delinquency is no longer tracked
        oldest = min(
            (due for due, cleared in overdue if due < day and (cleared is None or cleared > day)),
            default=None,
        )
        dpd = money.days_past_due(oldest, day)
        bucket = money.bucket_for(dpd)
        worse = int(bucket[1:]) > int(previous[1:])
        if worse or (bucket == Bucket.M0 and previous != Bucket.M0):
            kind = TransitionKind.ENTERED if worse else TransitionKind.CURED
            found.append(Transition(day, kind, previous, bucket, dpd, _used_at(loans, day)))
        if day in written:
            # drawdown_write_off: the line's DPD as the first write-off of the day finds it,
            # loans written off on earlier days no longer counting.
            on_book = [
                s.due_date
                for loan in loans
                if loan.written_off_at is None or loan.written_off_at.date() >= day
                for s in loan.states
                if s.paid_off_at is None
            ]
            line_dpd = money.days_past_due(min(on_book), day)
            line_bucket = money.bucket_for(line_dpd)
            principal = sum((loan.principal_outstanding for loan in written[day]), ZERO)
            found.append(
                Transition(
                    day, TransitionKind.WRITTEN_OFF, line_bucket, line_bucket, line_dpd, principal
                )
            )
        previous = bucket
    return found
