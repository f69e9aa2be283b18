"""The demo book's ledger: the tables a borrower's rows go to, their ids, and each loan replayed
with lending.money.

Every figure of a schedule and APR comes from lending.money, and every repayment is applied by
lending.money.plan_repayment (the in-memory half of repayment_record: penalty, allocation,
paying ahead, settlement), in the order the services would have seen the events, so the rows
are what `drawdown_create` and `repayment_record` would have written for the same history.
What each borrower does is demo.history's and demo.borrowing's; the nightly day close's part
is demo.closing's.

Datetimes in the rows are naive Asia/Shanghai wall-clock times (the zone has had no DST since
1991, a fixed +08:00); the writers attach the zone for the database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from lending import caps, money

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")

# The tables a borrower's rows go to, parents first (the order they are written in).
TABLES = (
    "borrower",
    "line",
    "limitchange",
    "bank",
    "device",
    "asset",
    "drawdown",
    "instalment",
    "repayment",
    "allocation",
    "transfer",
    "event",
    "transition",
    "notice",
    "profile",
)
# Not a table: per borrower, what the close of the as-of day did (demo.closing.CloseTally).
TALLY = "tally"
Rows = dict[str, list[tuple[Any, ...]]]

# Keys of an event's result that hold ids, and the table each refers to (parallel seeding
# shifts them with the rows' own ids).
RESULT_ID_TABLES = {
    "borrower_id": "borrower",
    "line_id": "line",
    "drawdown_id": "drawdown",
    "repayment_id": "repayment",
    "device_record_id": "device",
    "bank_account_id": "bank",
    "transfer_out_id": "transfer",
}


def new_rows() -> Rows:
    rows: Rows = {name: [] for name in TABLES}
    rows[TALLY] = []
    return rows


class Ids:
    """The next primary key per table: rows get their ids as they are generated."""

    def __init__(self, start: dict[str, int]) -> None:
        self.next = dict(start)

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


# Schedules and APRs depend only on (amount, term, mode, rate): amounts are round sums and
# rates on a grid, so both are cached per combination. The APR (an IRR, ~0.1 ms) is not
# needed to replay the history, so it is filled in per chunk (`fill_aprs`).
AprKey = tuple[Decimal, int, str, Decimal]
_SCHEDULES: dict[AprKey, list[money.PlannedInstalment]] = {}
_APRS: dict[AprKey, Decimal] = {}
CACHE_LIMIT = 200_000


def planned(amount: Decimal, term: int, mode: str, rate: Decimal) -> list[money.PlannedInstalment]:
    """The schedule of a drawdown (due dates from an arbitrary start), cached."""
    key = (amount, term, mode, rate)
    schedule = _SCHEDULES.get(key)
    if schedule is None:
        schedule = money.build_schedule(
            amount=amount, term_months=term, mode=mode, daily_rate=rate, start=date(2000, 1, 1)
        )
        if len(_SCHEDULES) < CACHE_LIMIT:
            _SCHEDULES[key] = schedule
    return schedule


def compute_apr(key: AprKey) -> Decimal:
    """money.apr_irr of the drawdown `key` describes (the services' own computation)."""
    amount, term, mode, rate = key
    return money.apr_irr(amount=amount, schedule=planned(amount, term, mode, rate))


def fill_aprs(rows: Rows, mapper: Callable[..., Iterable[Decimal]] = map) -> None:
    """Put the APR into each drawdown row (column 8), computing the uncached ones with `mapper`.

    Raises RuntimeError on an APR above caps.apr_ceiling(): drawdown_create refuses such a
    loan, so the book must not hold one (the rate grid keeps clear of it).
    """
    drawdowns = rows["drawdown"]
    missing = list({(r[4], r[5], r[6], r[7]) for r in drawdowns} - _APRS.keys())
    _APRS.update(zip(missing, mapper(compute_apr, missing), strict=True))
    ceiling = caps.apr_ceiling()
    for i, r in enumerate(drawdowns):
        apr = _APRS[(r[4], r[5], r[6], r[7])]
        if apr > ceiling:
            raise RuntimeError(f"{r[3]}: APR {apr} above the {ceiling} ceiling")
        drawdowns[i] = (*r[:8], apr, *r[9:])
    if len(_APRS) > CACHE_LIMIT:
        _APRS.clear()


@dataclass(slots=True)
class Payment:
    paid_at: datetime
    amount: Decimal
    principal: Decimal
    parts: list[tuple[int, Decimal, Decimal, Decimal]]  # (seq, fee, interest, principal)
    unapplied: Decimal


class Loan:
    """One drawdown and its repayment history, replayed with the services' own plan."""

    __slots__ = (
        "amount",
        "term",
        "mode",
        "rate",
        "purpose",
        "disbursed_at",
        "card",
        "device",
        "states",
        "payments",
        "settled_at",
        "written_off_at",
        "loan_no",
        "row_id",
    )

    def __init__(
        self,
        *,
        row_id: int,
        loan_no: str,
        amount: Decimal,
        term: int,
        mode: str,
        rate: Decimal,
        purpose: str,
        disbursed_at: datetime,
        card: int,
        device: int,
    ) -> None:
        self.row_id = row_id
        self.loan_no = loan_no
        self.amount = amount
        self.term = term
        self.mode = mode
        self.rate = rate
        self.purpose = purpose
        self.disbursed_at = disbursed_at
        self.card = card
        self.device = device
        schedule = planned(amount, term, mode, rate)
        start = disbursed_at.date()
        # Same due dates as money.build_schedule(start=start): the disbursement day, monthly.
        self.states = [
            money.InstalmentState(p.seq, money.add_months(start, p.seq), p.principal, p.interest)
            for p in schedule
        ]
        self.payments: list[Payment] = []
        self.settled_at: datetime | None = None
        self.written_off_at: datetime | None = None  # set by demo.closing

    @property
    def last_due(self) -> date:
        return self.states[-1].due_date

    def due_on(self, day: date) -> Decimal:
        """What the app shows as due on `day`: everything on the instalments due by then,
        penalty accrued to `day` included (accrued here as repayment_record's plan would)."""
        money.accrue_penalties(self.states, daily_rate=self.rate, on=day)
        return sum((money.remaining(s) for s in self.states if s.due_date <= day), ZERO)

    def payoff_on(self, day: date) -> Decimal:
        """What settles the loan on `day` (money.payoff_amount, the figure the app quotes)."""
        return money.payoff_amount(
            self.states, daily_rate=self.rate, disbursed_on=self.disbursed_at.date(), on=day
        )

    def first_uncleared_due(self) -> date | None:
        """The due date of the oldest instalment whose principal and interest are unpaid."""
        for state in self.states:
            if state.paid_off_at is None:
                return state.due_date
        return None

    def pay(self, paid_at: datetime, amount: Decimal) -> Payment:
        """Record `amount` received at `paid_at`, as lending.money.plan_repayment (the function
        repayment_record runs) allocates it: penalty accrued to the paid date, due instalments
        first, then ahead of time (re-amortising the rest), settling at or above the payoff."""
        aware = paid_at.replace(tzinfo=SHANGHAI)
        result = money.plan_repayment(
            self.states,
            amount=amount,
            paid_at=aware,
            daily_rate=self.rate,
            disbursed_on=self.disbursed_at.date(),
            mode=self.mode,
        )
        for state in self.states:
            if state.paid_off_at is aware:
                state.paid_off_at = paid_at
        parts = [
            (seq, part.fee, part.interest, part.principal)
            for seq, part in sorted(result.parts.items())
            if part.total > 0
        ]
        principal = sum((p[3] for p in parts), ZERO)
        payment = Payment(paid_at, amount, principal, parts, result.unapplied)
        self.payments.append(payment)
        if result.settles:
            self.settled_at = paid_at
        return payment

    def outstanding_at(self, moment: datetime) -> Decimal:
        """Principal not yet repaid at `moment` (written off or not)."""
        paid = sum((p.principal for p in self.payments if p.paid_at < moment), ZERO)
        return self.amount - paid

    @property
    def principal_outstanding(self) -> Decimal:
        return self.amount - sum((p.principal for p in self.payments), ZERO)
