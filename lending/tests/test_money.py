"""Properties and anchors of the money math (lending.money), RULES §3A.6, §4C, §5.1."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lending import money
from lending.tests.factories import at

MODES = ["equal_instalment", "equal_principal", "interest_first"]

amounts = st.decimals(
    min_value=Decimal("100.00"),
    max_value=Decimal("200000.00"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
terms = st.integers(min_value=1, max_value=36)
# 0.01%/day up to the legal cap 0.0986%/day, in steps of 0.000001.
daily_rates = st.integers(min_value=100, max_value=986).map(lambda n: Decimal(n) / 1_000_000)
starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
modes = st.sampled_from(MODES)


@settings(max_examples=150, deadline=None)
@given(amount=amounts, term=terms, mode=modes, rate=daily_rates, start=starts)
def test_schedule_principal_adds_up_exactly_to_the_amount(amount, term, mode, rate, start):
    plan = money.build_schedule(
        amount=amount, term_months=term, mode=mode, daily_rate=rate, start=start
    )
    assert len(plan) == term
    assert sum(p.principal for p in plan) == amount


@settings(max_examples=150, deadline=None)
@given(amount=amounts, term=terms, mode=modes, rate=daily_rates, start=starts)
def test_schedule_components_are_never_negative_and_in_fen(amount, term, mode, rate, start):
    plan = money.build_schedule(
        amount=amount, term_months=term, mode=mode, daily_rate=rate, start=start
    )
    for p in plan:
        assert p.principal >= 0
        assert p.interest >= 0
        assert p.principal == p.principal.quantize(money.FEN)
        assert p.interest == p.interest.quantize(money.FEN)
    assert [p.seq for p in plan] == list(range(1, term + 1))
    assert all(a.due_date < b.due_date for a, b in zip(plan, plan[1:], strict=False))


@settings(max_examples=150, deadline=None)
@given(amount=amounts, term=st.integers(min_value=2, max_value=36), rate=daily_rates, start=starts)
def test_equal_instalment_payments_are_equal_except_the_last_within_a_few_fen(
    amount, term, rate, start
):
    plan = money.build_schedule(
        amount=amount, term_months=term, mode="equal_instalment", daily_rate=rate, start=start
    )
    payments = {p.total for p in plan[:-1]}
    assert len(payments) == 1
    # The payment and each period's interest are rounded to the fen (half a fen each at most),
    # and the last instalment takes the accumulated residue: under a fen per period.
    assert abs(plan[-1].total - plan[0].total) <= Decimal("0.01") * term


# Below about ¥1,000 a single fen of rounding is a visible share of a month's interest.
loan_amounts = st.decimals(
    min_value=Decimal("1000.00"),
    max_value=Decimal("200000.00"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@settings(max_examples=60, deadline=None)
@given(amount=loan_amounts, term=terms, mode=modes, rate=daily_rates, start=starts)
def test_apr_by_irr_equals_daily_rate_times_365_for_every_mode(amount, term, mode, rate, start):
    plan = money.build_schedule(
        amount=amount, term_months=term, mode=mode, daily_rate=rate, start=start
    )
    apr = money.apr_irr(amount=amount, schedule=plan)
    # Interest follows the declining balance in every mode, so the IRR is the nominal rate;
    # only the fen rounding of each component can move the fourth decimal.
    assert abs(apr - money.simple_apr(rate)) <= Decimal("0.0001")


def _states(draw_amounts: list[tuple[Decimal, Decimal, Decimal]]) -> list[money.InstalmentState]:
    return [
        money.InstalmentState(
            seq=i + 1,
            due_date=date(2026, 1, 1) + timedelta(days=30 * i),
            principal_due=p,
            interest_due=n,
            fee_due=f,
        )
        for i, (p, n, f) in enumerate(draw_amounts)
    ]


fen = st.integers(min_value=0, max_value=500_000).map(lambda n: Decimal(n) / 100)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.tuples(fen, fen, fen), min_size=1, max_size=12), paid=fen)
def test_allocate_conserves_money_and_never_pays_beyond_what_is_due(parts, paid):
    states = _states(parts)
    owed = sum(s.remaining for s in states)
    result = money.allocate(paid, states)
    allocated = sum(a.total for a in result.allocations)
    assert allocated + result.unapplied == paid
    assert result.unapplied == max(paid - owed, Decimal(0))
    for s in states:
        assert 0 <= s.fee_paid <= s.fee_due
        assert 0 <= s.interest_paid <= s.interest_due
        assert 0 <= s.principal_paid <= s.principal_due


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.tuples(fen, fen, fen), min_size=2, max_size=8), paid=fen)
def test_allocate_pays_interest_and_principal_oldest_first_then_the_penalty(parts, paid):
    states = _states(parts)
    money.allocate(paid, states)

    def cleared(s: money.InstalmentState) -> bool:
        return s.interest_paid == s.interest_due and s.principal_paid == s.principal_due

    # A later instalment's interest or principal is paid only once every earlier one's
    # interest and principal are; penalty only once every instalment's are.
    for earlier, later in zip(states, states[1:], strict=False):
        if later.interest_paid + later.principal_paid > 0:
            assert cleared(earlier)
        if later.fee_paid > 0:
            assert earlier.fee_paid == earlier.fee_due
    if any(s.fee_paid > 0 for s in states):
        assert all(cleared(s) for s in states)
    for s in states:
        if s.principal_paid > 0:
            assert s.interest_paid == s.interest_due


@settings(max_examples=300, deadline=None)
@given(
    oldest=st.one_of(st.none(), st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))),
    today=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
)
def test_bucket_due_date_range_agrees_with_bucket_for_days_past_due(oldest, today):
    expected = money.bucket_for(money.days_past_due(oldest, today))
    for bucket, _low, _high in money.BUCKETS:
        earliest, latest = money.bucket_due_date_range(bucket, today)
        if oldest is None:
            inside = bucket == "M0"
        else:
            after_start = earliest is None or oldest >= earliest
            inside = after_start and (latest is None or oldest <= latest)
        assert inside == (bucket == expected), (bucket, oldest, today)


def test_anchor_ten_thousand_over_twelve_months_at_five_per_ten_thousand_a_day():
    plan = money.build_schedule(
        amount=Decimal("10000"),
        term_months=12,
        mode="equal_instalment",
        daily_rate=Decimal("0.0005"),
        start=date(2026, 1, 10),
    )
    assert plan[0].total == Decimal("917.99")
    assert money.apr_irr(amount=Decimal("10000"), schedule=plan) == Decimal("0.1825")


@pytest.mark.parametrize(
    ("monthly_fee", "expected_apr"),
    [("0.005", "0.1090"), ("0.0075", "0.1622"), ("0.01", "0.2146")],
)
def test_flat_monthly_fee_on_original_principal_has_a_much_higher_irr_apr(
    monthly_fee, expected_apr
):
    amount = Decimal("10000.00")
    fee = amount * Decimal(monthly_fee)
    principal = amount / 12
    plan = [
        money.PlannedInstalment(
            seq=k,
            due_date=money.add_months(date(2026, 1, 10), k),
            principal=principal,
            interest=fee,
        )
        for k in range(1, 13)
    ]
    assert money.apr_irr(amount=amount, schedule=plan) == Decimal(expected_apr)


def test_an_upfront_fee_raises_the_apr():
    plan = money.build_schedule(
        amount=Decimal("10000"),
        term_months=12,
        mode="equal_instalment",
        daily_rate=Decimal("0.0005"),
        start=date(2026, 1, 10),
    )
    with_fee = money.apr_irr(amount=Decimal("10000"), schedule=plan, upfront_fee=Decimal("200"))
    assert with_fee > Decimal("0.1825")


@pytest.mark.parametrize(
    ("dpd", "bucket"),
    [
        (0, "M0"),
        (1, "M1"),
        (30, "M1"),
        (31, "M2"),
        (60, "M2"),
        (61, "M3"),
        (90, "M3"),
        (91, "M4"),
        (120, "M4"),
        (121, "M5"),
        (150, "M5"),
        (151, "M6"),
        (180, "M6"),
        (181, "M7"),
        (2000, "M7"),
    ],
)
def test_bucket_boundaries_follow_rules_5_1(dpd, bucket):
    assert money.bucket_for(dpd) == bucket


def test_due_today_is_not_past_due_and_nothing_owed_is_zero():
    assert money.days_past_due(date(2026, 3, 1), date(2026, 3, 1)) == 0
    assert money.days_past_due(date(2026, 3, 1), date(2026, 3, 2)) == 1
    assert money.days_past_due(None, date(2026, 3, 2)) == 0


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"dpd_at_month_end": 0, "due_in_month": True, "settled_in_month": True}, "C"),
        ({"dpd_at_month_end": 45, "due_in_month": True, "settled_in_month": True}, "C"),
        (
            {
                "dpd_at_month_end": 200,
                "due_in_month": True,
                "settled_in_month": False,
                "written_off": True,
            },
            "G",
        ),
        ({"dpd_at_month_end": 0, "due_in_month": False, "settled_in_month": False}, "*"),
        ({"dpd_at_month_end": 0, "due_in_month": True, "settled_in_month": False}, "N"),
        ({"dpd_at_month_end": 1, "due_in_month": True, "settled_in_month": False}, "1"),
        ({"dpd_at_month_end": 30, "due_in_month": True, "settled_in_month": False}, "1"),
        ({"dpd_at_month_end": 31, "due_in_month": False, "settled_in_month": False}, "2"),
        ({"dpd_at_month_end": 95, "due_in_month": True, "settled_in_month": False}, "4"),
        ({"dpd_at_month_end": 181, "due_in_month": True, "settled_in_month": False}, "7"),
        ({"dpd_at_month_end": 400, "due_in_month": True, "settled_in_month": False}, "7"),
    ],
)
def test_monthly_status_follows_rules_3a6(kwargs, status):
    assert money.monthly_status(month_end=date(2026, 3, 31), **kwargs) == status


def test_daily_and_penalty_interest():
    rate, principal = Decimal("0.0005"), Decimal("10000")
    assert money.daily_interest(principal=principal, daily_rate=rate, days=15) == Decimal("75")
    assert money.daily_interest(principal=principal, daily_rate=rate, days=0) == 0
    # 0.05%/day x 1.5 = 27.375% a year, above the 24% ceiling: 765.91 x 0.24 / 365 x 10 days
    # = 5.0361... -> 5.04.
    assert money.penalty_interest(
        overdue_principal=Decimal("765.91"), daily_rate=Decimal("0.0005"), days=10
    ) == Decimal("5.04")
    # 0.04%/day x 1.5 = 0.06%/day (21.9% a year), under the ceiling: 765.91 x 0.0006 x 10
    # = 4.59546 -> 4.60.
    assert money.penalty_interest(
        overdue_principal=Decimal("765.91"), daily_rate=Decimal("0.0004"), days=10
    ) == Decimal("4.60")


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("0.0002", "0.0003"),  # 1.5x the contract rate
        ("0.0004", "0.0006"),
        ("0.0005", str(Decimal("0.24") / 365)),  # 27.4% a year capped at the 24% ceiling
        ("0.000986", "0.000986"),  # a contract above the ceiling: never below its own rate
    ],
)
def test_penalty_rate_is_one_and_a_half_times_the_rate_capped_at_the_ceiling(rate, expected):
    assert money.penalty_daily_rate(Decimal(rate)) == Decimal(expected)


def test_penalty_rate_follows_the_configured_caps(settings):
    settings.RISKOPS_PENALTY_RATE_FACTOR = "2"
    settings.RISKOPS_APR_CEILING = "0.36"
    assert money.penalty_daily_rate(Decimal("0.0004")) == Decimal("0.0008")
    assert money.penalty_interest(
        overdue_principal=Decimal("1000"), daily_rate=Decimal("0.0004"), days=3
    ) == Decimal("2.40")


def test_a_penalty_factor_below_one_never_makes_overdue_cheaper_than_the_contract(settings):
    settings.RISKOPS_PENALTY_RATE_FACTOR = "0.5"
    assert money.penalty_daily_rate(Decimal("0.0004")) == Decimal("0.0004")
    assert money.penalty_interest(
        overdue_principal=Decimal("1000"), daily_rate=Decimal("0.0004"), days=3
    ) == Decimal("1.20")


def test_month_interest_rounds_an_exact_half_fen_up():
    # 24.00 x 0.0005 x 365 / 12 = 0.365 exactly: half-up gives 0.37.
    assert money.month_interest(Decimal("24.00"), Decimal("0.0005")) == Decimal("0.37")


def test_equal_principal_never_schedules_more_principal_than_is_left():
    plan = money.build_schedule(
        amount=Decimal("0.05"),
        term_months=8,
        mode="equal_principal",
        daily_rate=Decimal("0.0005"),
        start=date(2026, 1, 10),
    )
    assert [p.principal for p in plan] == [Decimal("0.01")] * 5 + [Decimal("0")] * 3
    assert all(p.principal >= 0 for p in plan)


def test_build_schedule_refuses_bad_input():
    cases: list[dict[str, Any]] = [
        {"amount": Decimal(0), "term_months": 12, "mode": "equal_instalment"},
        {"amount": Decimal(100), "term_months": 0, "mode": "equal_instalment"},
        {"amount": Decimal(100), "term_months": 37, "mode": "equal_instalment"},
        {"amount": Decimal(100), "term_months": 12, "mode": "balloon"},
    ]
    for kwargs in cases:
        with pytest.raises(ValueError, match="."):
            money.build_schedule(daily_rate=Decimal("0.0005"), start=date(2026, 1, 1), **kwargs)


def test_due_dates_clamp_to_month_end():
    assert money.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert money.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert money.add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)


# plan_repayment and accrue_penalties: the rules of lending.services.repayment_record, which the
# demo seeder replays in memory.


def rows_for(amount: Decimal, term: int, mode: str, start: date) -> list[money.InstalmentState]:
    """The schedule as the seeder holds it in memory (money.InstalmentState)."""
    plan = money.build_schedule(
        amount=amount, term_months=term, mode=mode, daily_rate=Decimal("0.0005"), start=start
    )
    return [money.InstalmentState(p.seq, p.due_date, p.principal, p.interest) for p in plan]


@settings(max_examples=120, deadline=None)
@given(
    amount=st.integers(min_value=500, max_value=50_000).map(Decimal),
    term=st.integers(min_value=1, max_value=12),
    mode=st.sampled_from(MODES),
    payments=st.lists(
        st.tuples(st.integers(min_value=0, max_value=400), st.integers(1, 300_000)),
        min_size=1,
        max_size=8,
    ),
)
def test_plan_repayment_conserves_money_and_never_pays_beyond_due(amount, term, mode, payments):
    start = date(2026, 1, 10)
    rows = rows_for(amount, term, mode, start)
    for day_offset, fen_amount in sorted(payments):
        paid_at = at(2026, 1, 10) + timedelta(days=day_offset)
        paid = Decimal(fen_amount) / 100
        before = sum(r.principal_paid + r.interest_paid + r.fee_paid for r in rows)
        plan = money.plan_repayment(
            rows,
            amount=paid,
            paid_at=paid_at,
            daily_rate=Decimal("0.0005"),
            disbursed_on=start,
            mode=mode,
        )
        after = sum(r.principal_paid + r.interest_paid + r.fee_paid for r in rows)
        assert after - before + plan.unapplied == paid
        assert sum(p.total for p in plan.parts.values()) + plan.unapplied == paid
        assert sum(r.principal_due for r in rows) == amount
        for r in rows:
            assert 0 <= r.fee_paid <= r.fee_due
            assert 0 <= r.interest_paid <= r.interest_due
            assert 0 <= r.principal_paid <= r.principal_due
            # paid_off_at means cleared for DPD: principal and interest paid.
            assert (r.paid_off_at is not None) == (
                r.principal_paid == r.principal_due and r.interest_paid == r.interest_due
            )
        assert plan.settles == all(r.remaining == 0 for r in rows)
        if plan.unapplied:
            assert plan.settles
        if plan.settles:
            assert sum(r.principal_paid for r in rows) == amount
            break


def test_accrue_penalties_counts_each_day_once():
    rows = rows_for(Decimal("10000"), 3, "equal_instalment", date(2026, 1, 10))
    overdue = rows[0].principal_due
    assert overdue == Decimal("3283.15")
    first = money.accrue_penalties(rows, daily_rate=Decimal("0.0005"), on=date(2026, 2, 20))
    again = money.accrue_penalties(rows, daily_rate=Decimal("0.0005"), on=date(2026, 2, 20))
    later = money.accrue_penalties(rows, daily_rate=Decimal("0.0005"), on=date(2026, 2, 25))
    # 3,283.15 x 0.24/365 (the capped penalty rate) x 10 days = 21.5878... -> 21.59; 15 days
    # = 32.3818... -> 32.38, so the five more days book 10.79.
    assert first == {1: Decimal("21.59")}
    assert again == {}
    assert later == {1: Decimal("10.79")}
    assert rows[0].fee_due == Decimal("32.38")
    assert rows[0].penalty_through == date(2026, 2, 25)
    assert rows[1].penalty_through is None


def test_accrue_penalties_day_by_day_books_what_one_accrual_books():
    """The day close accrues nightly; a small overdue principal must not round to nothing."""
    rows = [money.InstalmentState(1, date(2026, 3, 10), Decimal("5.00"), Decimal("0.10"))]
    for day in range(11, 31):
        money.accrue_penalties(rows, daily_rate=Decimal("0.0004"), on=date(2026, 3, day))
    # 5.00 x 0.0006 = 0.003 a day, which rounds to 0.00 alone; 20 days = 0.06.
    assert rows[0].fee_due == Decimal("0.06")


PAID_DAY_15 = at(2026, 1, 25)


def anchor_loan() -> list[money.InstalmentState]:
    return rows_for(Decimal("10000"), 12, "equal_instalment", date(2026, 1, 10))


def plan_anchor(rows: list[money.InstalmentState], amount: str, paid_at=PAID_DAY_15):
    return money.plan_repayment(
        rows,
        amount=Decimal(amount),
        paid_at=paid_at,
        daily_rate=Decimal("0.0005"),
        disbursed_on=date(2026, 1, 10),
        mode="equal_instalment",
    )


def test_the_payoff_on_day_15_is_principal_plus_fifteen_days_of_interest():
    payoff = money.payoff_amount(
        anchor_loan(),
        daily_rate=Decimal("0.0005"),
        disbursed_on=date(2026, 1, 10),
        on=PAID_DAY_15.date(),
    )
    assert payoff == Decimal("10075.00")  # 10,000 x 0.05% x 15 days = 75.00


def test_one_fen_under_the_payoff_leaves_one_fen_of_principal_and_no_more_interest():
    rows = anchor_loan()
    plan = plan_anchor(rows, "10074.99")
    assert not plan.settles
    assert (plan.parts[1].interest, plan.parts[1].principal) == (
        Decimal("75.00"),
        Decimal("9999.99"),
    )
    assert sum(r.principal_due - r.principal_paid for r in rows) == Decimal("0.01")
    assert sum(r.interest_due - r.interest_paid for r in rows) == 0
    assert rows[-1].principal_due == Decimal("0.01")  # due with the last instalment


def test_paying_the_instalment_shown_early_clears_it_and_the_next_one_carries_the_rest():
    rows = anchor_loan()
    plan = plan_anchor(rows, "917.99", paid_at=at(2026, 2, 5))
    # 26 days used: 10,000 x 0.05% x 26 = 130.00 of interest earned, the rest repays principal
    # (765.91 of the first instalment, 22.08 of the later ones, re-amortised).
    assert (plan.parts[1].interest, plan.parts[1].principal) == (
        Decimal("130.00"),
        Decimal("787.99"),
    )
    assert (rows[0].interest_due, rows[0].principal_due) == (Decimal("130.00"), Decimal("787.99"))
    assert rows[0].paid_off_at == at(2026, 2, 5)
    later_principal = sum(r.principal_due - r.principal_paid for r in rows[1:])
    assert later_principal == Decimal("9212.01")
    # The period's interest on the principal that stays runs on to 10 Feb (a nominal month,
    # less the 787.99 repaid for its 4 5/12 unused days): 152.0833 - 787.99 x 0.05% x
    # 4 5/12 = 150.34, of which 130.00 is paid; the 20.34 left is due with the next
    # instalment, on top of its own month on 9,212.01 (140.10).
    assert rows[1].interest_due == Decimal("140.10") + Decimal("20.34")
    assert rows[1].paid_off_at is None
