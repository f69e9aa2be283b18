"""The chunk review decides exactly what decisions.policy.review decides, line by line.

decisions.services.reviews.review_columns is the policy over numpy columns (money in fen);
policy.review stays the specification. Both run on many random line states, drawn around
every threshold of the policy (each band's lower score, the freeze DPD, the score drop, the
multi-lender spike, the cooldown, the interval between raises, the on-time run, the ceilings
and the product cap, the drawn balance against the cut), and on every flag alone.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from decisions.policy import DEFAULT_RULES, LineState, policy_rules, review
from decisions.services.reviews import review_states

TODAY = date(2026, 12, 1)
RULES = policy_rules(DEFAULT_RULES)


def _near(value: int, spread: int = 1) -> list[int]:
    return [value + d for d in range(-spread, spread + 1)]


def _random_state(rng: random.Random, rules, cap: D) -> LineState:
    band_edges = [b.min_score for b in rules.bands]
    scores = [None, *[s for e in band_edges for s in _near(e)], rng.randint(300, 800)]
    score = rng.choice(scores)
    previous = rng.choice(
        [None, score, rng.randint(300, 800)]
        + ([score + d for d in _near(rules.cut_score_drop)] if score is not None else [])
    )
    ceilings = [b.ceiling for b in rules.bands]
    limit = rng.choice(
        [
            D("0"),
            D("100"),
            D(rng.randint(0, 600) * 100),
            D(rng.randint(0, 5_000_00)) / 100,  # any amount in fen
            *[c + d for c in ceilings for d in (D("-100"), D("-0.01"), D("0"), D("100"))],
            cap,
            cap - D("1"),
        ]
    )
    limit = max(limit, D("0"))
    used = rng.choice(
        [
            D("0"),
            limit,
            limit * D("0.7"),
            (limit * D("0.7")).quantize(D("0.01")) + D("0.01"),
            D(rng.randint(0, 5_000_00)) / 100,
        ]
    ).quantize(D("0.01"))
    last_cut = rng.choice(
        [None, *[TODAY - timedelta(days=d) for d in _near(rules.cooldown_days)], TODAY]
    )
    last_raise = rng.choice(
        [None, *[TODAY - timedelta(days=d) for d in _near(rules.raise_interval_days)], TODAY]
    )
    return LineState(
        limit=limit.quantize(D("0.01")),
        used=used,
        dpd=rng.choice([0, *_near(rules.freeze_dpd), rng.randint(0, 400)]),
        score=score,
        previous_score=previous,
        on_time_streak=rng.choice([0, *_near(rules.raise_after_on_time), 20]),
        small_early_settlements=rng.choice([0, 0, 1, 2, 3]),
        lender_transfers_90d=rng.choice([0, *_near(rules.multi_lender_spike), 9]),
        identity_mismatch=rng.random() < 0.15,
        fraud_confirmed=rng.random() < 0.05,
        locked=rng.random() < 0.08,
        pending_override=rng.random() < 0.08,
        last_cut_on=last_cut,
        closed=rng.random() < 0.05,
        frozen=rng.random() < 0.1,
        last_raise_on=last_raise,
    )


@pytest.mark.parametrize(
    "rules_doc",
    [
        DEFAULT_RULES,
        {**DEFAULT_RULES, "cut_share": "0.125", "step": "50", "raise_after_on_time": 1},
        {**DEFAULT_RULES, "cut_below_band": "D", "raise_min_band": "A", "cooldown_days": 0},
        {**DEFAULT_RULES, "raise_interval_days": 30, "cooldown_days": 30},
        {k: v for k, v in DEFAULT_RULES.items() if k != "raise_interval_days"},  # none
    ],
)
def test_the_chunk_review_decides_what_review_decides_on_random_states(rules_doc):
    rules = policy_rules(rules_doc)
    rng = random.Random(20261201)  # noqa: S311 (test data)
    for cap in (D("200000"), D("12000")):
        states = [_random_state(rng, rules, cap) for _ in range(4000)]
        expected = [review(rules, s, today=TODAY, product_cap=cap) for s in states]
        assert review_states(rules, states, today=TODAY, product_cap=cap) == expected


def test_every_flag_alone_decides_the_same():
    base = LineState(
        limit=D("5000.00"),
        used=D("1000.00"),
        dpd=0,
        score=640,
        previous_score=640,
        on_time_streak=3,
        small_early_settlements=0,
        lender_transfers_90d=0,
        identity_mismatch=False,
        fraud_confirmed=False,
        locked=False,
        pending_override=False,
        last_cut_on=None,
    )
    variants = [
        base,
        replace(base, closed=True),
        replace(base, frozen=True),
        replace(base, locked=True),
        replace(base, pending_override=True),
        replace(base, fraud_confirmed=True),
        replace(base, fraud_confirmed=True, frozen=True),
        replace(base, identity_mismatch=True),
        replace(base, dpd=RULES.freeze_dpd),
        replace(base, dpd=RULES.freeze_dpd + 1),
        replace(base, score=None),
        replace(base, score=None, previous_score=None, lender_transfers_90d=5),
        replace(base, previous_score=640 + RULES.cut_score_drop),
        replace(base, previous_score=640 + RULES.cut_score_drop - 1),
        replace(base, last_cut_on=TODAY - timedelta(days=RULES.cooldown_days)),
        replace(base, last_cut_on=TODAY - timedelta(days=RULES.cooldown_days - 1)),
        replace(base, last_raise_on=TODAY - timedelta(days=RULES.raise_interval_days)),
        replace(base, last_raise_on=TODAY - timedelta(days=RULES.raise_interval_days - 1)),
        replace(base, last_raise_on=TODAY),
        replace(base, used=D("5000.00"), lender_transfers_90d=2),
        replace(base, limit=D("0.00"), lender_transfers_90d=2),
    ]
    cap = D("200000")
    expected = [review(RULES, s, today=TODAY, product_cap=cap) for s in variants]
    assert review_states(RULES, variants, today=TODAY, product_cap=cap) == expected


def test_a_policy_in_fractions_of_a_fen_falls_back_to_the_reference_review():
    rules = policy_rules({**DEFAULT_RULES, "step": "0.001"})
    rng = random.Random(7)  # noqa: S311 (test data)
    states = [_random_state(rng, rules, D("200000")) for _ in range(300)]
    expected = [review(rules, s, today=TODAY, product_cap=D("200000")) for s in states]
    assert review_states(rules, states, today=TODAY, product_cap=D("200000")) == expected
