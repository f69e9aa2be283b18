"""The money math of the book: schedules, daily interest, penalty, allocation, APR, DPD.

Pure functions on Decimal, no database, so the services, the demo seeder and the tests share
one implementation.

Rounding rule: every amount is rounded to the fen (0.01) half-up, once per instalment
component, at the moment it is fixed (when the schedule is built, when interest or penalty is
accrued). Sums of rounded components are never rounded again; the last instalment takes the
principal residue so a schedule's principal adds up exactly to the amount drawn.

Interest: a period's scheduled interest is opening principal x daily rate x 365/12 (a nominal
month), so the IRR-method APR of an equal-instalment loan equals daily rate x 365, the figure
PBOC asks lenders to show (RULES §4C: ¥10,000, 12 months, 0.05%/day -> ¥917.99, 18.25%).
Settling a loan early charges interest by the actual day instead: outstanding principal x
daily rate x days since the last due date (or disbursement).
Penalty: overdue principal accrues penalty interest at PENALTY_RATE_FACTOR x the daily rate for
each day past due, added to the instalment's fees as it is accrued.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
DAYS_PER_YEAR = Decimal(365)
MONTHS_PER_YEAR = Decimal(12)
# Penalty interest on overdue principal: half the contract rate again, so overdue principal
# costs 1.5x the daily rate in all (a common 罚息 convention).
PENALTY_RATE_FACTOR = Decimal("0.5")

# Delinquency buckets by days past due (RULES §5.1): (name, lowest DPD, highest DPD or None).
BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("M0", 0, 0),
    ("M1", 1, 30),
    ("M2", 31, 60),
    ("M3", 61, 90),
    ("M4", 91, 120),
    ("M5", 121, 150),
    ("M6", 151, 180),
    ("M7", 181, None),
)


def to_fen(value: Decimal) -> Decimal:
    """Round to the fen, half-up (the documented rounding rule)."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def monthly_rate(daily_rate: Decimal) -> Decimal:
    """The nominal monthly rate a daily rate implies: daily x 365 / 12."""
    return daily_rate * DAYS_PER_YEAR / MONTHS_PER_YEAR


def simple_apr(daily_rate: Decimal) -> Decimal:
    """Daily rate x 365, as a fraction (0.1825 for 0.05%/day)."""
    return daily_rate * DAYS_PER_YEAR


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (Jan 31 + 1 -> Feb 28/29)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class PlannedInstalment:
    seq: int
    due_date: date
    principal: Decimal
    interest: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest


def build_schedule(
    *, amount: Decimal, term_months: int, mode: str, daily_rate: Decimal, start: date
) -> list[PlannedInstalment]:
    """The instalment plan of a drawdown disbursed on `start`.

    Modes (lending.choices.RepaymentMode): equal_instalment (等额本息, constant payment),
    equal_principal (等额本金), interest_first (先息后本, principal in the last instalment).
    Due dates fall monthly on the disbursement day. Raises ValueError on a non-positive amount
    or rate, or a term outside 1-36.
    """
    if amount <= 0 or daily_rate <= 0 or not 1 <= term_months <= 36:
        raise ValueError("amount and rate must be positive and the term 1-36 months")
    rate = monthly_rate(daily_rate)
    if mode == "equal_instalment":
        with localcontext() as ctx:
            ctx.prec = 34
            factor = (1 + rate) ** term_months
            payment = to_fen(amount * rate * factor / (factor - 1))
    elif mode not in {"equal_principal", "interest_first"}:
        raise ValueError(f"unknown repayment mode {mode!r}")
    plan: list[PlannedInstalment] = []
    balance = amount
    for seq in range(1, term_months + 1):
        interest = to_fen(balance * rate)
        last = seq == term_months
        if last:
            principal = balance
        elif mode == "equal_instalment":
            principal = min(payment - interest, balance)
        elif mode == "equal_principal":
            principal = to_fen(amount / term_months)
        else:  # interest_first
            principal = ZERO
        plan.append(PlannedInstalment(seq, add_months(start, seq), principal, interest))
        balance -= principal
    return plan


def daily_interest(*, principal: Decimal, daily_rate: Decimal, days: int) -> Decimal:
    """Interest on `principal` for `days` days at `daily_rate`, rounded to the fen."""
    if days <= 0 or principal <= 0:
        return ZERO
    return to_fen(principal * daily_rate * days)


def penalty_interest(*, overdue_principal: Decimal, daily_rate: Decimal, days: int) -> Decimal:
    """Penalty on overdue principal for `days` days past due."""
    return daily_interest(
        principal=overdue_principal, daily_rate=daily_rate * PENALTY_RATE_FACTOR, days=days
    )


@dataclass
class InstalmentState:
    """What an allocation needs to know of an instalment (a model row or a seeder's record)."""

    seq: int
    due_date: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal = ZERO
    principal_paid: Decimal = ZERO
    interest_paid: Decimal = ZERO
    fee_paid: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return (
            self.principal_due
            + self.interest_due
            + self.fee_due
            - self.principal_paid
            - self.interest_paid
            - self.fee_paid
        )


@dataclass
class Allocation:
    seq: int
    fee: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.fee + self.interest + self.principal


@dataclass
class AllocationResult:
    allocations: list[Allocation] = field(default_factory=list)
    unapplied: Decimal = ZERO


def allocate(amount: Decimal, instalments: Sequence[InstalmentState]) -> AllocationResult:
    """Split a payment over instalments: oldest first, and within each fees, interest, principal.

    Mutates the states' paid amounts and returns what went where, plus any amount left over
    once everything given is paid. The caller decides which instalments are eligible (those
    due, then those ahead of time) and in which order; see the services.
    """
    left = amount
    result = AllocationResult()
    for inst in sorted(instalments, key=lambda i: i.seq):
        if left <= 0:
            break
        part = Allocation(inst.seq)
        for component in ("fee", "interest", "principal"):
            owed = getattr(inst, f"{component}_due") - getattr(inst, f"{component}_paid")
            take = min(owed, left)
            if take > 0:
                setattr(inst, f"{component}_paid", getattr(inst, f"{component}_paid") + take)
                setattr(part, component, take)
                left -= take
        if part.total > 0:
            result.allocations.append(part)
    result.unapplied = left
    return result


def days_past_due(oldest_unpaid_due: date | None, today: date) -> int:
    """Days since the oldest unpaid due date; 0 when nothing is overdue (due today is not late)."""
    if oldest_unpaid_due is None:
        return 0
    return max((today - oldest_unpaid_due).days, 0)


def bucket_for(dpd: int) -> str:
    """The M-bucket for a DPD figure: M0 current, M1 1-30, ..., M7 over 180."""
    for name, low, high in BUCKETS:
        if dpd >= low and (high is None or dpd <= high):
            return name
    raise ValueError(f"negative DPD {dpd}")


def bucket_due_date_range(bucket: str, today: date) -> tuple[date | None, date | None]:
    """The range of `oldest_unpaid_due` dates that puts a line in `bucket` today.

    (lowest date, highest date), either end None for open. M0 means nothing overdue: the date
    is today or later, or there is none (the caller adds `IS NULL`). This lets a database
    filter by bucket on an indexed date column instead of computing DPD per row.
    """
    for name, low, high in BUCKETS:
        if name == bucket:
            if name == "M0":
                return today, None
            earliest = None if high is None else today - timedelta(days=high)
            return earliest, today - timedelta(days=low)
    raise ValueError(f"unknown bucket {bucket!r}")


def monthly_status(
    *,
    month_end: date,
    dpd_at_month_end: int,
    due_in_month: bool,
    settled_in_month: bool,
    written_off: bool = False,
) -> str:
    """The PBOC 24-month status character for one account-month (RULES §3A.6).

    C settled, G written off, * nothing due and no arrears, N paid as agreed, 1-7 DPD bucket.
    """
    if settled_in_month:
        return "C"
    if written_off:
        return "G"
    if dpd_at_month_end == 0:
        return "N" if due_in_month else "*"
    return str(min(int(bucket_for(dpd_at_month_end)[1:]), 7))


def irr_monthly(principal: Decimal, payments: Iterable[Decimal]) -> Decimal:
    """The monthly rate r with principal = sum(payment_k / (1 + r)^k).

    Newton's method in binary floating point, started at the flat-rate guess: the present value
    is smooth and convex in r, so it converges in a handful of steps to ~1e-15, far beyond the
    four decimals shown, at a small fraction of the cost of Decimal bisection (the API computes
    one per drawdown). Falls back to bisection should Newton leave [0, 1].
    """
    flows = [float(p) for p in payments]
    target = float(principal)
    if sum(flows) <= target or target <= 0:
        return Decimal(0)

    def present_value(rate: float) -> float:
        return sum(f / (1 + rate) ** (k + 1) for k, f in enumerate(flows))

    rate = (sum(flows) - target) / target / len(flows)
    for _ in range(50):
        value = present_value(rate) - target
        slope = sum(-(k + 1) * f / (1 + rate) ** (k + 2) for k, f in enumerate(flows))
        step = value / slope
        rate -= step
        if not 0 <= rate <= 1:
            break
        if abs(step) < 1e-15:
            return Decimal(repr(rate))
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        if present_value(mid) > target:
            low = mid
        else:
            high = mid
    return Decimal(repr((low + high) / 2))


def apr_irr(
    *, amount: Decimal, schedule: Sequence[PlannedInstalment], upfront_fee: Decimal = ZERO
) -> Decimal:
    """All-in APR by the IRR method, PBOC simple basis: 12 x monthly IRR (RULES §4C).

    `upfront_fee` is deducted from what the borrower receives (never allowed here, but the
    formula shows why it raises the true cost). Returned as a fraction to four places:
    Decimal("0.1825") is shown as 18.25%.
    """
    monthly = irr_monthly(amount - upfront_fee, (p.total for p in schedule))
    return (monthly * MONTHS_PER_YEAR).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
