"""What spans borrowers in the demo book, decided once per seed: the time frame, fraud rings and
households.

A ring is a handful of borrowers organised by one person: they register within days of each
other from the same phones and the same Wi-Fi, several give the same home address, and most
name the organiser as their emergency contact. Payout cards and mobiles are never shared: a
payout card passes the four-factor check (name, ID, card, mobile) and a mobile is registered
under a real name, so neither can be another person's.

A household is two people living together (a couple): the same address and home Wi-Fi, one
phone both use, each the other's emergency contact. That is the benign sharing a ring rule must
not flag: 1-2% of devices are shared this way, each by exactly two people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from math import sqrt

from demo import people
from lending import money

# Onboarding grows through the window: the last day takes in this much more than the first
# (1 + ONBOARDING_GROWTH times), a young and growing book rather than one big first month.
ONBOARDING_GROWTH = 0.6
# One ring per this many borrowers (at least two), of 3-7 members each.
BORROWERS_PER_RING = 800
# Share of borrowers living in a two-person household (each household shares one device).
HOUSEHOLD_SHARE = 0.03


@dataclass
class Ring:
    """Borrowers who register together, draw from the same phones and Wi-Fi, and give the
    organiser as their emergency contact."""

    members: list[int]
    day: int
    city: str
    areas: tuple[str, ...]
    employer: str
    devices: list[tuple[str, str]]  # (device_id, platform)
    ip: str  # the Wi-Fi the ring works from
    address: str  # the address several members give
    organiser: tuple[str, str]  # (name, mobile): the emergency contact most members name


@dataclass
class Person:
    """A household member as the plan fixes them: what the partner's record refers to."""

    name: str
    male: bool
    mobile: str


@dataclass
class Household:
    """Two people at one address: one shared phone, one home Wi-Fi, each other's contact."""

    members: tuple[int, int]
    people: tuple[Person, Person]
    city: str
    areas: tuple[str, ...]
    address: str
    ip: str
    device: tuple[str, str]  # (device_id, platform) both use
    days: tuple[int, int]  # registration days (window offsets) of the two


@dataclass
class BookPlan:
    """What spans borrowers, decided once per seed, plus the time frame of the history."""

    seed: int
    borrowers: int
    months: int
    as_of: date
    start: date
    cutoff: datetime  # naive local: the history runs to the end of as_of (as_of + 1, 00:00)
    days: int
    service_user_id: int | None
    ring_of: dict[int, Ring] = field(default_factory=dict)
    household_of: dict[int, Household] = field(default_factory=dict)


def onboarding_day(u: float, days: int) -> int:
    """The registration day (offset in the window) at quantile `u` of a linearly growing
    intake: density proportional to 1 + ONBOARDING_GROWTH x (day / days)."""
    g = ONBOARDING_GROWTH
    x = (-1 + sqrt(1 + 2 * g * u * (1 + g / 2))) / g
    return min(days - 2, int(x * days))


def make_plan(
    *, seed: int, borrowers: int, months: int, as_of: date, service_user_id: int | None
) -> BookPlan:
    """Plan the book: time frame, rings and households."""
    start = money.add_months(as_of, -months)
    plan = BookPlan(
        seed=seed,
        borrowers=borrowers,
        months=months,
        as_of=as_of,
        start=start,
        cutoff=datetime.combine(as_of + timedelta(days=1), time(0)),  # noqa: DTZ001  (naive local)
        days=(as_of - start).days,
        service_user_id=service_user_id,
    )
    rng = random.Random(f"{seed}:book")  # noqa: S311  (demo data: reproducible, not secret)
    # Borrower 0 stays an ordinary good customer: the demo borrower login is tied to it.
    candidates = borrowers - 1
    ring_sizes = [rng.randint(3, 7) for _ in range(max(2, borrowers // BORROWERS_PER_RING))]
    n_households = max(1, round(borrowers * HOUSEHOLD_SHARE / 2))
    if sum(ring_sizes) + 2 * n_households > candidates // 2:
        # A tiny book keeps what fits: rings first, as they are the most interesting.
        ring_sizes = ring_sizes[: max(0, candidates // 10)]
        n_households = min(n_households, max(0, candidates // 20))
    needed = sum(ring_sizes) + 2 * n_households
    pool = iter(rng.sample(range(1, borrowers), needed)) if needed else iter(())
    for size in ring_sizes:
        city, areas = people.pick_city(rng)
        platform = "android" if rng.random() < 0.8 else "ios"
        ring = Ring(
            members=[next(pool) for _ in range(size)],
            day=rng.randint(0, max(0, plan.days * 5 // 6)),
            city=city,
            areas=areas,
            employer=city + rng.choice(people.EMPLOYER_TRADES) + "有限公司",
            devices=[(people.device_id(rng, platform), platform) for _ in range(rng.randint(1, 3))],
            ip=people.ip_address(rng),
            address=people.home_address(rng, city),
            organiser=(people.person_name(rng, male=rng.random() < 0.7), people.mobile(rng)),
        )
        for member in ring.members:
            plan.ring_of[member] = ring
    for _ in range(n_households):
        city, areas = people.pick_city(rng)
        male = rng.random() < 0.5
        couple = tuple(
            Person(people.person_name(rng, male=m), m, people.mobile(rng)) for m in (male, not male)
        )
        platform = "ios" if rng.random() < 0.3 else "android"
        first = onboarding_day(rng.random(), plan.days)
        second = min(plan.days - 2, first + int(rng.expovariate(1 / 60)))
        household = Household(
            members=(next(pool), next(pool)),
            people=(couple[0], couple[1]),
            city=city,
            areas=areas,
            address=people.home_address(rng, city),
            ip=people.ip_address(rng),
            device=(people.device_id(rng, platform), platform),
            days=(first, second),
        )
        for member in household.members:
            plan.household_of[member] = household
    return plan
