"""The demo book, generated in memory one borrower at a time, as rows ready to write.

Each borrower is generated from its own `random.Random(f"{seed}:{index}")`, so a borrower's
history depends only on the seed and its index, never on chunking or on the order the
borrowers are written in. What spans borrowers (rings sharing devices and payout cards,
shared mobile numbers, who defaults early) is planned once from `random.Random(f"{seed}:book")`.

Every figure of the schedule and APR comes from lending.money, and every repayment is applied
by lending.money.plan_repayment (the in-memory half of repayment_record: penalties,
allocation, settlement), replayed in the order the services would have seen the events, so
the rows are what `drawdown_create` and `repayment_record` would have written for the same
history.

Datetimes in the rows are naive Asia/Shanghai wall-clock times (the zone has had no DST
since 1991, a fixed +08:00); the writers attach the zone for the database.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from demo import people
from lending import money
from lending.choices import (
    AssetKind,
    DrawdownStatus,
    IdentityCheckResult,
    IncomeBand,
    LineStatus,
    LineStatusCode,
    Purpose,
    RepaymentMode,
)
from monitoring.choices import EventKind
from monitoring.services import event_storage_form

SHANGHAI = ZoneInfo("Asia/Shanghai")

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
# The grid of daily rates the demo lender prices on: 0.0200% to 0.0650% a day in 0.005% steps.
RATE_GRID = tuple(Decimal("0.000200") + Decimal("0.000050") * i for i in range(10))
INCOME_BANDS = (
    (IncomeBand.BELOW_3K, 15, 2000),
    (IncomeBand.FROM_3K, 30, 5000),
    (IncomeBand.FROM_5K, 32, 10000),
    (IncomeBand.FROM_10K, 16, 20000),
    (IncomeBand.ABOVE_20K, 7, 35000),
)
INCOME_CUM = people.cumulative([w for _, w, _ in INCOME_BANDS])
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
# Terms by drawdown size: small cash needs are short, large ones long.
TERMS_SMALL = ((1, 20), (3, 50), (6, 25), (12, 5))
TERMS_MEDIUM = ((1, 5), (3, 30), (6, 35), (12, 27), (24, 3))
TERMS_LARGE = ((3, 10), (6, 25), (12, 50), (24, 15))
TERM_CUMS = {
    name: ([t for t, _ in table], people.cumulative([w for _, w in table]))
    for name, table in (("small", TERMS_SMALL), ("medium", TERMS_MEDIUM), ("large", TERMS_LARGE))
}
ASSETS = (
    (AssetKind.DEPOSIT, 35, 5000, 200000),
    (AssetKind.WEALTH, 20, 10000, 300000),
    (AssetKind.HOUSING_FUND, 25, 3000, 150000),
    (AssetKind.INSURANCE, 8, 5000, 100000),
    (AssetKind.SECURITIES, 8, 5000, 500000),
    (AssetKind.OTHER, 4, 1000, 50000),
)
ASSET_CUM = people.cumulative([a[1] for a in ASSETS])
# Activity by hour of day (borrowers sleep; the evening is busiest). Night is 00:00-05:00.
HOUR_CUM = people.cumulative(
    [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 3, 5, 6, 6, 6, 7, 6, 6, 6, 6, 6, 7, 8, 9, 9, 7, 4]
)
# A frozen line carries the reason code LineStatusCode.OVERDUE, translated when shown.
FROZEN_REASON = ""
MAX_DRAWDOWNS = 12

# The tables a borrower's rows go to, parents first (the order they are written in).
TABLES = (
    "borrower",
    "line",
    "bank",
    "device",
    "asset",
    "drawdown",
    "instalment",
    "repayment",
    "allocation",
    "transfer",
    "event",
)
Rows = dict[str, list[tuple[Any, ...]]]


def new_rows() -> Rows:
    return {name: [] for name in TABLES}


class Ids:
    """The next primary key per table: rows get their ids as they are generated."""

    def __init__(self, start: dict[str, int]) -> None:
        self.next = dict(start)

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


@dataclass
class Ring:
    """Borrowers who register together and draw to the same phones and bank cards."""

    members: list[int]
    day: int
    city: str
    areas: tuple[str, ...]
    employer: str
    devices: list[tuple[str, str]]  # (device_id, platform)
    cards: list[tuple[str, str]]  # (bank, card_no)


@dataclass
class BookPlan:
    """What spans borrowers, decided once per seed, plus the time frame of the history."""

    seed: int
    borrowers: int
    months: int
    as_of: date
    start: date
    cutoff: datetime  # naive local: history ends at as_of 00:00
    days: int
    service_user_id: int | None
    ring_of: dict[int, Ring] = field(default_factory=dict)
    shared_mobile: dict[int, str] = field(default_factory=dict)
    early_defaulters: set[int] = field(default_factory=set)


def make_plan(
    *, seed: int, borrowers: int, months: int, as_of: date, service_user_id: int | None
) -> BookPlan:
    """Plan the book: time frame, rings, shared phones and early defaulters."""
    start = money.add_months(as_of, -months)
    plan = BookPlan(
        seed=seed,
        borrowers=borrowers,
        months=months,
        as_of=as_of,
        start=start,
        cutoff=datetime.combine(as_of, time(0)),
        days=(as_of - start).days,  # noqa: DTZ001
        service_user_id=service_user_id,
    )
    rng = random.Random(f"{seed}:book")  # noqa: S311  (demo data: reproducible, not secret)
    # Borrower 0 stays an ordinary good customer: the demo borrower login is tied to it.
    candidates = borrowers - 1
    n_rings = max(3, borrowers // 400)
    n_phone_groups = max(3, borrowers // 300)
    n_early = max(3, borrowers // 70)
    ring_sizes = [rng.randint(3, 8) for _ in range(n_rings)]
    phone_sizes = [rng.randint(2, 3) for _ in range(n_phone_groups)]
    needed = sum(ring_sizes) + sum(phone_sizes) + n_early
    if needed > candidates // 2:
        # A tiny book keeps what fits: rings first, as they are the most interesting.
        ring_sizes = ring_sizes[: max(0, candidates // 10)]
        phone_sizes = phone_sizes[: max(0, candidates // 20)]
        n_early = min(n_early, max(0, candidates // 10))
        needed = sum(ring_sizes) + sum(phone_sizes) + n_early
    pool = iter(rng.sample(range(1, borrowers), needed)) if needed else iter(())
    for size in ring_sizes:
        city, areas = people.pick_city(rng)
        platform = "android" if rng.random() < 0.8 else "ios"
        ring = Ring(
            members=[next(pool) for _ in range(size)],
            day=rng.randint(0, max(0, plan.days * 2 // 3)),
            city=city,
            areas=areas,
            employer=city + rng.choice(people.EMPLOYER_TRADES) + "有限公司",
            devices=[(people.device_id(rng, platform), platform) for _ in range(rng.randint(1, 2))],
            cards=[people.card(rng) for _ in range(rng.randint(1, 2))],
        )
        for member in ring.members:
            plan.ring_of[member] = ring
    for size in phone_sizes:
        number = people.mobile(rng)
        for _ in range(size):
            plan.shared_mobile[next(pool)] = number
    plan.early_defaulters = {next(pool) for _ in range(n_early)}
    return plan


# Schedules and APRs depend only on (amount, term, mode, rate): amounts are round sums and
# rates on a grid, so both are cached per combination. The APR (an IRR bisection, 1-3 ms) is
# not needed to replay the history, so it is filled in per chunk (`fill_aprs`), in parallel.
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
    """Put the APR into each drawdown row (column 8), computing the uncached ones with `mapper`
    (the builtin map, or a process pool's map)."""
    drawdowns = rows["drawdown"]
    missing = list({(r[4], r[5], r[6], r[7]) for r in drawdowns} - _APRS.keys())
    _APRS.update(zip(missing, mapper(compute_apr, missing), strict=True))
    for i, r in enumerate(drawdowns):
        drawdowns[i] = (*r[:8], _APRS[(r[4], r[5], r[6], r[7])], *r[9:])
    if len(_APRS) > CACHE_LIMIT:
        _APRS.clear()


@dataclass(slots=True)
class Payment:
    paid_at: datetime
    amount: Decimal
    principal: Decimal
    parts: list[tuple[int, Decimal, Decimal, Decimal]]  # (seq, fee, interest, principal)


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

    def pay(self, paid_at: datetime, through: int, fraction: float | None) -> Payment | None:
        """Pay what is owed on instalments 1..through (or a fraction of it) at `paid_at`.

        The outcome is lending.money.plan_repayment's, the function repayment_record runs:
        penalties accrued to the paid date, due instalments first, then ahead of time. The
        seeder never pays the last instalment before its due date, so no payment is more
        than the payoff (money above it would mean a bug here, and raises).
        """
        owed_before = sum((s.remaining for s in self.states[:through]), ZERO)
        if owed_before <= 0:
            return None
        # Penalties accrue on the paid date first; the amount owed includes them.
        aware = paid_at.replace(tzinfo=SHANGHAI)
        money.accrue_penalties(self.states, daily_rate=self.rate, on=paid_at.date())
        owed = sum((s.remaining for s in self.states[:through]), ZERO)
        if fraction is None:
            amount = owed
        else:
            amount = money.to_fen(owed * Decimal(str(round(fraction, 2))))
            if amount <= 0 or amount >= owed:
                return None
        result = money.plan_repayment(
            self.states,
            amount=amount,
            paid_at=aware,
            daily_rate=self.rate,
            disbursed_on=self.disbursed_at.date(),
            mode=self.mode,
        )
        if result.unapplied:  # the rows would not add up to the amount: a bug in the intents
            raise RuntimeError(f"{self.loan_no}: {result.unapplied} above the payoff")
        for state in self.states:
            if state.paid_off_at is aware:
                state.paid_off_at = paid_at
        parts = [
            (seq, part.fee, part.interest, part.principal)
            for seq, part in sorted(result.parts.items())
            if part.total > 0
        ]
        payment = Payment(paid_at, amount, sum((p[3] for p in parts), ZERO), parts)
        self.payments.append(payment)
        if result.settles:
            self.settled_at = paid_at
        return payment

    def outstanding_at(self, moment: datetime) -> Decimal:
        paid = sum((p.principal for p in self.payments if p.paid_at <= moment), ZERO)
        return self.amount - paid

    def overdue_at(self, moment: datetime) -> bool:
        day = moment.date()
        for state in self.states:
            if state.due_date >= day:
                return False
            if state.paid_off_at is None or state.paid_off_at > moment:
                return True
        return False


def _daytime(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(range(24), cum_weights=HOUR_CUM)[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)))  # noqa: DTZ001


def _night(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(rng.randrange(5), rng.randrange(60), rng.randrange(60)))  # noqa: DTZ001


def _utc_iso(moment: datetime) -> str:
    """A naive Shanghai time as the API's canonical UTC ISO 8601 string."""
    return (moment - timedelta(hours=8)).isoformat() + "+00:00"


def _floor_amount(value: Decimal) -> Decimal:
    """Round down to whole hundreds (thousands above 10,000)."""
    step = Decimal(1000) if value >= 10000 else HUNDRED
    return (value // step) * step


# The round sums people draw. Snapping to them also keeps (amount, term, mode, rate) to a few
# thousand combinations, so the APR (an IRR bisection) is computed once per combination.
NICE_AMOUNTS = tuple(
    Decimal(v)
    for v in (
        *range(100, 1001, 100),
        *range(1500, 5001, 500),
        *range(6000, 10001, 1000),
        12000,
        15000,
        18000,
        20000,
        25000,
        30000,
        35000,
        40000,
        45000,
        50000,
    )
)


def _nice_amount(value: Decimal) -> Decimal:
    """The largest round sum not above `value` (0 below 100)."""
    return NICE_AMOUNTS[bisect_right(NICE_AMOUNTS, value) - 1] if value >= HUNDRED else ZERO


@dataclass
class _Seen:
    """A card or device of the borrower: when it was added and last used."""

    row_id: int
    label: tuple[str, str]
    first: datetime
    last: datetime

    def use(self, moment: datetime) -> None:
        self.last = max(self.last, moment)


def generate_borrower(plan: BookPlan, index: int, ids: Ids, out: Rows) -> None:
    """Append one borrower's whole history to `out` (see the module docstring)."""
    rng = random.Random(f"{plan.seed}:{index}")  # noqa: S311  (demo data: reproducible)
    ring = plan.ring_of.get(index)
    early = index in plan.early_defaulters
    good = index == 0
    customer_no = f"C{index + 1:08d}"
    borrower_id = ids.take("borrower")
    line_id = ids.take("line")
    # (when, kind, payload fields, result ids, event id or None for "demo-<customer>-<n>")
    events: list[tuple[datetime, str, dict[str, Any], dict[str, int], str | None]] = []

    # 1. Latent risk and the behaviours it drives.
    risk = 0.05 if good else rng.betavariate(1.6, 7.0)
    if ring:
        risk = max(risk, 0.55 + 0.3 * rng.random())
    multi_lender = not good and rng.random() < 0.03 + 0.3 * risk
    night_owl = not good and (
        rng.random() < 0.02 + 0.12 * risk or (ring is not None and rng.random() < 0.5)
    )
    defaults = early or (not good and rng.random() < (0.75 if ring else 0.01 + 0.45 * risk**2))

    # 2. Identity.
    male = rng.random() < 0.56
    if ring:
        city, areas, employer = ring.city, ring.areas, ring.employer
    else:
        city, areas = people.pick_city(rng)
        employer = people.employer(rng, city)
    if ring:
        day = min(ring.day + rng.randint(0, 5), plan.days - 2)
    elif good or early:
        day = rng.randint(0, min(10, plan.days - 2))
    elif rng.random() < 0.35:
        day = rng.randint(0, min(20, plan.days - 2))
    else:
        day = rng.randint(0, max(0, plan.days - 5))
    registered = _daytime(rng, plan.start + timedelta(days=day))
    name = people.person_name(rng, male=male)
    nid = people.national_id(
        rng, area=rng.choice(areas), birth=people.birth_date(rng, on=plan.as_of), male=male
    )
    mobile = plan.shared_mobile.get(index) or people.mobile(rng)
    u = rng.random()
    if u < 0.03 + (0.25 if ring else 0.0):
        check, source = IdentityCheckResult.MISMATCHED, rng.choice(people.IDENTITY_SOURCES)
    elif u < 0.88:
        check, source = IdentityCheckResult.MATCHED, rng.choice(people.IDENTITY_SOURCES)
    else:
        check, source = IdentityCheckResult.NOT_CHECKED, ""
    checked_at = registered + timedelta(seconds=rng.randint(5, 300)) if source else None
    band, _, base_limit = rng.choices(INCOME_BANDS, cum_weights=INCOME_CUM)[0]
    limit = Decimal(base_limit) * Decimal(
        str(round(rng.lognormvariate(0, 0.45) * (1.15 - 0.8 * risk), 3))
    )
    limit = money.to_fen(min(max(_floor_amount(limit), Decimal(300)), Decimal(50000)))
    grid = min(9, max(0, round((risk * 1.8 + rng.gauss(0, 0.08)) * 9)))
    rate = RATE_GRID[grid]
    opened_at = (checked_at or registered) + timedelta(seconds=rng.randint(30, 600))
    events.append(
        (
            opened_at,
            EventKind.LINE_OPENED,
            {
                "name": name,
                "national_id": nid,
                "mobile": mobile,
                "city": city,
                "employer": employer,
                "income_band": str(band),
                "credit_limit": str(limit),
                "daily_rate": str(rate),
            },
            {"line_id": line_id},
            None,
        )
    )

    # 3. Cards and phones: one of each at registration, sometimes more later; a ring's shared
    # ones at registration too, and those are what its members draw to.
    cards: list[_Seen] = []
    devices: list[_Seen] = []

    def add_card(label: tuple[str, str], at: datetime) -> _Seen:
        seen = _Seen(ids.take("bank"), label, at, at)
        cards.append(seen)
        body = {"bank_name": label[0], "card_no": label[1]}
        events.append(
            (at, EventKind.BANK_ACCOUNT_CHANGE, body, {"bank_account_id": seen.row_id}, None)
        )
        return seen

    def add_device(label: tuple[str, str], at: datetime) -> _Seen:
        seen = _Seen(ids.take("device"), label, at, at)
        devices.append(seen)
        body = {"device_id": label[0], "platform": label[1]}
        events.append((at, EventKind.DEVICE_CHANGE, body, {"device_record_id": seen.row_id}, None))
        return seen

    platform = "ios" if rng.random() < 0.3 else "android"
    own_device = add_device((people.device_id(rng, platform), platform), registered)
    add_card(people.card(rng), opened_at + timedelta(seconds=rng.randint(10, 300)))
    ring_cards = (
        [add_card(c, opened_at + timedelta(seconds=rng.randint(300, 900))) for c in ring.cards]
        if ring
        else []
    )
    ring_devices = (
        [add_device(d, registered + timedelta(seconds=rng.randint(1, 60))) for d in ring.devices]
        if ring
        else []
    )
    extra_at = plan.days - day
    for _ in range(rng.choices((0, 1, 2), cum_weights=(80, 97, 100))[0]):
        at = _daytime(rng, registered.date() + timedelta(days=rng.randint(1, max(1, extra_at))))
        if at < plan.cutoff:
            add_card(people.card(rng), at)
    for _ in range(rng.choices((0, 1, 2), cum_weights=(75, 95, 100))[0]):
        at = _daytime(rng, registered.date() + timedelta(days=rng.randint(1, max(1, extra_at))))
        if at < plan.cutoff:
            platform = "ios" if rng.random() < 0.3 else "android"
            add_device((people.device_id(rng, platform), platform), at)
    cards.sort(key=lambda s: s.first)
    devices.sort(key=lambda s: s.first)

    def latest(seen: list[_Seen], moment: datetime) -> _Seen:
        pick = seen[0]
        for s in seen:
            if s.first <= moment:
                pick = s
        return pick

    # 4. Declared assets: more likely for higher incomes; some verified.
    assets = []
    if rng.random() < 0.10 + 0.04 * [b for b, *_ in INCOME_BANDS].index(band):
        for _ in range(rng.randint(1, 2)):
            kind, _, low, high = rng.choices(ASSETS, cum_weights=ASSET_CUM)[0]
            declared = registered + timedelta(minutes=rng.randint(5, 60 * 24 * 20))
            if declared >= plan.cutoff:
                continue
            verified_at = declared + timedelta(days=rng.randint(1, 10))
            verified = rng.random() < 0.5 and verified_at < plan.cutoff
            amount = money.to_fen(_floor_amount(Decimal(int(low * (high / low) ** rng.random()))))
            assets.append(
                (
                    ids.take("asset"),
                    borrower_id,
                    kind,
                    amount,
                    declared,
                    verified,
                    verified_at if verified else None,
                )
            )

    # 5. Drawdowns and repayments. Defaulters stop paying from `default_on`; nobody draws while
    # late or after defaulting; rings and night owls draw close to the whole line.
    default_on: date | None = None
    if defaults and not early:
        default_on = registered.date() + timedelta(days=30 + rng.randrange(max(1, plan.days - day)))
    p_late = 0.03 + 0.5 * risk**1.5
    p_partial = 0.02 + 0.15 * risk
    loans: list[Loan] = []
    gap = (
        timedelta(hours=rng.expovariate(1 / 30))
        if rng.random() < 0.7 or good or early or ring
        else timedelta(days=rng.uniform(3, 60))
    )
    moment = opened_at + gap
    transfers: list[tuple[Any, ...]] = []
    while moment < plan.cutoff and len(loans) < MAX_DRAWDOWNS:
        if default_on is not None and moment.date() >= default_on:
            break
        if early and loans:
            break
        if any(loan.overdue_at(moment) for loan in loans):
            moment += timedelta(days=rng.randint(7, 30))
            continue
        available = limit - sum((loan.outstanding_at(moment) for loan in loans), ZERO)
        night = night_owl and rng.random() < 0.5 or rng.random() < 0.01
        if night:
            moment = _night(rng, moment.date() + timedelta(days=1))
            if moment >= plan.cutoff:
                break
            share = 0.85 + 0.15 * rng.random()
        elif ring or early:
            share = 0.9 + 0.1 * rng.random()
        else:
            share = min(1.0, 0.15 + rng.random() * (0.6 + 0.5 * risk))
        amount = money.to_fen(_nice_amount(available * Decimal(str(round(share, 3)))))
        if amount < HUNDRED:
            moment += timedelta(days=rng.randint(15, 45))
            continue
        size = "small" if amount < 1000 else "medium" if amount < 5000 else "large"
        terms, term_cum = TERM_CUMS[size]
        term = rng.choices(terms, cum_weights=term_cum)[0]
        mode = rng.choices(MODES, cum_weights=MODE_CUM)[0][0]
        if mode == RepaymentMode.INTEREST_FIRST and term > 12:
            mode = RepaymentMode.EQUAL_INSTALMENT
        card = ring_cards[0] if ring_cards and rng.random() < 0.8 else latest(cards, moment)
        device = ring_devices[0] if ring_devices and rng.random() < 0.7 else latest(devices, moment)
        loan = Loan(
            row_id=ids.take("drawdown"),
            loan_no=f"LN{index + 1:08d}{len(loans) + 1:02d}",
            amount=amount,
            term=term,
            mode=mode,
            rate=rate,
            purpose=rng.choices(PURPOSES, cum_weights=PURPOSE_CUM)[0][0],
            disbursed_at=moment,
            card=card.row_id,
            device=device.row_id,
        )
        card.use(moment)
        device.use(moment)
        login_at = moment - timedelta(seconds=rng.randint(30, 1200))
        events.append(_login(rng, login_at, device))
        events.append(
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
        # The repayment intents: (when, pay through instalment k, fraction or None).
        intents: list[tuple[datetime, int, float | None]] = []
        for state in loan.states:
            due = state.due_date
            if early or (default_on is not None and due >= default_on):
                break
            last = state.seq == term
            u = rng.random()
            if u < p_partial:
                intents.append(
                    (
                        _daytime(rng, due - timedelta(days=0 if last else rng.randint(0, 3))),
                        state.seq,
                        0.3 + 0.4 * rng.random(),
                    )
                )
                intents.append(
                    (_daytime(rng, due + timedelta(days=rng.randint(2, 20))), state.seq, None)
                )
            elif u < p_partial + p_late:
                late = 1 + int(rng.expovariate(1 / (4 + 30 * risk)))
                intents.append(
                    (_daytime(rng, due + timedelta(days=min(late, 89))), state.seq, None)
                )
            else:
                # On time: most pay on the day or a few days early, never the last one early.
                early_days = (
                    0
                    if last
                    else rng.choices((0, 1, 2, 3, 5), cum_weights=(40, 60, 75, 85, 100))[0]
                )
                intents.append((_daytime(rng, due - timedelta(days=early_days)), state.seq, None))
        intents.sort(key=lambda i: i[0])
        for paid_at, through, fraction in intents:
            if paid_at >= plan.cutoff:
                break
            if paid_at <= moment:
                paid_at = moment + timedelta(hours=1)
            payment = loan.pay(paid_at, through, fraction)
            if payment is None:
                continue
            card.use(paid_at)
            if rng.random() < 0.15:
                login_at = paid_at - timedelta(seconds=rng.randint(20, 600))
                device = latest(devices, login_at)
                device.use(login_at)
                events.append(_login(rng, login_at, device))
        # Money moved on right after the drawdown: to another lender (multi-lender), or spent.
        if multi_lender and rng.random() < 0.6:
            at = moment + timedelta(minutes=rng.randint(15, 360))
            moved = money.to_fen(
                _floor_amount(amount * Decimal(str(round(0.5 + 0.5 * rng.random(), 2))))
            )
            if at < plan.cutoff and moved > 0:
                card.use(at)
                transfers.append(
                    (
                        at,
                        moved,
                        rng.choice(people.OTHER_LENDERS),
                        people.account_no(rng),
                        True,
                        card,
                    )
                )
        elif rng.random() < 0.15:
            at = moment + timedelta(minutes=rng.randint(30, 2880))
            moved = money.to_fen(
                _floor_amount(amount * Decimal(str(round(0.2 + 0.7 * rng.random(), 2))))
            )
            to = (
                rng.choice(people.MERCHANTS)
                if rng.random() < 0.6
                else people.person_name(rng, male=rng.random() < 0.5)
            )
            if at < plan.cutoff and moved > 0:
                card.use(at)
                transfers.append((at, moved, to, people.account_no(rng), False, card))
        loans.append(loan)
        if early:
            continue
        mean_days = 25 if multi_lender else 45 + 75 * (1 - risk)
        moment = _daytime(
            rng, moment.date() + timedelta(days=1 + int(rng.expovariate(1 / mean_days)))
        )

    # 6. Logins now and then, from the devices seen so far.
    months_active = max(1, (plan.cutoff - registered).days // 30)
    events.append(_login(rng, registered + timedelta(seconds=rng.randint(1, 30)), own_device))
    for _ in range(sum(1 for _ in range(months_active) if rng.random() < 0.15)):
        at = _daytime(
            rng, registered.date() + timedelta(days=rng.randint(1, max(1, plan.days - day)))
        )
        if at < plan.cutoff:
            device = latest(devices, at)
            device.use(at)
            events.append(_login(rng, at, device))

    # 7. Rows. The line's derived fields come from the schedules, as the services keep them.
    used = ZERO
    oldest: date | None = None
    for loan in loans:
        used += loan.amount - sum((p.principal for p in loan.payments), ZERO)
        for state in loan.states:
            if not money.is_cleared(state):  # DPD runs until principal and interest are paid
                if oldest is None or state.due_date < oldest:
                    oldest = state.due_date
                break
    status, reason = LineStatus.ACTIVE, ""
    if (
        defaults
        and oldest is not None
        and money.days_past_due(oldest, plan.as_of) > 60
        and rng.random() < 0.6
    ):
        status, reason = LineStatus.FROZEN, FROZEN_REASON
    out["borrower"].append(
        (
            borrower_id,
            customer_no,
            name,
            nid,
            nid[-4:],
            mobile,
            mobile[-4:],
            city,
            employer,
            band,
            registered,
            check,
            source,
            checked_at,
            "",  # home_address
            "",  # emergency_contact_name
            "",  # emergency_contact_mobile
        )
    )
    code = LineStatusCode.OVERDUE if status == LineStatus.FROZEN else LineStatusCode.OPENED
    out["line"].append(
        (
            line_id,
            borrower_id,
            limit,
            used,
            status,
            rate,
            opened_at,
            None,
            reason,
            oldest,
            code,
            None,
        )
    )
    for seen in cards:
        out["bank"].append(
            (seen.row_id, borrower_id, seen.label[0], seen.label[1], seen.first, seen.last)
        )
    for seen in devices:
        out["device"].append(
            (seen.row_id, borrower_id, seen.label[0], seen.label[1], seen.first, seen.last, None)
        )
    out["asset"].extend(assets)
    card_by_id = {seen.row_id: seen for seen in cards}
    for loan in loans:
        drawdown_id = loan.row_id
        paid_principal = sum((p.principal for p in loan.payments), ZERO)
        out["drawdown"].append(
            (
                drawdown_id,
                line_id,
                borrower_id,
                loan.loan_no,
                loan.amount,
                loan.term,
                loan.mode,
                loan.rate,
                None,
                loan.purpose,
                loan.disbursed_at,
                loan.card,
                loan.device,
                DrawdownStatus.SETTLED if loan.settled_at else DrawdownStatus.ACTIVE,
                loan.amount - paid_principal,
                loan.settled_at,
                None,  # written_off_at
                ZERO,  # written_off_principal
            )
        )
        instalment_ids = []
        for s in loan.states:
            instalment_id = ids.take("instalment")
            instalment_ids.append(instalment_id)
            out["instalment"].append(
                (
                    instalment_id,
                    drawdown_id,
                    s.seq,
                    s.due_date,
                    s.principal_due,
                    s.interest_due,
                    s.fee_due,
                    s.principal_paid,
                    s.interest_paid,
                    s.fee_paid,
                    s.penalty_through,
                    s.paid_off_at,
                )
            )
        card = card_by_id[loan.card]
        for n, payment in enumerate(loan.payments, start=1):
            repayment_id = ids.take("repayment")
            reference = f"RP{loan.loan_no[2:]}{n:03d}"
            out["repayment"].append(
                (
                    repayment_id,
                    drawdown_id,
                    borrower_id,
                    reference,
                    payment.amount,
                    payment.paid_at,
                    loan.card,
                    ZERO,  # unapplied_amount
                )
            )
            for seq, fee, interest, principal in payment.parts:
                out["allocation"].append(
                    (
                        ids.take("allocation"),
                        repayment_id,
                        instalment_ids[seq - 1],
                        fee,
                        interest,
                        principal,
                    )
                )
            # The API takes a repayment's reference from its event id.
            events.append(
                (
                    payment.paid_at,
                    EventKind.REPAYMENT,
                    {
                        "loan_no": loan.loan_no,
                        "amount": str(payment.amount),
                        "card_no": card.label[1],
                    },
                    {"drawdown_id": drawdown_id, "repayment_id": repayment_id},
                    reference,
                )
            )
    for n, (at, moved, to, account, is_lender, card) in enumerate(transfers, start=1):
        reference = f"TO{index + 1:08d}{n:03d}"
        transfer_id = ids.take("transfer")
        out["transfer"].append(
            (
                transfer_id,
                borrower_id,
                reference,
                moved,
                at,
                to,
                account,
                is_lender,
                card.row_id,
            )
        )
        events.append(
            (
                at,
                EventKind.TRANSFER_OUT,
                {
                    "amount": str(moved),
                    "counterparty_name": to,
                    "counterparty_account": account,
                    "counterparty_is_lender": is_lender,
                    "card_no": card.label[1],
                },
                {"transfer_out_id": transfer_id},
                reference,
            )
        )
    events.sort(key=lambda e: e[0])
    for n, (at, event_kind, body, result_ids, event_ref) in enumerate(events, start=1):
        event_id = event_ref or f"demo-{customer_no}-{n:04d}"
        # The payload is what the API stores: the canonical validated event (keys sorted,
        # amounts at their scale, times in UTC), kept masked with the digest of the full one,
        # so a later real post of the same event id replays; the result is what it answered.
        payload, payload_digest = event_storage_form(
            dict(
                sorted(
                    {
                        "event_id": event_id,
                        "kind": str(event_kind),
                        "occurred_at": _utc_iso(at),
                        "customer_no": customer_no,
                        **body,
                    }.items()
                )
            )
        )
        result = {
            "index": 0,
            "event_id": event_id,
            "kind": str(event_kind),
            "status": "recorded",
            "borrower_id": borrower_id,
            **result_ids,
        }
        received = at + timedelta(milliseconds=rng.randint(50, 3000))
        out["event"].append(
            (
                ids.take("event"),
                event_id,
                str(event_kind),
                borrower_id,
                at,
                received,
                payload,
                result,
                plan.service_user_id,
                payload_digest,
            )
        )


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


def _login(
    rng: random.Random, at: datetime, device: _Seen
) -> tuple[datetime, str, dict[str, Any], dict[str, int], None]:
    body = {"device_id": device.label[0], "platform": device.label[1], "ip": _ip(rng)}
    return (at, EventKind.LOGIN, body, {"device_record_id": device.row_id}, None)


def _ip(rng: random.Random) -> str:
    first = rng.choice((113, 117, 183, 223, 36, 58, 116, 120))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def generate_chunk(
    plan: BookPlan,
    first: int,
    last: int,
    ids: Ids,
    mapper: Callable[..., Iterable[Decimal]] = map,
) -> Rows:
    """Rows for borrowers first..last-1, APRs filled in."""
    out = new_rows()
    for index in range(first, last):
        generate_borrower(plan, index, ids, out)
    fill_aprs(out, mapper)
    return out
