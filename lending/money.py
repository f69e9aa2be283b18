"""The money math of the book: schedules, interest, penalty, allocation, repayment, APR, DPD.

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

Repayment (plan_repayment: the rules of lending.services.repayment_record, which the demo
seeder replays in memory):
1. Penalty is accrued on overdue principal up to the paid date, each day once
   (accrue_penalties).
2. The money pays the instalments due by then, oldest first, and within each fees, then
   interest, then principal (allocate).
3. Early settlement: if what is left equals the payoff of the instalments not yet due, the
   loan settles, with the current period's interest charged by the day (capped at its
   scheduled interest) and later periods' interest waived.
4. Otherwise the rest pays the next instalments ahead of time, on the standing schedule.
5. More than the payoff raises lending.errors.Overpayment.
The paid date is the payment time's date in the project's time zone (django.utils.timezone).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Protocol

from django.utils import timezone

from lending.errors import Overpayment

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


@dataclass(slots=True)  # slots: the seeder holds millions of these
class InstalmentState:
    """An instalment in memory: what allocate needs, plus what plan_repayment needs.

    allocate reads the amounts only; plan_repayment (the seeder's record) also the date penalty
    has been accrued through and when the instalment was paid in full.
    """

    seq: int
    due_date: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal = ZERO
    principal_paid: Decimal = ZERO
    interest_paid: Decimal = ZERO
    fee_paid: Decimal = ZERO
    penalty_through: date | None = None
    paid_off_at: datetime | None = None

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
    due, then those ahead of time) and in which order; see plan_repayment.
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


class InstalmentLike(Protocol):
    """The instalment fields the repayment plan reads and writes: a model row
    (lending.models.Instalment), or an InstalmentState (the seeder's in-memory record)."""

    seq: int
    due_date: date
    principal_due: Decimal
    interest_due: Decimal
    fee_due: Decimal
    principal_paid: Decimal
    interest_paid: Decimal
    fee_paid: Decimal
    penalty_through: date | None
    paid_off_at: datetime | None


@dataclass
class InstalmentOutcome:
    """What one repayment did to one instalment."""

    fee: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO
    penalty_accrued: Decimal = ZERO
    # The instalment's fields that changed (update_fields for a model row).
    fields: set[str] = field(default_factory=set)

    @property
    def total(self) -> Decimal:
        return self.fee + self.interest + self.principal


@dataclass
class RepaymentPlan:
    """The outcome of plan_repayment: per-instalment parts (by seq), and whether it settles."""

    parts: dict[int, InstalmentOutcome] = field(default_factory=dict)
    settles: bool = False
    penalty_accrued: Decimal = ZERO


def _remaining(inst: InstalmentLike) -> Decimal:
    return (
        inst.principal_due
        + inst.interest_due
        + inst.fee_due
        - inst.principal_paid
        - inst.interest_paid
        - inst.fee_paid
    )


def _state(inst: InstalmentLike) -> InstalmentState:
    return InstalmentState(
        seq=inst.seq,
        due_date=inst.due_date,
        principal_due=inst.principal_due,
        interest_due=inst.interest_due,
        fee_due=inst.fee_due,
        principal_paid=inst.principal_paid,
        interest_paid=inst.interest_paid,
        fee_paid=inst.fee_paid,
    )


def _allocate_onto(
    amount: Decimal, instalments: list[InstalmentLike], parts: dict[int, InstalmentOutcome]
) -> Decimal:
    """allocate over `instalments`, copied back onto them; returns what was left."""
    by_seq = {inst.seq: inst for inst in instalments}
    states = {inst.seq: _state(inst) for inst in instalments}
    result = allocate(amount, list(states.values()))
    for alloc in result.allocations:
        inst, state = by_seq[alloc.seq], states[alloc.seq]
        inst.fee_paid = state.fee_paid
        inst.interest_paid = state.interest_paid
        inst.principal_paid = state.principal_paid
        part = parts.setdefault(alloc.seq, InstalmentOutcome())
        part.fee += alloc.fee
        part.interest += alloc.interest
        part.principal += alloc.principal
        part.fields |= {"fee_paid", "interest_paid", "principal_paid"}
    return result.unapplied


def accrue_penalties(
    instalments: Sequence[InstalmentLike], *, daily_rate: Decimal, on: date
) -> dict[int, Decimal]:
    """Accrue penalty interest up to `on` on every overdue instalment; return it by seq.

    An instalment is overdue when its due date is before `on` and principal is unpaid. It
    accrues penalty_interest on that unpaid principal for the days from
    max(due date, penalty_through) to `on`, added to fee_due; penalty_through becomes `on`
    (even when the penalty rounds to 0.00). Mutates the instalments.
    """
    accrued: dict[int, Decimal] = {}
    for inst in instalments:
        overdue_principal = inst.principal_due - inst.principal_paid
        if inst.paid_off_at is not None or inst.due_date >= on or overdue_principal <= 0:
            continue
        accrue_from = max(inst.due_date, inst.penalty_through or inst.due_date)
        days = (on - accrue_from).days
        if days <= 0:
            continue
        penalty = penalty_interest(
            overdue_principal=overdue_principal, daily_rate=daily_rate, days=days
        )
        inst.fee_due += penalty
        inst.penalty_through = on
        accrued[inst.seq] = penalty
    return accrued


def plan_repayment(
    instalments: Sequence[InstalmentLike],
    *,
    amount: Decimal,
    paid_at: datetime,
    daily_rate: Decimal,
    disbursed_on: date,
    loan_no: str = "",
) -> RepaymentPlan:
    """Apply a repayment to a drawdown's instalments in memory (no database): the rules of
    lending.services.repayment_record, shared with the demo seeder so the two cannot drift.
    The paid date is `paid_at` in the project's time zone (django.utils.timezone).

    Mutates the instalments (sorted by seq by the caller or not: they are sorted here) and
    returns what went where. Raises Overpayment, leaving the instalments half-changed: the
    caller discards them (the service's transaction rolls back).
    """
    ordered = sorted(instalments, key=lambda inst: inst.seq)
    paid_date = timezone.localdate(paid_at)
    plan = RepaymentPlan()

    # 1. Penalty on overdue principal up to the paid date.
    for seq, penalty in accrue_penalties(ordered, daily_rate=daily_rate, on=paid_date).items():
        part = plan.parts.setdefault(seq, InstalmentOutcome())
        part.penalty_accrued = penalty
        part.fields |= {"fee_due", "penalty_through"}
        plan.penalty_accrued += penalty

    # 2. Instalments due by the paid date, oldest first, fees -> interest -> principal.
    due = [i for i in ordered if i.due_date <= paid_date and i.paid_off_at is None]
    rest = _allocate_onto(amount, due, plan.parts)

    # 3./4./5. What is left goes to the instalments not yet due.
    future = [i for i in ordered if i.due_date > paid_date]
    if rest > 0:
        payoff, settle_interest = _payoff(ordered, future, paid_date, daily_rate, disbursed_on)
        if rest > payoff:
            raise Overpayment(loan_no=loan_no, amount=amount, payoff=amount - rest + payoff)
        if rest == payoff:
            plan.settles = True
            for inst in future:
                if settle_interest[inst.seq] != inst.interest_due:
                    inst.interest_due = settle_interest[inst.seq]
                    plan.parts.setdefault(inst.seq, InstalmentOutcome()).fields.add("interest_due")
        left = _allocate_onto(rest, list(future), plan.parts)
        # The payoff bounds `rest`, and every future instalment's remaining is at least its
        # share of the payoff, so nothing can be left over here.
        if left != 0:
            raise RuntimeError(f"{left} left over after the payoff check")

    # Every instalment now fully paid is marked, whichever step paid it.
    for inst in ordered:
        if inst.paid_off_at is None and _remaining(inst) == 0:
            inst.paid_off_at = paid_at
            plan.parts.setdefault(inst.seq, InstalmentOutcome()).fields.add("paid_off_at")
    if all(inst.paid_off_at is not None for inst in ordered):
        plan.settles = True  # paid off early, or the last payment on or after its due date
    return plan


def _payoff(
    ordered: list[InstalmentLike],
    future: list[InstalmentLike],
    paid_date: date,
    daily_rate: Decimal,
    disbursed_on: date,
) -> tuple[Decimal, dict[int, Decimal]]:
    """What settles the instalments not yet due on `paid_date`, and their new interest_due.

    Current period (the first instalment not yet due): interest by the actual day on the
    principal still outstanding, since the previous due date or disbursement, capped at the
    scheduled interest. Later periods: interest waived, except what a prepayment already
    paid (it is kept, never refunded here). Fees on them, if any, stay due.
    """
    if not future:
        return ZERO, {}
    current = future[0]
    previous = [inst for inst in ordered if inst.seq < current.seq]
    period_start = previous[-1].due_date if previous else disbursed_on
    outstanding_principal = sum((i.principal_due - i.principal_paid for i in future), ZERO)
    accrued = daily_interest(
        principal=outstanding_principal,
        daily_rate=daily_rate,
        days=(paid_date - period_start).days,
    )
    new_interest = {current.seq: max(min(accrued, current.interest_due), current.interest_paid)}
    for inst in future[1:]:
        new_interest[inst.seq] = inst.interest_paid
    payoff = sum(
        (
            (i.principal_due - i.principal_paid)
            + (new_interest[i.seq] - i.interest_paid)
            + (i.fee_due - i.fee_paid)
            for i in future
        ),
        ZERO,
    )
    return payoff, new_interest


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
