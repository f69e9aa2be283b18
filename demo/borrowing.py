"""One borrower's drawdowns and repayments, as a timeline driven by their hidden profile.

The timeline holds what is due and what will be paid, in time order. Each due date is decided
when it comes: paid by auto-debit that morning, or missed, opening a lapse (demo.behaviour)
that every instalment falling due during it joins, all cured by one payment of the arrears at
its end; or, from the borrower's default onwards, never paid. Drawdowns are decided between
them: never while a payment is overdue (drawdown_create refuses a line past due), never after
the default. Money moves only through demo.book.Loan (lending.money).
"""

from __future__ import annotations

import heapq
import itertools
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from demo import behaviour, people
from demo.book import Ids, Loan
from demo.plan import BookPlan
from lending import money
from lending.choices import Purpose, RepaymentMode
from monitoring.choices import EventKind

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
DAY = timedelta(days=1)
MAX_DRAWDOWNS = 12
# Drawdowns by hour of day, as cash-loan apps see them: quiet 01:00-06:00, busy through the
# working day, the peak in the evening. Night (00:00-05:00) is about 3% of ordinary borrowing.
DRAW_HOURS = people.cumulative(
    [1.3, 0.8, 0.5, 0.35, 0.3, 0.25, 0.5, 2.0, 3.6, 4.8, 5.6, 5.8]
    + [5.6, 5.2, 5.4, 5.5, 5.4, 5.3, 5.4, 5.8, 6.3, 6.6, 5.9, 2.0]
)
# A night owl's withdrawals that fall at night: mostly just after midnight.
NIGHT_HOURS = people.cumulative([4, 3, 2, 1.5, 1])
# Late at night (23:00-06:59) an ordinary borrower draws a small sum (a bill, a top-up, a
# ticket), not the line: at most this share of what is available, and this many yuan. Large
# late-night withdrawals are the night owls' habit and the stressed borrowers' (cash needed
# now), and the fraudsters'.
LATE_HOURS = frozenset({23, 0, 1, 2, 3, 4, 5, 6})
LATE_SHARE = 0.75
LATE_CAP = Decimal(4000)
# A stressed borrower's withdrawal at night: whatever the late hour, 23:00 to 06:59 (hour 23
# first, then 00:00-06:59), unlike a night owl's habit just after midnight.
STRESSED_HOURS = people.cumulative([3, 3, 2, 1.5, 1, 1, 1.5, 2])
# Manual payments (a cure, a settlement, a prepayment) by hour: the working day and evening.
PAY_HOURS = people.cumulative(
    [0.3, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 1.5, 3, 5, 6, 6, 6, 5, 5, 5, 5, 5, 5, 6, 7, 7, 5, 2]
)
PURPOSES = (
    (Purpose.DAILY_CONSUMPTION, 55),
    (Purpose.TRAVEL, 12),
    (Purpose.HOME, 11),
    (Purpose.EDUCATION, 9),
    (Purpose.MEDICAL, 7),
    (Purpose.OTHER, 6),
)
PURPOSE_CUM = people.cumulative([w for _, w in PURPOSES])
MODES = (
    (RepaymentMode.EQUAL_INSTALMENT, 80),
    (RepaymentMode.EQUAL_PRINCIPAL, 12),
    (RepaymentMode.INTEREST_FIRST, 8),
)
MODE_CUM = people.cumulative([w for _, w in MODES])
# Terms by drawdown size: twelve months is the usual choice, small sums go short. No 1-month
# term: a one-instalment loan is a bullet, which this product does not offer.
TERMS = {
    "small": ((3, 30), (6, 32), (12, 38)),
    "medium": ((3, 12), (6, 24), (9, 8), (12, 52), (24, 4)),
    "large": ((3, 3), (6, 12), (9, 7), (12, 58), (24, 20)),
}
TERM_CUMS = {
    size: ([t for t, _ in table], people.cumulative([w for _, w in table]))
    for size, table in TERMS.items()
}
# The round sums people draw. Snapping to them also keeps (amount, term, mode, rate) to a few
# thousand combinations, so each schedule and APR is computed once per combination.
NICE_AMOUNTS = tuple(
    Decimal(v)
    for v in (
        *range(100, 1001, 100),
        *range(1500, 5001, 500),
        *range(6000, 10001, 1000),
        *(12000, 15000, 18000, 20000, 25000, 30000, 35000, 40000, 45000, 50000),
    )
)
# Before a default the borrower starts missing payments: the chance of a lapse rises by this
# much over the last STRESS_DAYS.
STRESS = 0.3
STRESS_DAYS = 75
# In those weeks before a default, the chance that a drawdown is taken at night, and that the
# money goes straight on to another lender (以贷养贷).
NIGHT_WHEN_STRESSED = 0.2
LENDER_WHEN_STRESSED = 0.12
# Otherwise, the chance the money goes on by transfer (to a merchant or a person): paying for
# what it was drawn for, the everyday case of a transfer after a drawdown.
SPENT_BY_TRANSFER = 0.3
# The limit policy (decisions.policy) freezes a line more than this many days past due.
FREEZE_DPD = 30
# Partial prepayments (a round sum paid ahead) on this share of loans.
PREPAY_SHARE = 0.04
# Settlements paid as a round sum above the quoted payoff (the rest is owed back).
ROUNDED_SETTLEMENT_SHARE = 0.05
# A phone nobody saw before, then (within hours) nearly all that is available drawn: a lone
# fraudster's burner phone, or the borrower's account in someone else's hands just before
# the default. Shares of the lone fraudsters, and of the defaulters' last large drawdown.
NEW_PHONE_FRAUD = 0.5
NEW_PHONE_LAST_DRAW = 0.5


def at_hour(rng: random.Random, day: date, hours: list[float]) -> datetime:
    """A time on `day` with the hour drawn from the cumulative weights `hours`."""
    hour = rng.choices(range(len(hours)), cum_weights=hours)[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))  # noqa: DTZ001


def late_at(rng: random.Random, day: date) -> datetime:
    """A late-night time on `day`, 23:00 or 00:00-06:59, by STRESSED_HOURS."""
    index = rng.choices(range(len(STRESSED_HOURS)), cum_weights=STRESSED_HOURS)[0]
    hour = 23 if index == 0 else index - 1
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))  # noqa: DTZ001


def nice_amount(value: Decimal) -> Decimal:
    """The largest round sum not above `value` (0 below 100)."""
    return NICE_AMOUNTS[bisect_right(NICE_AMOUNTS, value) - 1] if value >= HUNDRED else ZERO


def floor_amount(value: Decimal) -> Decimal:
    """Round down to whole hundreds (thousands above 10,000)."""
    step = Decimal(1000) if value >= 10000 else HUNDRED
    return (value // step) * step


@dataclass
class Seen:
    """A card or device of the borrower: when it was added and last used, and (devices) the
    address it was last seen from and where its logins come from."""

    row_id: int
    label: tuple[str, str]
    first: datetime
    last: datetime
    ip: str | None = None
    network: str = ""  # devices: the Wi-Fi its logins use ("" : the borrower's own)

    def use(self, moment: datetime) -> None:
        self.last = max(self.last, moment)


def latest(seen: list[Seen], moment: datetime) -> Seen:
    """The most recently added of `seen` by `moment` (the first one if none was yet)."""
    pick = seen[0]
    for s in seen:
        if s.first <= moment:
            pick = s
    return pick


Event = tuple[datetime, str, dict[str, Any], dict[str, int], str | None]
# (when, amount, counterparty, account, counterparty is a lender, card)
Transfer = tuple[datetime, Decimal, str, str, bool, Seen]

# Timeline entries, in this order when at the same moment.
DUE, PAY, CURE, SETTLE, PREPAY = range(5)


class Borrowing:
    """Draw, repay and lapse over the history, as the profile says (see the module docstring)."""

    def __init__(
        self,
        *,
        plan: BookPlan,
        rng: random.Random,
        profile: behaviour.Profile,
        index: int,
        ids: Ids,
        limit: Decimal,
        rate: Decimal,
        home_ip: str,
        cards: list[Seen],
        devices: list[Seen],
        shared_devices: list[Seen],
        events: list[Event],
        new_phone: Callable[[datetime], Seen] | None = None,
    ) -> None:
        self.plan, self.rng, self.profile, self.index, self.ids = plan, rng, profile, index, ids
        self.limit, self.rate, self.home_ip = limit, rate, home_ip
        self.cards, self.devices, self.shared_devices = cards, devices, shared_devices
        self.events = events
        # Binds a new phone of the borrower at a moment (history.py writes its row and event).
        self.new_phone = new_phone
        self.phone_swap_due = False  # the next drawdown comes from a phone bound hours before
        self.loans: list[Loan] = []
        self.transfers: list[Transfer] = []
        self.timeline: list[tuple[datetime, int, int, int, int, float]] = []
        self.order = itertools.count()
        self.lapse: tuple[date, date] | None = None  # (missed due date, cure day)
        self.cures: set[tuple[int, date]] = set()
        self.default_day: date | None = None  # from when the borrower will pay nothing
        self.defaulted_from: date | None = None  # the first due date left unpaid for good
        # The day the limit policy froze the line: the first close more than FREEZE_DPD days
        # past due. Unfreezing is a person's decision; nobody here takes it.
        self.frozen_on: date | None = None
        # Who draws large sums late at night as a habit (LATE_HOURS): not ordinary borrowers.
        self.late_large = profile.night_owl or profile.archetype in {
            behaviour.FRAUD,
            behaviour.RING,
        }

    # --- the timeline -----------------------------------------------------------------------

    def push(self, when: datetime, kind: int, loan: int, seq: int = 0, share: float = 0) -> None:
        heapq.heappush(self.timeline, (when, kind, next(self.order), loan, seq, share))

    def advance(self, until: datetime) -> None:
        """Decide and pay everything on the timeline before `until`."""
        while self.timeline and self.timeline[0][0] < until:
            when, kind, _, index, seq, share = heapq.heappop(self.timeline)
            loan = self.loans[index]
            if loan.settled_at is not None:
                continue
            if kind == DUE:
                self._decide(index, seq, when.date())
            elif kind in (PAY, CURE):
                amount = loan.due_on(when.date())
                if amount > 0:
                    self._pay(loan, when, amount, manual=kind == CURE)
            elif self.defaulted_from is None and not self.late(when.date()):
                payoff = loan.payoff_on(when.date())
                if kind == SETTLE:
                    amount = payoff
                    if self.rng.random() < ROUNDED_SETTLEMENT_SHARE:
                        amount = (payoff // HUNDRED + 1) * HUNDRED
                    self._pay(loan, when, amount, manual=True)
                else:
                    amount = floor_amount(payoff * Decimal(str(round(share, 2))))
                    if HUNDRED <= amount < payoff:
                        self._pay(loan, when, amount, manual=True)

    def _decide(self, index: int, seq: int, due: date) -> None:
        """A due date has come: paid that morning, or missed (a lapse or the default)."""
        loan, rng, profile = self.loans[index], self.rng, self.profile
        if self.defaulted_from is not None or loan.states[seq - 1].paid_off_at is not None:
            return
        if self.default_day is not None and due >= self.default_day:
            self._default(due)
            return
        if self.lapse is not None and self.lapse[0] <= due < self.lapse[1]:
            self._cure(index, self.lapse[1])
            return
        chance = profile.lapse
        if (
            profile.warning
            and self.default_day is not None
            and due >= self.default_day - STRESS_DAYS * DAY
        ):
            chance += STRESS
        if rng.random() >= chance:
            # Auto-debit in the morning batch of the due date.
            minute = rng.randrange(120)
            self.push(datetime.combine(due, time(6 + minute // 60, minute % 60)), PAY, index)  # noqa: DTZ001
            return
        end = due + behaviour.lapse_days(rng, profile) * DAY
        if self.default_day is not None and end >= self.default_day:
            self._default(due)  # the lapse runs into the default: never cured
            return
        self.lapse = (due, end)
        if end > due + FREEZE_DPD * DAY + DAY:
            self._freeze(due + (FREEZE_DPD + 1) * DAY)
        self._cure(index, end)

    def _default(self, due: date) -> None:
        self.defaulted_from = due
        self._freeze(due + (FREEZE_DPD + 1) * DAY)

    def _freeze(self, day: date) -> None:
        if self.frozen_on is None and day <= self.plan.as_of:
            self.frozen_on = day

    def _cure(self, index: int, day: date) -> None:
        if (index, day) not in self.cures:
            self.cures.add((index, day))
            self.push(at_hour(self.rng, day, PAY_HOURS), CURE, index)

    def _pay(self, loan: Loan, when: datetime, amount: Decimal, *, manual: bool) -> None:
        loan.pay(when, amount)
        card = latest(self.cards, when)
        card.use(when)
        if manual and self.rng.random() < 0.6:
            self.login(when - timedelta(seconds=self.rng.randint(20, 600)))

    def late(self, day: date) -> bool:
        """Whether an instalment is unpaid past its due date on `day` (drawdown_create's
        LineOverdue rule)."""
        for loan in self.loans:
            if loan.settled_at is None:
                due = loan.first_uncleared_due()
                if due is not None and due < day:
                    return True
        return False

    # --- logins and drawdowns ---------------------------------------------------------------

    def device_for(self, moment: datetime) -> Seen:
        if self.shared_devices and self.rng.random() < (
            0.85 if self.profile.archetype == behaviour.RING else 0.25
        ):
            return self.rng.choice(self.shared_devices)
        return latest(self.devices, moment)

    def login(self, at: datetime, device: Seen | None = None) -> Seen:
        device = device or latest(self.devices, at)
        device.use(at)
        if device.network:
            ip = device.network
        elif self.rng.random() < 0.75:
            ip = self.home_ip
        else:
            ip = people.ip_address(self.rng)  # on the mobile network
        if device.ip is None or at >= device.last:
            device.ip = ip
        body = {"device_id": device.label[0], "platform": device.label[1], "ip": ip}
        self.events.append((at, EventKind.LOGIN, body, {"device_record_id": device.row_id}, None))
        return device

    def run(self, opened_at: datetime) -> None:
        """The whole history from the line's opening to the cutoff."""
        plan, rng, profile = self.plan, self.rng, self.profile
        if not profile.draws:
            return
        moment = opened_at + timedelta(days=profile.first_draw_days)
        if moment.date() > opened_at.date():
            moment = at_hour(rng, moment.date(), DRAW_HOURS)
        moment = max(moment, opened_at + timedelta(minutes=rng.randint(3, 30)))
        if profile.default_after is not None:
            self.default_day = moment.date() + profile.default_after * DAY
        if profile.archetype == behaviour.FRAUD:
            self.phone_swap_due = rng.random() < NEW_PHONE_FRAUD
        last_big_draw = False
        while moment < plan.cutoff and len(self.loans) < MAX_DRAWDOWNS:
            self.advance(moment)
            if self.defaulted_from is not None or self.frozen_on is not None:
                break
            if self.late(moment.date()):
                moment = at_hour(rng, moment.date() + rng.randint(3, 15) * DAY, DRAW_HOURS)
                continue
            stressed = self.stressed(moment.date())
            if self.phone_swap_due and self.new_phone is not None:
                self.phone_swap_due = False
                bound = moment - timedelta(minutes=rng.randint(25, 600))
                self.devices.append(self.new_phone(bound))
                drawn = self.draw(moment, 1.0)
            elif profile.bursts and rng.random() < 0.35:
                drawn = self.burst(moment)
            else:
                # Night withdrawals: a night owl's habit, and the stressed borrower's in the
                # weeks before the default (cash needed now, whatever the hour).
                night = profile.night_owl and rng.random() < 0.55
                if night:
                    moment = at_hour(rng, moment.date() + DAY, NIGHT_HOURS)
                elif stressed and rng.random() < NIGHT_WHEN_STRESSED:
                    night, moment = True, late_at(rng, moment.date() + DAY)
                if night:
                    if moment >= plan.cutoff:
                        break
                    share, cap = 0.8 + 0.2 * rng.random(), None
                else:
                    share, cap = rng.uniform(profile.use_low, profile.use_high), None
                    if moment.hour in LATE_HOURS and not (stressed or self.late_large):
                        share, cap = min(share, LATE_SHARE), LATE_CAP
                drawn = self.draw(moment, share, cap=cap)
            if not drawn:
                moment = at_hour(rng, moment.date() + rng.randint(20, 60) * DAY, DRAW_HOURS)
                continue
            if (
                self.default_day is not None
                and not last_big_draw
                and rng.random() < 0.3
                and moment.date() < self.default_day - 5 * DAY
            ):
                # The last, large drawdown shortly before disappearing.
                last_big_draw = True
                self.phone_swap_due = rng.random() < NEW_PHONE_LAST_DRAW
                day = self.default_day - rng.randint(3, 20) * DAY
                moment = at_hour(rng, max(day, moment.date() + DAY), DRAW_HOURS)
                continue
            if rng.random() < profile.stop:
                break
            gap = 1 + int(rng.expovariate(1 / profile.gap_days))
            moment = at_hour(rng, moment.date() + gap * DAY, DRAW_HOURS)
        self.advance(plan.cutoff)

    def stressed(self, day: date) -> bool:
        """Whether `day` falls in the weeks before the borrower's default, when money is short:
        night withdrawals, transfers on to other lenders and bursts of small sums pile up."""
        return self.default_day is not None and day >= self.default_day - STRESS_DAYS * DAY

    def burst(self, moment: datetime) -> bool:
        """A burst of small drawdowns within hours (the velocity rule's pattern): 4-6 sums of
        at most ¥1,000, scraped together one after another. False if not even one was drawn."""
        rng, drawn = self.rng, 0
        for _ in range(rng.randint(4, 6)):
            if len(self.loans) >= MAX_DRAWDOWNS or moment >= self.plan.cutoff:
                break
            cap = Decimal(rng.choice((200, 300, 500, 500, 800, 1000)))
            if not self.draw(moment, 1.0, cap=cap):
                break
            drawn += 1
            moment += timedelta(minutes=rng.randint(8, 150))
        return drawn > 0

    def draw(self, moment: datetime, share: float, *, cap: Decimal | None = None) -> bool:
        """Draw `share` of what is available at `moment` (at most `cap`); False when that is
        below ¥100."""
        rng = self.rng
        available = self.limit - sum(
            (loan.outstanding_at(moment) for loan in self.loans if loan.settled_at is None), ZERO
        )
        wanted = available * Decimal(str(round(share, 3)))
        amount = money.to_fen(nice_amount(wanted if cap is None else min(wanted, cap)))
        if amount < HUNDRED:
            return False
        size = "small" if amount < 1000 else "medium" if amount < 5000 else "large"
        terms, term_cum = TERM_CUMS[size]
        term = rng.choices(terms, cum_weights=term_cum)[0]
        mode = rng.choices(MODES, cum_weights=MODE_CUM)[0][0]
        if mode == RepaymentMode.INTEREST_FIRST and term > 12:
            mode = RepaymentMode.EQUAL_INSTALMENT
        login_at = moment - timedelta(seconds=rng.randint(30, 1200))
        device = self.login(login_at, self.device_for(login_at))
        card = latest(self.cards, moment)
        loan = Loan(
            row_id=self.ids.take("drawdown"),
            loan_no=f"LN{self.index + 1:08d}{len(self.loans) + 1:02d}",
            amount=amount,
            term=term,
            mode=mode,
            rate=self.rate,
            purpose=rng.choices(PURPOSES, cum_weights=PURPOSE_CUM)[0][0],
            disbursed_at=moment,
            card=card.row_id,
            device=device.row_id,
        )
        card.use(moment)
        device.use(moment)
        index = len(self.loans)
        self.loans.append(loan)
        self.events.append(
            (
                moment,
                EventKind.DRAWDOWN,
                {
                    "loan_no": loan.loan_no,
                    "amount": str(amount),
                    "term_months": term,
                    "repayment_mode": str(mode),
                    "purpose": str(loan.purpose),
                    "card_no": card.label[1],
                    "bank_name": card.label[0],
                    "device_id": device.label[0],
                },
                {"drawdown_id": loan.row_id},
                None,
            )
        )
        cutoff_day = self.plan.cutoff.date()
        for state in loan.states:
            if state.due_date < cutoff_day:
                self.push(datetime.combine(state.due_date, time(0)), DUE, index, state.seq)  # noqa: DTZ001
        start = moment.date()
        if rng.random() < self.profile.settle:
            day = start + (3 + int(rng.expovariate(1 / 90))) * DAY
            if day < loan.last_due - 2 * DAY:
                self.push(at_hour(rng, day, PAY_HOURS), SETTLE, index)
        if rng.random() < PREPAY_SHARE:
            day = start + rng.randint(15, max(16, term * 18)) * DAY
            if day < loan.last_due - 31 * DAY:
                self.push(at_hour(rng, day, PAY_HOURS), PREPAY, index, 0, rng.uniform(0.2, 0.5))
        self.move_money(moment, amount, card)
        return True

    def move_money(self, moment: datetime, amount: Decimal, card: Seen) -> None:
        """Money moved on after a drawdown: to another lender within hours (以贷养贷: every
        multi-lender borrower often, a borrower in the weeks before a default often too, anyone
        rarely), or spent."""
        rng = self.rng
        if self.profile.multi_lender:
            to_lender = 0.75
        elif self.stressed(moment.date()):
            to_lender = LENDER_WHEN_STRESSED
        else:
            to_lender = 0.008  # anyone, now and then: benign noise for the rule
        if rng.random() < to_lender:
            at = moment + timedelta(minutes=rng.randint(10, 300))
            share = Decimal(str(round(0.5 + 0.5 * rng.random(), 2)))
            to, is_lender = rng.choice(people.OTHER_LENDERS), True
        elif rng.random() < SPENT_BY_TRANSFER:
            at = moment + timedelta(minutes=rng.randint(30, 2880))
            share = Decimal(str(round(0.2 + 0.7 * rng.random(), 2)))
            if rng.random() < 0.6:
                to = rng.choice(people.MERCHANTS)
            else:
                to = people.person_name(rng, male=rng.random() < 0.5)
            is_lender = False
        else:
            return
        moved = money.to_fen(floor_amount(amount * share))
        if at < self.plan.cutoff and moved > 0:
            card.use(at)
            self.transfers.append((at, moved, to, people.account_no(rng), is_lender, card))
