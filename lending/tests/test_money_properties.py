"""Economic properties of the repayment rules (lending.money), checked with Hypothesis against
an independent reference written here.

The reference (RefLoan) implements the rules stated in lending.money's module docstring from
scratch, in exact fractions: its own schedule (the annuity formula), its own penalty, its own
allocation, its own search for the prepayment split (a bisection, where money.py solves and
steps), its own re-amortisation. Every payment applied by money.plan_repayment is applied to
the reference too, and the two books must agree to the fen. The economic properties (paying
earlier or more never costs more, late never costs less a day than on time, a fen changes the
outcome by about a fen, the payoff is continuous) are then measured on whole loan lives.

Rounding makes some of them hold only up to fen: every instalment's interest is rounded to the
fen on its own, so a fen more or less of principal re-amortised over n later instalments can
move their total interest by up to n fen (in practice 0-5). The tolerances below say so where
they apply, and are never larger.
"""

from __future__ import annotations

import calendar
import dataclasses
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lending import money

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = date(2026, 1, 10)
CEILING = Fraction(24, 100)  # caps.DEFAULT_APR_CEILING
FACTOR = Fraction(3, 2)  # caps.DEFAULT_PENALTY_RATE_FACTOR
ONE_FEN = Fraction(1, 100)
MODES = ("equal_instalment", "equal_principal", "interest_first")


# --- the reference ---------------------------------------------------------------------------


def fen(x: Fraction) -> Fraction:
    """Half-up to the fen (amounts here are never negative)."""
    assert x >= 0
    return Fraction(math.floor(x * 100 + Fraction(1, 2)), 100)


def month_later(day: date, months: int) -> date:
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def ref_schedule(amount: Fraction, term: int, mode: str, rate: Fraction) -> list[list[Fraction]]:
    """[principal, interest] per month: interest = balance x rate x 365/12 to the fen; the
    payment of an equal-instalment loan from the annuity formula; the last month takes the
    principal left."""
    m = rate * 365 / 12
    payment = fen(amount * m / (1 - (1 + m) ** -term)) if mode == "equal_instalment" else None
    rows, balance = [], amount
    for k in range(1, term + 1):
        interest = fen(balance * m)
        if k == term:
            principal = balance
        elif mode == "equal_instalment":
            assert payment is not None
            principal = min(payment - interest, balance)
        elif mode == "equal_principal":
            principal = min(fen(amount / term), balance)
        else:
            principal = Fraction(0)
        rows.append([principal, interest])
        balance -= principal
    return rows


def ref_penalty_rate(rate: Fraction) -> Fraction:
    return max(rate, min(rate * FACTOR, CEILING / 365))


@dataclass
class RefInst:
    seq: int
    due: date
    p_due: Fraction
    i_due: Fraction
    f_due: Fraction = Fraction(0)
    p_paid: Fraction = Fraction(0)
    i_paid: Fraction = Fraction(0)
    f_paid: Fraction = Fraction(0)
    through: date | None = None

    @property
    def left(self) -> Fraction:
        return self.p_due + self.i_due + self.f_due - self.p_paid - self.i_paid - self.f_paid

    @property
    def cleared(self) -> bool:
        return self.p_paid == self.p_due and self.i_paid == self.i_due


class RefLoan:
    """The repayment rules, re-implemented plainly: a loan drawn on START."""

    def __init__(self, amount: Fraction, term: int, mode: str, rate: Fraction) -> None:
        self.amount, self.term, self.mode, self.rate = amount, term, mode, rate
        self.insts = [
            RefInst(k, month_later(START, k), p, i)
            for k, (p, i) in enumerate(ref_schedule(amount, term, mode, rate), start=1)
        ]
        self.paid = Fraction(0)  # money kept (payments less what came back unapplied)

    def accrue(self, on: date) -> None:
        pr = ref_penalty_rate(self.rate)
        for inst in self.insts:
            principal = inst.p_due - inst.p_paid
            start = max(inst.due, inst.through or inst.due)
            if inst.due < on and principal > 0 and on > start:
                done = fen(principal * pr * (start - inst.due).days)
                inst.f_due += fen(principal * pr * (on - inst.due).days) - done
                inst.through = on

    def payoff(self, on: date) -> Fraction:
        """What settles on `on`, measured by paying it on a copy: the smallest amount (found
        by bisection over fen) after which nothing is owed."""
        lo, hi = 0, int(self.amount * 200) + 100_000
        while lo < hi:
            mid = (lo + hi) // 2
            trial = self.copy()
            trial.pay(Fraction(mid, 100), on)
            if trial.settled:
                hi = mid
            else:
                lo = mid + 1
        return Fraction(lo, 100)

    def copy(self) -> RefLoan:
        other = RefLoan.__new__(RefLoan)
        other.__dict__.update(self.__dict__)
        other.insts = [RefInst(**vars(i)) for i in self.insts]
        return other

    @property
    def settled(self) -> bool:
        return all(i.left == 0 for i in self.insts)

    def pay(self, amount: Fraction, on: date) -> Fraction:
        """Apply a payment; returns what is above the payoff (unapplied)."""
        self.accrue(on)
        left = amount
        due = [i for i in self.insts if i.due <= on]
        for inst in due:  # interest then principal, oldest first
            for c in ("i", "p"):
                take = min(getattr(inst, f"{c}_due") - getattr(inst, f"{c}_paid"), left)
                setattr(inst, f"{c}_paid", getattr(inst, f"{c}_paid") + take)
                left -= take
        for inst in due:  # then penalty, oldest first
            take = min(inst.f_due - inst.f_paid, left)
            inst.f_paid += take
            left -= take
        future = [i for i in self.insts if i.due > on]
        unapplied = left
        if left > 0 and future:
            first = future[0]
            start = self.insts[first.seq - 2].due if first.seq > 1 else START
            used = (on - start).days
            # The current period's interest sits on the first instalment not yet cleared; when
            # that is a later one (the first was cleared ahead of time), it spans both periods.
            cur = next((i for i in future if not i.cleared), future[-1])
            months = cur.seq - first.seq + 1
            later = [i for i in future if i.seq > cur.seq]
            p_cur = cur.p_due - cur.p_paid
            p_later = sum((i.p_due - i.p_paid for i in later), Fraction(0))
            span = (p_cur + p_later) * self.rate * Fraction(365, 12) * months

            def interest(x: Fraction) -> Fraction:
                # x of the principal is charged the days used instead of the whole span.
                unused = x * self.rate * (Fraction(365, 12) * months - used)
                return max(cur.i_due - fen(span) + fen(span - unused), cur.i_paid, Fraction(0))

            for inst in future:  # fees (none expected on instalments not yet due)
                take = min(inst.f_due - inst.f_paid, left)
                inst.f_paid += take
                left -= take
            earned = min(interest(p_cur + p_later) - cur.i_paid, left)
            x = min(left - earned, p_cur + p_later)
            unapplied = left - earned - x
            if x > 0:
                cur.i_due = interest(x)
            cur.i_paid += earned
            if x > 0:
                if x > p_cur:
                    cur.p_due += x - p_cur
                    rest = p_later - (x - p_cur)
                    rows = (
                        ref_schedule(rest, len(later), self.mode, self.rate)
                        if rest > 0
                        else [[Fraction(0), Fraction(0)]] * len(later)
                    )
                    for inst, (p, i) in zip(later, rows, strict=True):
                        inst.p_due = inst.p_paid + p
                        inst.i_due = max(i, inst.i_paid)
                cur.p_paid += x
                if x >= p_cur and cur.i_due > cur.i_paid and later:
                    later[0].i_due += cur.i_due - cur.i_paid
                    cur.i_due = cur.i_paid
        self.paid += amount - unapplied
        return unapplied


# --- the function under test, driven the same way -------------------------------------------


def at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=SHANGHAI)


class Loan:
    """money.plan_repayment on InstalmentStates, as the seeder holds them."""

    def __init__(self, amount: Decimal, term: int, mode: str, rate: Decimal) -> None:
        self.amount, self.mode, self.rate = amount, mode, rate
        plan = money.build_schedule(
            amount=amount, term_months=term, mode=mode, daily_rate=rate, start=START
        )
        self.rows = [
            money.InstalmentState(p.seq, p.due_date, p.principal, p.interest) for p in plan
        ]
        self.paid = Decimal(0)
        self.settled = False

    def pay(self, amount: Decimal, on: date) -> money.RepaymentPlan:
        plan = money.plan_repayment(
            self.rows,
            amount=amount,
            paid_at=at(on),
            daily_rate=self.rate,
            disbursed_on=START,
            mode=self.mode,
        )
        self.paid += amount - plan.unapplied
        self.settled = plan.settles
        return plan

    def due_on(self, on: date) -> Decimal:
        """What the borrower owes on `on` (penalty to that day included), not changing rows."""
        copies = [dataclasses.replace(r) for r in self.rows]
        money.accrue_penalties(copies, daily_rate=self.rate, on=on)
        return sum((money.remaining(r) for r in copies if r.due_date <= on), Decimal(0))

    def finish(self, after: date) -> Decimal:
        """Pay every instalment left on its due date (on `after` what is already due), then
        return the total the borrower paid over the loan's life."""
        for row in self.rows:
            if self.settled:
                break
            day = max(row.due_date, after)
            owed = self.due_on(day)
            if owed > 0:
                self.pay(owed, day)
        assert self.settled
        return self.paid

    @property
    def cost(self) -> Decimal:
        """Interest and penalty paid: everything paid above the principal."""
        return self.paid - sum((r.principal_paid for r in self.rows), Decimal(0))


def F(value: Decimal) -> Fraction:
    return Fraction(value)


def assert_same_book(loan: Loan, ref: RefLoan) -> None:
    for row, inst in zip(loan.rows, ref.insts, strict=True):
        mine = (row.principal_due, row.interest_due, row.fee_due)
        theirs = (inst.p_due, inst.i_due, inst.f_due)
        assert tuple(map(F, mine)) == theirs, (row.seq, mine, theirs)
        paid = (row.principal_paid, row.interest_paid, row.fee_paid)
        assert tuple(map(F, paid)) == (inst.p_paid, inst.i_paid, inst.f_paid), (row.seq, paid)
        assert row.penalty_through == inst.through
        assert (row.paid_off_at is not None) == inst.cleared


# --- strategies ------------------------------------------------------------------------------

amounts = st.integers(min_value=100_00, max_value=50_000_00).map(lambda n: Decimal(n) / 100)
terms = st.sampled_from([1, 2, 3, 6, 9, 12, 18, 24, 36])
modes = st.sampled_from(MODES)
# 0.01%/day up to the 24% ceiling (0.0657%/day), where the penalty cap is meaningful.
rates = st.integers(min_value=100, max_value=657).map(lambda n: Decimal(n) / 1_000_000)
# Any legal rate, up to 36% a year (above the ceiling: the penalty falls back to the rate).
legal_rates = st.integers(min_value=100, max_value=986).map(lambda n: Decimal(n) / 1_000_000)


@st.composite
def loans(draw: st.DrawFn, rate_strategy: st.SearchStrategy[Decimal] = rates) -> tuple:
    return draw(amounts), draw(terms), draw(modes), draw(rate_strategy)


def life_days(term: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=31 * term + 60)


# --- agreement with the reference ------------------------------------------------------------


@settings(max_examples=250, deadline=None)
@given(
    loan=loans(legal_rates),
    steps=st.lists(
        st.tuples(st.integers(0, 75), st.integers(1, 6_000_000)), min_size=1, max_size=8
    ),
)
def test_every_payment_books_exactly_what_the_reference_books(loan, steps):
    amount, term, mode, rate = loan
    mine, ref = Loan(amount, term, mode, rate), RefLoan(F(amount), term, mode, F(rate))
    day = START
    for gap, fen_amount in steps:
        day += timedelta(days=gap)
        paid = Decimal(fen_amount) / 100
        plan = mine.pay(paid, day)
        unapplied = ref.pay(F(paid), day)
        assert F(plan.unapplied) == unapplied
        assert plan.settles == ref.settled
        assert_same_book(mine, ref)
        # Paid never exceeds due, principal always adds up to the amount drawn.
        for row in mine.rows:
            assert 0 <= row.principal_paid <= row.principal_due
            assert 0 <= row.interest_paid <= row.interest_due
            assert 0 <= row.fee_paid <= row.fee_due
        assert sum(r.principal_due for r in mine.rows) == amount
        assert sum(p.total for p in plan.parts.values()) + plan.unapplied == paid
        if plan.settles:
            break


@settings(max_examples=150, deadline=None)
@given(loan=loans(legal_rates), days=st.integers(0, 400))
def test_payoff_amount_is_the_least_that_settles_by_the_reference(loan, days):
    amount, term, mode, rate = loan
    on = START + timedelta(days=days)
    mine, ref = Loan(amount, term, mode, rate), RefLoan(F(amount), term, mode, F(rate))
    payoff = money.payoff_amount(mine.rows, daily_rate=rate, disbursed_on=START, on=on)
    assert F(payoff) == ref.payoff(on)
    assert mine.pay(payoff, on).settles


# --- the economics ---------------------------------------------------------------------------


def one_payment_life(loan: tuple, paid: Decimal, on: date) -> Loan:
    """A borrower who pays `paid` on `on` and then every instalment on its due date."""
    mine = Loan(*loan)
    mine.pay(paid, on)
    mine.finish(on)
    return mine


def later_instalments(loan: tuple, on: date) -> int:
    _amount, term, _mode, _rate = loan
    return sum(1 for k in range(1, term + 1) if money.add_months(START, k) > on)


@settings(max_examples=120, deadline=None)
@given(
    loan=loans(),
    day=st.integers(0, 400),
    paid=st.integers(1, 5_000_000),
    more=st.integers(1, 2_000_000),
)
def test_paying_more_never_costs_more_interest_and_penalty(loan, day, paid, more):
    on = START + timedelta(days=day)
    assume(on < money.add_months(START, loan[1]) + timedelta(days=60))
    less = one_payment_life(loan, Decimal(paid) / 100, on)
    extra = one_payment_life(loan, Decimal(paid + more) / 100, on)
    # Rounding: re-amortising a different principal over n later instalments may round each
    # one's interest the other way; a fen each at most.
    assert extra.cost <= less.cost + Decimal("0.01") * later_instalments(loan, on)
    if more >= 100_00:  # ¥100 more repaid early always saves more than rounding can add
        assert extra.cost <= less.cost


@settings(max_examples=120, deadline=None)
@given(
    loan=loans(),
    day=st.integers(0, 400),
    sooner=st.integers(1, 60),
    paid=st.integers(1, 5_000_000),
)
def test_paying_the_same_money_earlier_never_costs_more(loan, day, sooner, paid):
    later_day = START + timedelta(days=day)
    earlier_day = max(START, later_day - timedelta(days=sooner))
    amount = Decimal(paid) / 100
    early = one_payment_life(loan, amount, earlier_day)
    late = one_payment_life(loan, amount, later_day)
    tolerance = Decimal("0.01") * later_instalments(loan, earlier_day)
    assert early.cost <= late.cost + tolerance


@settings(max_examples=150, deadline=None)
@given(loan=loans(legal_rates), late_days=st.integers(1, 120), k=st.integers(1, 36))
def test_an_overdue_instalment_never_costs_less_a_day_than_on_time_nor_more_than_the_ceiling(
    loan, late_days, k
):
    amount, term, mode, rate = loan
    k = min(k, term)
    # Everything paid on its due date, except instalment k, paid late_days late (its
    # principal and interest, then the penalty) with nothing else due in between.
    on_time = Loan(*loan)
    on_time.finish(START)
    late = Loan(*loan)
    for row in late.rows[: k - 1]:
        late.pay(late.due_on(row.due_date), row.due_date)
    due = late.rows[k - 1].due_date
    paid_on = due + timedelta(days=late_days)
    assume(k == term or paid_on < late.rows[k].due_date)
    overdue_principal = late.rows[k - 1].principal_due
    late.pay(late.due_on(paid_on), paid_on)
    late.finish(paid_on)
    extra = F(late.cost - on_time.cost)
    # By the reference: the penalty rate is at least the contract rate, at most the ceiling
    # (unless the contract rate is itself above it), and nothing else changes.
    pr = ref_penalty_rate(F(rate))
    assert pr >= F(rate)
    if F(rate) * 365 <= CEILING:
        assert pr <= CEILING / 365
    assert extra == fen(F(overdue_principal) * pr * late_days)
    # Per day, overdue principal costs at least what the contract charges it on time.
    assert extra >= fen(F(overdue_principal) * F(rate) * late_days)


@settings(max_examples=120, deadline=None)
@given(loan=loans(), day=st.integers(0, 400))
def test_settling_at_the_payoff_and_one_fen_under_cost_the_same_within_two_fen(loan, day):
    on = START + timedelta(days=day)
    probe = Loan(*loan)
    payoff = money.payoff_amount(probe.rows, daily_rate=loan[3], disbursed_on=START, on=on)
    exact = Loan(*loan)
    assert exact.pay(payoff, on).settles
    short = Loan(*loan)
    assert not short.pay(payoff - Decimal("0.01"), on).settles
    short.finish(on)
    assert abs(short.paid - exact.paid) <= Decimal("0.02")
    # ... and a fen over the payoff settles too, the fen coming back unapplied.
    over = Loan(*loan)
    assert over.pay(payoff + Decimal("0.01"), on).unapplied == Decimal("0.01")
    assert over.paid == exact.paid


@settings(max_examples=150, deadline=None)
@given(loan=loans(), day=st.integers(0, 400), paid=st.integers(1, 5_000_000))
def test_one_fen_more_or_less_changes_the_lifetime_total_by_about_a_fen(loan, day, paid):
    on = START + timedelta(days=day)
    base = one_payment_life(loan, Decimal(paid) / 100, on)
    plus = one_payment_life(loan, Decimal(paid + 1) / 100, on)
    # The extra fen is principal repaid early (or interest paid early); the total paid moves
    # by a fen at most, except that re-amortised later instalments may each round the other
    # way (a fen per later instalment at most, typically none).
    bound = Decimal("0.01") * (1 + later_instalments(loan, on))
    assert abs(plus.paid - base.paid) <= bound


@settings(max_examples=80, deadline=None)
@given(
    loan=loans(),
    nights=st.integers(1, 90),
    k=st.integers(1, 36),
)
def test_a_nightly_day_close_books_the_same_penalty_as_one_accrual(loan, nights, k):
    amount, term, mode, rate = loan
    k = min(k, term)
    nightly, once = Loan(*loan), Loan(*loan)
    due = nightly.rows[k - 1].due_date
    for night in range(1, nights + 1):
        money.accrue_penalties(nightly.rows, daily_rate=rate, on=due + timedelta(days=night))
    money.accrue_penalties(once.rows, daily_rate=rate, on=due + timedelta(days=nights))
    assert [r.fee_due for r in nightly.rows] == [r.fee_due for r in once.rows]
    ref = RefLoan(F(amount), term, mode, F(rate))
    ref.accrue(due + timedelta(days=nights))
    assert [F(r.fee_due) for r in once.rows] == [i.f_due for i in ref.insts]


payment_steps = st.lists(
    st.tuples(st.integers(0, 45), st.integers(1, 3_000_000)), min_size=1, max_size=4
)


def life(loan: tuple, payments: list[tuple[date, Decimal]]) -> Loan:
    """A borrower who makes `payments` (in date order) and then pays every instalment left on
    its due date."""
    mine = Loan(*loan)
    last = START
    for day, amount in sorted(payments):
        if mine.settled:
            break
        mine.pay(amount, day)
        last = day
    if not mine.settled:
        mine.finish(last)
    return mine


def dated(steps: list[tuple[int, int]]) -> list[tuple[date, Decimal]]:
    day, out = START, []
    for gap, fen_amount in steps:
        day += timedelta(days=gap)
        out.append((day, Decimal(fen_amount) / 100))
    return out


@settings(max_examples=150, deadline=None)
@given(loan=loans(), steps=payment_steps, which=st.integers(0, 3), sooner=st.integers(1, 40))
def test_moving_any_payment_of_a_history_earlier_never_costs_more(loan, steps, which, sooner):
    payments = dated(steps)
    k = which % len(payments)
    day, amount = payments[k]
    earlier = [
        *payments[:k],
        (max(START, day - timedelta(days=sooner)), amount),
        *payments[k + 1 :],
    ]
    tolerance = Decimal("0.01") * loan[1]  # rounding of re-amortised instalments, a fen each
    assert life(loan, earlier).cost <= life(loan, payments).cost + tolerance


@settings(max_examples=150, deadline=None)
@given(loan=loans(), steps=payment_steps, which=st.integers(0, 3), more=st.integers(1, 500_000))
def test_paying_more_at_any_point_of_a_history_never_costs_more(loan, steps, which, more):
    payments = dated(steps)
    k = which % len(payments)
    day, amount = payments[k]
    bigger = [*payments[:k], (day, amount + Decimal(more) / 100), *payments[k + 1 :]]
    tolerance = Decimal("0.01") * loan[1]
    assert life(loan, bigger).cost <= life(loan, payments).cost + tolerance


@settings(max_examples=100, deadline=None)
@given(loan=loans(), first=st.integers(0, 28), gap=st.integers(0, 20), part=st.integers(1, 10_000))
def test_paying_part_early_then_settling_costs_no_more_than_settling_at_once(
    loan, first, gap, part
):
    """The case that keeps interest in advance honest: a part paid ahead early in a period,
    the rest settled later in the same period."""
    early_day = START + timedelta(days=first)
    settle_day = early_day + timedelta(days=gap)
    once = Loan(*loan)
    once.pay(
        money.payoff_amount(once.rows, daily_rate=loan[3], disbursed_on=START, on=settle_day),
        settle_day,
    )
    split = Loan(*loan)
    split.pay(Decimal(part), early_day)
    if not split.settled:
        rest = money.payoff_amount(
            split.rows, daily_rate=loan[3], disbursed_on=START, on=settle_day
        )
        assert split.pay(rest, settle_day).settles
    assert split.cost <= once.cost + Decimal("0.01")
