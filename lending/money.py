"""The money math of the book: schedules, interest, penalty, allocation, repayment, APR, DPD.

Pure functions on Decimal, no database, so the services, the demo seeder, the day close and
the tests share one implementation. The product's rates and caps come from lending.caps.

Rounding: every amount is rounded to the fen (0.01) half-up, once per instalment component, at
the moment it is fixed (when the schedule is built, when interest is reduced by a prepayment,
when penalty is accrued); a figure that is revised (penalty as days pass, interest as
principal is repaid early) changes by the difference of two rounded cumulative figures, so
rounding errors do not pile up (penalty accrued nightly equals penalty accrued at once).
Sums of rounded components are never rounded again; the last instalment of a schedule takes
the principal residue, so its principal adds up exactly to the amount drawn.

Interest: a period's scheduled interest is its opening principal x daily rate x 365/12 (a
nominal month), so the IRR-method APR of an equal-instalment loan equals daily rate x 365, the
figure PBOC asks lenders to show (RULES §4C: ¥10,000, 12 months, 0.05%/day -> ¥917.99,
18.25%). Interest is owed only for the days principal is used (RULES §4B.3): principal repaid
early, d days into its period, is charged d days of interest instead of the period's 365/12;
principal that stays through a period is charged the nominal month. Precisely, with P the
principal not yet due before the payment, the current instalment's interest drops by
to_fen(P x r x 365/12) - to_fen(P x r x 365/12 - repaid x r x (365/12 - d)), so repaying all
of P leaves to_fen(P x r x d) on an instalment scheduled at to_fen(P x r x 365/12). Settling
¥10,000 on day 15 therefore costs ¥75.00 of interest, and every fen less than the payoff costs
at most a fen more.

Penalty: from the day after its due date, an instalment's unpaid principal no longer earns
contract interest but penalty interest at penalty_daily_rate (caps.penalty_rate_factor() x the
daily rate, 1.5x by default, at most caps.apr_ceiling() / 365 a day, and never less than the
contract rate, so paying late never costs less a day than paying on time). Penalty is not
charged on unpaid interest or on penalty. Penalty accrued through day D on principal P is
to_fen(P x penalty rate x days past due at D); each accrual books the increase since
`penalty_through` into fee_due, so a nightly day close and one accrual at payment book the
same fen (accrue_penalties).

Cleared for DPD: an instalment whose principal and interest are paid is cleared: paid_off_at
is set, whatever penalty it still owes. Penalty left unpaid stays owed (fee_due - fee_paid),
shown and collected by later payments, but keeps no DPD running (the line's oldest_unpaid_due
counts only instalments with paid_off_at unset). A drawdown is settled only when everything,
penalty included, is paid.

Repayment (plan_repayment: the rules of lending.services.repayment_record, which the demo
seeder replays in memory). The paid date is the payment time's date in the project's time
zone (django.utils.timezone); an instalment is due on its due date.
1. Penalty is accrued on overdue principal up to the paid date (accrue_penalties).
2. The money pays the instalments due by the paid date: the interest then principal of each,
   oldest first; then their unpaid penalty, oldest first (allocate). Penalty comes last so
   that a borrower who pays the principal and interest shown is cleared for DPD and owes only
   the penalty, instead of being left a few fen of principal short and still delinquent.
3. What is left pays ahead of time: first the interest earned so far in the current period
   (what settling now would charge, rule above, less what is paid), then principal: the
   current instalment's, then the later instalments'. Interest is never paid for days not yet
   passed, so paying part early and the rest later never costs more than paying it all later.
   The current instalment's interest becomes the period's interest with that principal
   repaid (rule above). Principal beyond the current instalment's is booked on it (its
   principal_due grows by it) and what the later instalments still owe is re-amortised over
   them on the same due dates, as build_schedule would schedule a loan of that principal over
   that many months in the loan's repayment mode. When the current instalment's principal is
   repaid ahead of time it is cleared with the interest earned so far, and the rest of its
   period's interest, on the principal still owed, moves to the next instalment (whose
   interest thus runs from the payment date; until the period ends that instalment carries
   the period's interest, and the days are counted over both periods). An early payment of
   part of an instalment leaves the rest due on its due date.
4. At or above the payoff (payoff_amount: everything due, the interest earned so far, all
   principal not yet due, unpaid fees) the loan settles; later interest is waived. What is
   above the payoff is returned as RepaymentPlan.unapplied (repayment_record stores it as
   Repayment.unapplied_amount, owed back to the borrower).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Protocol

from django.utils import timezone

from lending import caps

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
DAYS_PER_YEAR = Decimal(365)
MONTHS_PER_YEAR = Decimal(12)

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


def month_interest(balance: Decimal, daily_rate: Decimal) -> Decimal:
    """A period's interest on `balance`: a nominal month, balance x daily x 365 / 12, to the fen.

    Multiplied out before the one division, so an exact half fen rounds up as it should
    (with the monthly rate divided first, 24.00 at 0.05%/day could come to 0.36, not 0.37).
    """
    return to_fen(balance * daily_rate * DAYS_PER_YEAR / MONTHS_PER_YEAR)


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
    Each month's interest is month_interest on the balance; the last instalment takes the
    principal left, and none takes more than is left. Due dates fall monthly on the
    disbursement day. Raises ValueError on a non-positive amount or rate, or a term outside
    1-36.
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
        interest = month_interest(balance, daily_rate)
        last = seq == term_months
        if last:
            principal = balance
        elif mode == "equal_instalment":
            principal = min(payment - interest, balance)
        elif mode == "equal_principal":
            # min: a tiny re-amortised amount rounded up per month could overshoot the balance.
            principal = min(to_fen(amount / term_months), balance)
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


def penalty_daily_rate(daily_rate: Decimal) -> Decimal:
    """The daily rate overdue principal accrues at instead of the contract rate.

    caps.penalty_rate_factor() x the contract rate (1.5x), at most caps.apr_ceiling() / 365 (the
    24% ceiling covers penalty too, RULES §4B.4). Never below the contract rate itself: a
    contract above the ceiling (which drawdown_create should refuse) keeps its own rate when
    overdue rather than making lateness cheaper than paying on time.
    """
    capped = min(daily_rate * caps.penalty_rate_factor(), caps.apr_ceiling() / DAYS_PER_YEAR)
    return max(capped, daily_rate)


def penalty_interest(*, overdue_principal: Decimal, daily_rate: Decimal, days: int) -> Decimal:
    """Penalty on `overdue_principal` for `days` days past due (daily_rate: the contract's),
    at penalty_daily_rate, to the fen.

    Computed as one product and at most one division (by 365 when the ceiling applies), so an
    exact half fen rounds up.
    """
    if days <= 0 or overdue_principal <= 0:
        return ZERO
    factor, ceiling = caps.penalty_rate_factor(), caps.apr_ceiling()
    if factor <= 1 or daily_rate * DAYS_PER_YEAR >= ceiling:  # the contract rate is the floor
        return to_fen(overdue_principal * daily_rate * days)
    if daily_rate * factor * DAYS_PER_YEAR <= ceiling:
        return to_fen(overdue_principal * daily_rate * factor * days)
    return to_fen(overdue_principal * ceiling * days / DAYS_PER_YEAR)


@dataclass(slots=True)  # slots: the seeder holds millions of these
class InstalmentState:
    """An instalment in memory: what allocate needs, plus what plan_repayment needs.

    allocate reads the amounts only; plan_repayment (the seeder's record) also the date penalty
    has been accrued through and when the instalment was cleared for DPD (paid_off_at: its
    principal and interest paid).
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
    """Split a payment over due instalments: interest then principal of each, oldest first;
    then their unpaid penalty (fees), oldest first.

    Penalty last: paying the principal and interest of what is due clears it for DPD, and a
    shortfall is left on the penalty, which earns nothing, rather than on principal, which
    would keep accruing penalty. Mutates the states' paid amounts and returns what went where
    (one Allocation per instalment reached, by seq) and what was left once all given is paid.
    """
    left = amount
    parts: dict[int, Allocation] = {}
    ordered = sorted(instalments, key=lambda i: i.seq)
    passes = (("interest", "principal"), ("fee",))
    for components in passes:
        for inst in ordered:
            for component in components:
                if left <= 0:
                    break
                owed = getattr(inst, f"{component}_due") - getattr(inst, f"{component}_paid")
                take = min(owed, left)
                if take > 0:
                    setattr(inst, f"{component}_paid", getattr(inst, f"{component}_paid") + take)
                    part = parts.setdefault(inst.seq, Allocation(inst.seq))
                    setattr(part, component, getattr(part, component) + take)
                    left -= take
    return AllocationResult([parts[seq] for seq in sorted(parts)], left)


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


def is_cleared(inst: InstalmentLike) -> bool:
    """Cleared for DPD: principal and interest fully paid (penalty may still be owed)."""
    return inst.principal_paid >= inst.principal_due and inst.interest_paid >= inst.interest_due


def remaining(inst: InstalmentLike) -> Decimal:
    """Everything the instalment still owes: principal, interest and penalty."""
    return (
        inst.principal_due
        + inst.interest_due
        + inst.fee_due
        - inst.principal_paid
        - inst.interest_paid
        - inst.fee_paid
    )


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
    """The outcome of plan_repayment: per-instalment parts (by seq), whether it settles the
    drawdown, the penalty it accrued, and what was paid above the payoff (owed back)."""

    parts: dict[int, InstalmentOutcome] = field(default_factory=dict)
    settles: bool = False
    penalty_accrued: Decimal = ZERO
    unapplied: Decimal = ZERO


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
        penalty_through=inst.penalty_through,
        paid_off_at=inst.paid_off_at,
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

    The function the repayment plan runs first and the nightly day close runs for each active
    drawdown (`on`: the day being closed). An instalment is overdue when its due date is before
    `on` and principal is unpaid. Penalty through `on` on that principal P is
    to_fen(P x penalty_daily_rate x (on - due date).days); what is booked now is that less the
    same figure at penalty_through (the days already booked), added to fee_due, and
    penalty_through becomes `on`, even when the increase rounds to 0.00. So accruing day by
    day and once at the end book the same fen, and each day is counted once whatever the
    order of day closes and payments. `daily_rate` is the contract rate. Mutates the
    instalments; an `on` at or before penalty_through books nothing.
    """
    accrued: dict[int, Decimal] = {}
    for inst in instalments:
        overdue_principal = inst.principal_due - inst.principal_paid
        if inst.due_date >= on or overdue_principal <= 0:
            continue
        through = max(inst.due_date, inst.penalty_through or inst.due_date)
        if on <= through:
            continue
        booked = penalty_interest(
            overdue_principal=overdue_principal,
            daily_rate=daily_rate,
            days=(through - inst.due_date).days,
        )
        penalty = (
            penalty_interest(
                overdue_principal=overdue_principal,
                daily_rate=daily_rate,
                days=(on - inst.due_date).days,
            )
            - booked
        )
        inst.fee_due += penalty
        inst.penalty_through = on
        accrued[inst.seq] = penalty
    return accrued


@dataclass
class _Current:
    """The current period at a payment date, and what paying ahead of time needs to price.

    `inst` is the instalment that carries the current period's interest: the first one not yet
    due and not yet cleared. Normally its period contains the payment date (span_months 1);
    when the instalment of that period was already cleared ahead of time, the next one carries
    the rest of the period's interest (rule 3), and the span counts both periods.
    """

    inst: InstalmentLike
    later: list[InstalmentLike]  # the instalments after `inst`
    daily_rate: Decimal
    span_months: int  # nominal months from the start of the payment's period to inst's due date
    days_used: int  # days from the start of the payment's period to the payment date
    principal_current: Decimal  # unpaid principal of `inst`
    principal_later: Decimal  # unpaid principal of the later instalments
    fees: Decimal  # unpaid fees of all instalments not yet due (none in practice)

    @property
    def principal(self) -> Decimal:
        return self.principal_current + self.principal_later

    def _span_less(self, repaid: Decimal) -> Decimal:
        """Interest on the principal not yet due for the whole span, less the days not used
        (from the payment to inst's due date) on `repaid` of it, to the fen:
        (P x r x 365 x n - repaid x r x (365 x n - 12 x days used)) / 12, one division, so an
        exact half fen rounds up."""
        r, n = self.daily_rate, self.span_months
        unused_twelfths = max(int(DAYS_PER_YEAR) * n - 12 * self.days_used, 0)
        twelfths = self.principal * r * DAYS_PER_YEAR * n - repaid * r * unused_twelfths
        return to_fen(twelfths / MONTHS_PER_YEAR)

    def interest_after(self, repaid: Decimal) -> Decimal:
        """inst's interest once `repaid` of the principal not yet due is repaid now: less the
        drop of _span_less, so that repaying all of it leaves exactly to_fen(P x r x days
        used) on an instalment charged a nominal month on P; never below what is paid."""
        saving = self._span_less(ZERO) - self._span_less(repaid)
        return max(self.inst.interest_due - saving, self.inst.interest_paid, ZERO)

    def earned(self) -> Decimal:
        """Interest earned by the payment date and not yet paid: what settling now charges."""
        return self.interest_after(self.principal) - self.inst.interest_paid

    def payoff(self) -> Decimal:
        """Everything not yet due, settled now: fees, interest earned, all principal."""
        return self.fees + self.earned() + self.principal


def _current_period(
    ordered: list[InstalmentLike], paid_date: date, daily_rate: Decimal, disbursed_on: date
) -> _Current | None:
    """The current period at `paid_date`, or None when every instalment is due by then."""
    future = [inst for inst in ordered if inst.due_date > paid_date]
    if not future:
        return None
    first = future[0]
    previous = [inst for inst in ordered if inst.seq < first.seq]
    period_start = previous[-1].due_date if previous else disbursed_on
    # The carrier: the first instalment not yet due whose principal or interest is unpaid
    # (the last one if all are cleared; then nothing is left but fees, if any).
    carrier = next((inst for inst in future if not is_cleared(inst)), future[-1])
    later = [inst for inst in future if inst.seq > carrier.seq]
    return _Current(
        inst=carrier,
        later=later,
        daily_rate=daily_rate,
        # A period is at most 31 days and its due date is not in it, so days used <= 30 <
        # 365/12: what is left of the span is never negative.
        span_months=carrier.seq - first.seq + 1,
        days_used=(paid_date - period_start).days,
        principal_current=carrier.principal_due - carrier.principal_paid,
        principal_later=sum((i.principal_due - i.principal_paid for i in later), ZERO),
        fees=sum((i.fee_due - i.fee_paid for i in future), ZERO),
    )


def payoff_amount(
    instalments: Sequence[InstalmentLike], *, daily_rate: Decimal, disbursed_on: date, on: date
) -> Decimal:
    """What settles the drawdown on `on`: everything due by then (penalty accrued to `on`
    included), all principal not yet due, and the current period's interest by the day.

    Pure: the instalments are not changed (penalty is accrued on copies).
    """
    states: list[InstalmentLike] = [_state(inst) for inst in instalments]
    states.sort(key=lambda inst: inst.seq)
    accrue_penalties(states, daily_rate=daily_rate, on=on)
    due = sum((remaining(inst) for inst in states if inst.due_date <= on), ZERO)
    current = _current_period(states, on, daily_rate, disbursed_on)
    return due + (current.payoff() if current else ZERO)


def _reamortise(
    later: list[InstalmentLike],
    principal: Decimal,
    *,
    mode: str,
    daily_rate: Decimal,
    start: date,
    parts: dict[int, InstalmentOutcome],
) -> None:
    """Spread `principal` (what the later instalments still owe) over them anew, on their due
    dates, as build_schedule would for a loan of `principal` over len(later) months in `mode`
    starting on `start` (the current instalment's due date). What they have already been paid
    stays paid; interest already paid is never taken back."""
    if not later:
        return
    if principal > 0:
        plan = build_schedule(
            amount=principal,
            term_months=len(later),
            mode=mode,
            daily_rate=daily_rate,
            start=start,
        )
        shares = [(p.principal, p.interest) for p in plan]
    else:
        shares = [(ZERO, ZERO)] * len(later)
    for inst, (share, interest) in zip(later, shares, strict=True):
        new_principal = inst.principal_paid + share
        new_interest = max(interest, inst.interest_paid)
        part = parts.setdefault(inst.seq, InstalmentOutcome())
        if new_principal != inst.principal_due:
            inst.principal_due = new_principal
            part.fields.add("principal_due")
        if new_interest != inst.interest_due:
            inst.interest_due = new_interest
            part.fields.add("interest_due")


def _pay_ahead(
    money: Decimal,
    current: _Current,
    *,
    mode: str,
    daily_rate: Decimal,
    parts: dict[int, InstalmentOutcome],
) -> Decimal:
    """Rules 3 and 4: `money` (what is left once everything due is paid) pays ahead of time,
    or settles. Returns what is above the payoff."""
    inst = current.inst
    # Fees first (there are none on instalments not yet due unless a schedule was edited).
    fees_paid = min(money, current.fees)
    _allocate_fees(fees_paid, [inst, *current.later], parts)
    left = money - fees_paid
    part = parts.setdefault(inst.seq, InstalmentOutcome())
    # Interest earned to date, then principal: nothing is paid for days not yet passed.
    earned = min(current.earned(), left)
    left -= earned
    repaid = min(left, current.principal)
    if repaid > 0:
        interest = current.interest_after(repaid)
        if interest != inst.interest_due:
            inst.interest_due = interest
            part.fields.add("interest_due")
    if earned > 0:
        inst.interest_paid += earned
        part.interest += earned
        part.fields.add("interest_paid")
    if repaid <= 0:
        return ZERO
    beyond = repaid - current.principal_current
    if beyond > 0:
        # Booked on `inst`, the principal repaid in its period; the later instalments are
        # re-amortised on what they still owe.
        inst.principal_due += beyond
        part.fields.add("principal_due")
        _reamortise(
            current.later,
            current.principal_later - beyond,
            mode=mode,
            daily_rate=daily_rate,
            start=inst.due_date,
            parts=parts,
        )
    inst.principal_paid += repaid
    part.principal += repaid
    part.fields.add("principal_paid")
    unearned = inst.interest_due - inst.interest_paid
    if beyond >= 0 and unearned > 0 and current.later:
        # Its principal repaid ahead of time, `inst` is cleared with the interest earned so
        # far; the rest of its period's interest, on the principal still owed, is due with
        # the next instalment (whose interest thus runs from the payment date).
        following = current.later[0]
        inst.interest_due = inst.interest_paid
        following.interest_due += unearned
        parts.setdefault(following.seq, InstalmentOutcome()).fields.add("interest_due")
    return left - repaid


def _allocate_fees(
    amount: Decimal, instalments: list[InstalmentLike], parts: dict[int, InstalmentOutcome]
) -> None:
    """Pay unpaid fees of `instalments` in order with `amount` (at most what they owe)."""
    left = amount
    for inst in instalments:
        take = min(inst.fee_due - inst.fee_paid, left)
        if take > 0:
            inst.fee_paid += take
            part = parts.setdefault(inst.seq, InstalmentOutcome())
            part.fee += take
            part.fields.add("fee_paid")
            left -= take


def plan_repayment(
    instalments: Sequence[InstalmentLike],
    *,
    amount: Decimal,
    paid_at: datetime,
    daily_rate: Decimal,
    disbursed_on: date,
    mode: str,
) -> RepaymentPlan:
    """Apply a repayment to a drawdown's instalments in memory (no database): the rules of
    lending.services.repayment_record (numbered in this module's docstring), shared with the
    demo seeder so the two cannot drift.

    `mode` is the drawdown's repayment mode (re-amortisation follows it); the paid date is
    `paid_at` in the project's time zone. Mutates the instalments (sorted here by seq) and
    returns what went where; never raises for the amount: what is above the payoff settles the
    loan and comes back as `unapplied`.
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

    # 2. Instalments due by the paid date, cleared ones with penalty left included.
    due = [inst for inst in ordered if inst.due_date <= paid_date and remaining(inst) > 0]
    rest = _allocate_onto(amount, due, plan.parts)

    # 3./4. What is left pays ahead, or settles; above the payoff it is unapplied.
    current = _current_period(ordered, paid_date, daily_rate, disbursed_on)
    if rest > 0 and current is not None:
        plan.unapplied = _pay_ahead(
            rest, current, mode=mode, daily_rate=daily_rate, parts=plan.parts
        )
    else:
        plan.unapplied = rest

    # Cleared for DPD (principal and interest paid), whichever step did it. A later
    # instalment re-amortised to nothing is cleared too; one given principal again is not.
    for inst in ordered:
        cleared = is_cleared(inst)
        if cleared and inst.paid_off_at is None:
            inst.paid_off_at = paid_at
        elif not cleared and inst.paid_off_at is not None and inst.due_date > paid_date:
            inst.paid_off_at = None
        else:
            continue
        plan.parts.setdefault(inst.seq, InstalmentOutcome()).fields.add("paid_off_at")
    plan.settles = all(remaining(inst) == 0 for inst in ordered)
    return plan


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
