"""The limit policy's rules, each at its boundary (decisions.policy.review is pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest

from decisions.policy import (
    CUT,
    DEFAULT_RULES,
    FREEZE,
    HOLD,
    RAISE,
    LineState,
    PolicyInvalid,
    initial_limit,
    policy_rules,
    review,
)

RULES = policy_rules(DEFAULT_RULES)
TODAY = date(2026, 12, 1)
CAP = D("200000")
GOOD = LineState(
    limit=D("5000"),
    used=D("1000"),
    dpd=0,
    score=640,  # band B
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


def decide(**changes):
    return review(RULES, replace(GOOD, **changes), today=TODAY, product_cap=CAP)


def test_a_good_run_in_a_good_band_raises_by_the_bands_step():
    decision = decide()
    assert (decision.action, decision.new_limit, decision.band) == (RAISE, D("7000"), "B")
    assert decision.reasons == ("P01",)


def test_one_on_time_instalment_short_of_the_run_holds_and_an_early_small_settlement_counts():
    assert decide(on_time_streak=2).action == HOLD
    assert decide(on_time_streak=2, small_early_settlements=1).action == RAISE


def test_the_raise_stops_at_the_bands_ceiling_and_at_the_product_cap():
    assert decide(limit=D("29500")).new_limit == D("30000")
    assert decide(limit=D("30000")).action == HOLD
    capped = review(RULES, replace(GOOD, limit=D("5000")), today=TODAY, product_cap=D("6000"))
    assert capped.new_limit == D("6000")


def test_no_raise_below_the_raise_band_or_with_a_mismatched_identity():
    assert decide(score=600, previous_score=600).action == RAISE  # band C, the lowest raising
    assert decide(score=599, previous_score=599).action == HOLD  # band D
    assert decide(identity_mismatch=True).action == HOLD


def test_freeze_above_the_dpd_threshold_and_on_confirmed_fraud():
    assert decide(dpd=30).action != FREEZE
    frozen = decide(dpd=31)
    assert (frozen.action, frozen.reasons) == (FREEZE, ("F01",))
    assert decide(fraud_confirmed=True).reasons == ("F02",)


def test_a_score_drop_of_the_threshold_cuts_by_the_share_not_below_the_drawn_balance():
    assert decide(previous_score=640 + 39).action == RAISE
    cut = decide(previous_score=640 + 40)
    assert (cut.action, cut.new_limit, cut.reasons) == (CUT, D("3500"), ("C01",))
    floor = decide(previous_score=700, used=D("4321"))
    assert floor.new_limit == D("4400")  # what is drawn, rounded up to the step


def test_a_multi_lender_spike_cuts_and_the_lowest_band_is_cut():
    assert decide(lender_transfers_90d=1).action == RAISE
    assert decide(lender_transfers_90d=2).reasons == ("C03",)
    lowest = decide(score=500, previous_score=500)  # band E
    assert (lowest.action, lowest.reasons) == (CUT, ("C02",))


def test_no_raise_within_the_cooldown_after_a_cut():
    assert decide(last_cut_on=TODAY - timedelta(days=89)).action == HOLD
    assert decide(last_cut_on=TODAY - timedelta(days=90)).action == RAISE


def test_in_the_cooldown_a_persisting_condition_is_not_cut_again_but_a_fresh_drop_is():
    cut_lately = TODAY - timedelta(days=RULES.cooldown_days - 1)
    cooled = TODAY - timedelta(days=RULES.cooldown_days)
    lowest = {"score": 500, "previous_score": 500}  # band E: C02 persists night after night
    held = decide(last_cut_on=cut_lately, **lowest)
    assert (held.action, held.new_limit, held.reasons) == (HOLD, D("5000"), ("C02",))
    assert decide(last_cut_on=cooled, **lowest).action == CUT
    spike = decide(last_cut_on=cut_lately, lender_transfers_90d=2)
    assert (spike.action, spike.reasons) == (HOLD, ("C03",))
    fresh_drop = decide(last_cut_on=cut_lately, previous_score=640 + RULES.cut_score_drop)
    assert (fresh_drop.action, fresh_drop.reasons) == (CUT, ("C01",))


def test_no_raise_within_the_interval_after_the_last_raise():
    assert RULES.raise_interval_days == 90
    assert decide(last_raise_on=TODAY - timedelta(days=89)).action == HOLD
    assert decide(last_raise_on=TODAY - timedelta(days=90)).action == RAISE
    # A cut is not held back by a recent raise.
    assert decide(last_raise_on=TODAY, lender_transfers_90d=2).action == CUT


def test_a_policy_written_before_the_raise_interval_existed_keeps_deciding_as_approved():
    older = policy_rules({k: v for k, v in DEFAULT_RULES.items() if k != "raise_interval_days"})
    assert older.raise_interval_days == 0
    state = replace(GOOD, last_raise_on=TODAY)
    assert review(older, state, today=TODAY, product_cap=CAP).action == RAISE
    with pytest.raises(PolicyInvalid) as refused:
        policy_rules({**DEFAULT_RULES, "raise_interval_days": -1})
    assert refused.value.codes == ["steps_and_days"]


def test_a_locked_line_or_one_with_a_pending_override_is_never_changed_automatically():
    assert decide(locked=True, dpd=90).reasons == ("L01",)
    assert decide(pending_override=True).action == HOLD
    assert decide(closed=True).action == HOLD


def test_the_initial_limit_is_conservative_scaled_by_income_and_capped():
    assert initial_limit(RULES, score=640, income_band="5k_10k", product_cap=CAP) == (
        D("3000"),
        D("0.000400"),
    )
    assert initial_limit(RULES, score=640, income_band="lt3k", product_cap=CAP)[0] == D("1800")
    assert initial_limit(RULES, score=None, income_band="gt20k", product_cap=CAP)[0] == D("1000")


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"cut_share": "1.5"}, "cut_share_range"),
        ({"raise_min_band": "Z"}, "no_such_band"),
        (
            {
                "bands": [
                    {
                        "name": "A",
                        "min_score": 5,
                        "initial_limit": "1",
                        "raise_step": "1",
                        "ceiling": "1",
                        "daily_rate": "0.0001",
                    }
                ]
            },
            "last_band_not_zero",
        ),
        ({"freeze_dpd": "thirty"}, "unreadable"),
    ],
)
def test_an_unusable_policy_is_refused_with_what_is_wrong(change, problem):
    with pytest.raises(PolicyInvalid) as refused:
        policy_rules({**DEFAULT_RULES, **change})
    assert problem in refused.value.codes


def test_the_refusal_is_worded_in_the_language_of_the_reader():
    from unittest import mock

    from django.utils import translation

    with pytest.raises(PolicyInvalid) as refused:
        policy_rules({**DEFAULT_RULES, "raise_min_band": "Z", "cut_share": "2"})
    assert refused.value.codes == ["no_such_band", "cut_share_range"]
    with translation.override("en"):
        english = str(refused.value)
    assert "Z" in english and english.count(".") == 2  # one sentence per problem, named
    # Worded when read, not when raised: each message goes through the catalogue then (a
    # stand-in catalogue here, so the test does not wait for the translation).
    catalogue = {"The cut share of the limit must be between 0 and 1.": "削减比例须在0与1之间。"}
    with mock.patch(
        "django.utils.translation._trans.gettext",
        side_effect=lambda text: catalogue.get(text, text),
    ):
        assert "削减比例须在0与1之间。" in str(refused.value)
