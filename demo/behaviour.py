"""The hidden truth behind a demo borrower: a latent risk, an archetype, and how they borrow
and repay. Stored in demo.models.DemoBorrowerProfile and shown by no page.

The latent risk is the chance that the borrower defaults (stops paying for good) within a
year of first borrowing. It shows through what a risk team can observe, never perfectly:
riskier borrowers are given smaller limits and higher rates (the lender's own score sees part
of it), use more of their line, miss due dates more often (mostly curing within days), move
money to other lenders right after drawing (以贷养贷), and draw at night; before defaulting
they start missing payments. A fraction of defaults comes with no warning at all.

Delinquency is an episode in the borrower's life, not a property of one loan: a missed due
date opens a lapse, and every instalment of every loan falling due during it is paid only when
it ends (a cure, paying all arrears at once), or never (a default).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Archetypes (DemoBorrowerProfile.archetype).
STEADY = "steady"  # ordinary: borrows now and then, pays by auto-debit, often settles early
REVOLVER = "revolver"  # uses much of the line again and again; riskier
MULTI_LENDER = "multi_lender"  # 以贷养贷: moves money to other lenders right after drawing
NIGHT_OWL = "night_owl"  # large withdrawals in the small hours
DORMANT = "dormant"  # opened a line and never drew
FRAUD = "fraud"  # first-party fraud: draws the whole line at once and never pays
RING = "ring"  # a fraud ring member (demo.plan)

# Latent risk by declared income band (lowest band first): lower income, higher risk.
BAND_RISK = (1.45, 1.15, 1.0, 0.8, 0.65)
FRAUD_SHARE = 0.002
# Share of defaults that missed payments in the months before.
WARNED_SHARE = 0.4
MAX_RISK = 0.95


@dataclass(slots=True)
class Profile:
    """One borrower's hidden behaviour, drawn once from their own random stream."""

    risk: float
    archetype: str
    multi_lender: bool
    night_owl: bool
    # Bursts of small drawdowns within hours (scraping the line together, sum by sum).
    bursts: bool
    draws: bool
    # Days from opening the line to the first drawdown.
    first_draw_days: float
    # Default: days after the first drawdown when the borrower stops paying for good (None:
    # never within the history). Fraud and most ring members never pay at all (0).
    default_after: int | None
    # Whether missed payments come first (financial stress before the default); a job lost or
    # an illness can end it all at once.
    warning: bool
    # Chance of missing a given due date outside a default, and of a lapse being a long one
    # (cured only after 31-100 days) rather than a few days.
    lapse: float
    long_lapse: float
    # Drawing: the share of the available line taken, the mean days between drawdowns, the
    # chance of stopping after each loan, and the chance of settling a loan early.
    use_low: float
    use_high: float
    gap_days: float
    stop: float
    settle: float


def draw_profile(rng: random.Random, *, band_rank: int, good: bool, ring: bool) -> Profile:
    """The hidden profile of a borrower with the declared income band `band_rank` (0: the
    lowest). `good`: the demo login's borrower, an ordinary good customer."""
    base = 0.02 if good else min(MAX_RISK, rng.betavariate(1.5, 42.0) * BAND_RISK[band_rank])
    if ring:
        return _bust_out(rng, RING, 0.65 + 0.3 * rng.random())
    if not good and rng.random() < FRAUD_SHARE:
        return _bust_out(rng, FRAUD, 0.75 + 0.2 * rng.random())
    # Borrowing from other lenders to repay is both a sign and a cause of trouble.
    multi_lender = not good and rng.random() < 0.01 + base
    risk = min(MAX_RISK, base * (2.5 if multi_lender else 1.0))
    # Large withdrawals in the small hours: mostly the stressed (cash needed now), and they
    # go on to default more often; some ordinary borrowers are night owls too (benign noise).
    night_owl = not good and rng.random() < 0.02 + 0.3 * risk
    if night_owl:
        risk = min(MAX_RISK, risk * 1.6)
    # Bursts of small drawdowns: a small group, most of them in trouble already.
    bursts = not good and rng.random() < 0.002 + 0.08 * risk
    if bursts:
        risk = min(MAX_RISK, max(risk, 0.04) * 2.0)
    if multi_lender:
        archetype = MULTI_LENDER
    elif night_owl:
        archetype = NIGHT_OWL
    elif risk > 0.12:
        archetype = REVOLVER
    else:
        archetype = STEADY
    # Many low-risk customers open a line "just in case" and never use it.
    dormant = not (good or multi_lender or night_owl or bursts) and rng.random() < max(
        0.04, 0.5 - 2.6 * risk
    )
    if dormant:
        archetype = DORMANT
    quick = rng.random() < 0.45 + 1.5 * risk
    first = rng.expovariate(1 / 1.5) if quick else rng.expovariate(1 / 50)
    defaults = not good and rng.random() < risk
    return Profile(
        risk=risk,
        archetype=archetype,
        multi_lender=multi_lender,
        night_owl=night_owl,
        bursts=bursts,
        draws=not dormant,
        first_draw_days=first,
        # A debt spiral (multi-lender) ends sooner.
        default_after=int(rng.uniform(25, 200 if multi_lender else 365)) if defaults else None,
        warning=rng.random() < WARNED_SHARE,
        lapse=0.04 + 0.45 * risk,
        long_lapse=0.03 + 0.3 * risk,
        # How much of the line they take: partly their risk, partly who they are.
        use_low=min(0.6, 0.05 + 0.15 * risk + 0.35 * rng.random()),
        use_high=min(1.0, 0.5 + 0.4 * risk + 0.45 * rng.random()),
        gap_days=25 if multi_lender else 80 - 150 * min(risk, 0.3),
        stop=0.15 if multi_lender else max(0.1, 0.4 - risk),
        settle=max(0.05, 0.6 - 1.2 * risk),
    )


def _bust_out(rng: random.Random, archetype: str, risk: float) -> Profile:
    """Fraud and ring members: the whole line at once, then (mostly) not a single payment."""
    return Profile(
        risk=risk,
        archetype=archetype,
        multi_lender=False,
        # A lone fraudster draws at any hour; a ring's members mostly when the organiser
        # runs them, in the day.
        night_owl=rng.random() < (0.05 if archetype == RING else 0.2),
        bursts=False,
        draws=True,
        first_draw_days=rng.expovariate(1 / 1.0),
        # Most never pay; some pay a month or two to look seasoned first.
        default_after=0 if rng.random() < 0.8 else rng.randint(35, 70),
        warning=False,
        lapse=0.05,
        long_lapse=0.5,
        use_low=0.9,
        use_high=1.0,
        gap_days=10,
        stop=0.6,
        settle=0.0,
    )


def lapse_days(rng: random.Random, profile: Profile) -> int:
    """How long a lapse lasts, in days from the missed due date to the cure payment."""
    if rng.random() < profile.long_lapse:
        return rng.randint(31, 100)
    return min(30, 1 + int(rng.expovariate(1 / 11)))
