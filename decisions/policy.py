"""The limit policy as data, and the pure function that turns a borrower's state into a decision.

A policy is a document (LimitPolicy.rules, JSON) a manager edits and the head of risk approves;
`policy_rules` reads it into PolicyRules with defaults and validation. `review` decides one
line: freeze, cut, raise or hold, in that order of precedence, with reason codes. It is pure
(no database), so the same code reviews one line after an event, the whole book at night, and
a draft policy in a simulation.

Rules, in order:
1. Hard holds: a closed line is never reviewed; a line locked by a manual decision, or with a
   pending override, is never changed automatically (HOLD, "L01 locked").
2. Freeze: days past due above `freeze_dpd`, or a confirmed fraud flag (FREEZE).
3. Cut: the score fell by `cut_score_drop` points or more since the last review, or the band
   is below `cut_below_band`, or multi-lender transfers reached `multi_lender_spike`; the new
   limit is the current one times (1 - `cut_share`), never below what is drawn rounded up to
   the step, nor below zero. Cooldown, for `cooldown_days` after a cut: no raise, and no
   second cut for a condition that persists (the lowest band, the multi-lender spike: held
   with its reasons), so a line is cut once for it, not a share again every night down to
   what is drawn; a fresh score drop still cuts.
4. Raise: `raise_after_on_time` instalments paid on time in a row (an early settlement of a
   small loan counts as one), the band at or above `raise_min_band`, no cut within the
   cooldown, no raise within `raise_interval_days`, the identity cross-check not mismatched;
   the new limit is the current one plus the band's step, capped by the band's ceiling and the
   product cap. The interval keeps a line from climbing a step every night to its ceiling on
   the same on-time run; a policy document written before it existed reads it as 0 (no
   interval), so an approved version keeps deciding as it did when it was approved.
5. Otherwise HOLD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

RAISE = "raise"
HOLD = "hold"
CUT = "cut"
FREEZE = "freeze"


@dataclass(frozen=True)
class Band:
    """A score band: from `min_score` up (bands are ordered best first)."""

    name: str
    min_score: int
    initial_limit: Decimal  # for an average income; scaled by income band
    raise_step: Decimal
    ceiling: Decimal
    daily_rate: Decimal  # risk-based pricing, under the APR ceiling


@dataclass(frozen=True)
class Scenario:
    """What the policy tolerates for a drawdown purpose (used by the drawdown check)."""

    min_score: int
    max_share_of_limit: Decimal
    max_term_months: int


@dataclass(frozen=True)
class PolicyRules:
    bands: tuple[Band, ...]
    freeze_dpd: int = 30
    cut_score_drop: int = 40
    cut_below_band: str = "E"
    cut_share: Decimal = Decimal("0.30")
    multi_lender_spike: int = 2
    cooldown_days: int = 90
    raise_interval_days: int = 0
    raise_after_on_time: int = 3
    raise_min_band: str = "C"
    small_loan: Decimal = Decimal("1000")
    step: Decimal = Decimal("100")
    income_factor: Mapping[str, Decimal] = field(default_factory=dict)
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)

    def band_for(self, score: int | None) -> Band:
        """The band a score falls in; no score falls in the lowest band."""
        for band in self.bands:
            if score is not None and score >= band.min_score:
                return band
        return self.bands[-1]

    def rank(self, name: str) -> int:
        """0 for the best band; larger is worse."""
        return [b.name for b in self.bands].index(name)


DEFAULT_RULES: dict[str, Any] = {
    "bands": [
        {
            "name": "A",
            "min_score": 660,
            "initial_limit": "5000",
            "raise_step": "3000",
            "ceiling": "50000",
            "daily_rate": "0.000300",
        },
        {
            "name": "B",
            "min_score": 630,
            "initial_limit": "3000",
            "raise_step": "2000",
            "ceiling": "30000",
            "daily_rate": "0.000400",
        },
        {
            "name": "C",
            "min_score": 600,
            "initial_limit": "2000",
            "raise_step": "1000",
            "ceiling": "15000",
            "daily_rate": "0.000500",
        },
        {
            "name": "D",
            "min_score": 570,
            "initial_limit": "1000",
            "raise_step": "500",
            "ceiling": "5000",
            "daily_rate": "0.000600",
        },
        {
            "name": "E",
            "min_score": 0,
            "initial_limit": "500",
            "raise_step": "0",
            "ceiling": "1000",
            "daily_rate": "0.000650",
        },
    ],
    "freeze_dpd": 30,
    "cut_score_drop": 40,
    "cut_below_band": "E",
    "cut_share": "0.30",
    "multi_lender_spike": 2,
    "cooldown_days": 90,
    "raise_interval_days": 90,
    "raise_after_on_time": 3,
    "raise_min_band": "C",
    "small_loan": "1000",
    "step": "100",
    "income_factor": {
        "lt3k": "0.6",
        "3k_5k": "0.8",
        "5k_10k": "1.0",
        "10k_20k": "1.5",
        "gt20k": "2.0",
    },
    "scenarios": {
        "daily": {"min_score": 0, "max_share_of_limit": "1.0", "max_term_months": 12},
        "travel": {"min_score": 600, "max_share_of_limit": "0.8", "max_term_months": 12},
        "education": {"min_score": 620, "max_share_of_limit": "0.6", "max_term_months": 24},
        "medical": {"min_score": 570, "max_share_of_limit": "1.0", "max_term_months": 24},
        "home": {"min_score": 600, "max_share_of_limit": "0.8", "max_term_months": 24},
        "other": {"min_score": 630, "max_share_of_limit": "0.5", "max_term_months": 12},
    },
}


class PolicyInvalid(ValueError):
    """The policy document does not describe a usable policy; the message says what.

    `problems` holds each problem as (code, message): the code is stable (tests and the API
    read it), the message is translatable and is put into words in the language active when
    it is read (str(exc)), so the editor shows it in the page's language."""

    def __init__(self, problems: list[tuple[str, Any]] | str) -> None:
        # A bare sentence (code elsewhere that predates the codes) is one problem, "invalid".
        self.problems = [("invalid", problems)] if isinstance(problems, str) else problems
        super().__init__(self.problems)

    @property
    def codes(self) -> list[str]:
        return [code for code, _message in self.problems]

    def __str__(self) -> str:
        # Each message is a sentence of its own.
        return " ".join(str(message) for _code, message in self.problems)


def _format(template: Any, **params: Any) -> str:
    return str(template) % params


# A translatable message with parameters, put into words only when read (in that language).
_lazy_format = lazy(_format, str)


# What a document that leaves a rule out means by it, where that is not DEFAULT_RULES' value: a
# rule added after policies were approved reads as absent in those versions (they keep deciding
# as approved), while a new draft starts from DEFAULT_RULES, which has it.
ABSENT_MEANS = {"raise_interval_days": 0}


def rules_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A policy document with every rule present: its own values, else what leaving the rule
    out means (ABSENT_MEANS, then DEFAULT_RULES)."""
    return {**DEFAULT_RULES, **ABSENT_MEANS, **document}


def policy_rules(document: Mapping[str, Any]) -> PolicyRules:
    """Read and validate a policy document (defaults for what it leaves out)."""
    merged = rules_document(document)
    try:
        bands = tuple(
            Band(
                name=str(b["name"]),
                min_score=int(b["min_score"]),
                initial_limit=Decimal(str(b["initial_limit"])),
                raise_step=Decimal(str(b["raise_step"])),
                ceiling=Decimal(str(b["ceiling"])),
                daily_rate=Decimal(str(b["daily_rate"])),
            )
            for b in merged["bands"]
        )
        rules = PolicyRules(
            bands=bands,
            freeze_dpd=int(merged["freeze_dpd"]),
            cut_score_drop=int(merged["cut_score_drop"]),
            cut_below_band=str(merged["cut_below_band"]),
            cut_share=Decimal(str(merged["cut_share"])),
            multi_lender_spike=int(merged["multi_lender_spike"]),
            cooldown_days=int(merged["cooldown_days"]),
            raise_interval_days=int(merged["raise_interval_days"]),
            raise_after_on_time=int(merged["raise_after_on_time"]),
            raise_min_band=str(merged["raise_min_band"]),
            small_loan=Decimal(str(merged["small_loan"])),
            step=Decimal(str(merged["step"])),
            income_factor={k: Decimal(str(v)) for k, v in merged["income_factor"].items()},
            scenarios={
                k: Scenario(
                    min_score=int(v["min_score"]),
                    max_share_of_limit=Decimal(str(v["max_share_of_limit"])),
                    max_term_months=int(v["max_term_months"]),
                )
                for k, v in merged["scenarios"].items()
            },
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        # The detail is Python's own words about the value (not translated).
        raise PolicyInvalid(
            [("unreadable", _lazy_format(_("A value cannot be read: %(detail)s"), detail=exc))]
        ) from exc
    problems: list[tuple[str, Any]] = []
    if not bands or [b.min_score for b in bands] != sorted(
        (b.min_score for b in bands), reverse=True
    ):
        problems.append(
            ("bands_order", _("Score bands must be listed best first, by falling minimum score."))
        )
    if bands and bands[-1].min_score != 0:
        problems.append(("last_band_not_zero", _("The last score band must start at score 0.")))
    names = [b.name for b in bands]
    if len(set(names)) != len(names):
        problems.append(("band_names_repeat", _("Each score band needs its own name.")))
    problems.extend(
        ("no_such_band", _lazy_format(_("There is no score band named “%(name)s”."), name=name))
        for name in (rules.raise_min_band, rules.cut_below_band)
        if name not in names
    )
    if not Decimal(0) < rules.cut_share < Decimal(1):
        problems.append(
            ("cut_share_range", _("The cut share of the limit must be between 0 and 1."))
        )
    if any(b.initial_limit < 0 or b.raise_step < 0 or b.ceiling < b.initial_limit for b in bands):
        problems.append(
            (
                "band_limits",
                _(
                    "Limits and raise steps cannot be negative, and each ceiling must be at "
                    "least the band's initial limit."
                ),
            )
        )
    if any(b.daily_rate <= 0 for b in bands):
        problems.append(("daily_rate", _("Daily rates must be above zero.")))
    if (
        rules.step <= 0
        or rules.freeze_dpd < 1
        or rules.cooldown_days < 0
        or rules.raise_interval_days < 0
    ):
        problems.append(
            (
                "steps_and_days",
                _(
                    "The rounding step and the freeze threshold (days past due) must be above "
                    "zero, and the cooldown and the interval between raises cannot be negative."
                ),
            )
        )
    if problems:
        raise PolicyInvalid(problems)
    return rules


@dataclass(frozen=True)
class LineState:
    """What the policy reads of one line and its borrower at review time."""

    limit: Decimal
    used: Decimal
    dpd: int
    score: int | None
    previous_score: int | None
    on_time_streak: int
    small_early_settlements: int
    lender_transfers_90d: int
    identity_mismatch: bool
    fraud_confirmed: bool
    locked: bool
    pending_override: bool
    last_cut_on: date | None
    closed: bool = False
    frozen: bool = False
    last_raise_on: date | None = None


@dataclass(frozen=True)
class Decision:
    action: str
    new_limit: Decimal
    band: str
    reasons: tuple[str, ...]


def _round_up(amount: Decimal, step: Decimal) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_CEILING) * step


def _round_down(amount: Decimal, step: Decimal) -> Decimal:
    return (amount // step) * step


def _within(day: date | None, today: date, days: int) -> bool:
    """Whether `day` (None: never) was fewer than `days` days before `today`."""
    return day is not None and today - day < timedelta(days=days)


def review(rules: PolicyRules, state: LineState, *, today: date, product_cap: Decimal) -> Decision:
    """The policy's decision for one line (see the module docstring for the rules)."""
    band = rules.band_for(state.score)
    keep = Decision(HOLD, state.limit, band.name, ())
    if state.closed:
        return keep
    if state.locked or state.pending_override:
        return Decision(HOLD, state.limit, band.name, ("L01",))
    if state.fraud_confirmed:
        return Decision(FREEZE, state.limit, band.name, ("F02",))
    if state.dpd > rules.freeze_dpd:
        return Decision(FREEZE, state.limit, band.name, ("F01",))
    if state.frozen:
        return keep  # unfreezing is a person's decision
    cut_reasons = []
    if (
        state.score is not None
        and state.previous_score is not None
        and state.previous_score - state.score >= rules.cut_score_drop
    ):
        cut_reasons.append("C01")
    if rules.rank(band.name) >= rules.rank(rules.cut_below_band) and state.score is not None:
        cut_reasons.append("C02")
    if state.lender_transfers_90d >= rules.multi_lender_spike:
        cut_reasons.append("C03")
    in_cooldown = _within(state.last_cut_on, today, rules.cooldown_days)
    if cut_reasons:
        if in_cooldown and "C01" not in cut_reasons:
            return Decision(HOLD, state.limit, band.name, tuple(cut_reasons))
        floor = min(state.limit, _round_up(state.used, rules.step))
        target = _round_down(state.limit * (1 - rules.cut_share), rules.step)
        new_limit = max(target, floor, Decimal(0))
        if new_limit < state.limit:
            return Decision(CUT, new_limit, band.name, tuple(cut_reasons))
        return Decision(HOLD, state.limit, band.name, tuple(cut_reasons))
    raised_lately = _within(state.last_raise_on, today, rules.raise_interval_days)
    good_run = state.on_time_streak + state.small_early_settlements
    if (
        good_run >= rules.raise_after_on_time
        and rules.rank(band.name) <= rules.rank(rules.raise_min_band)
        and not in_cooldown
        and not raised_lately
        and not state.identity_mismatch
        and band.raise_step > 0
    ):
        ceiling = min(band.ceiling, product_cap)
        new_limit = min(state.limit + band.raise_step, ceiling)
        if new_limit > state.limit:
            return Decision(RAISE, new_limit, band.name, ("P01",))
    return keep


def initial_limit(
    rules: PolicyRules, *, score: int | None, income_band: str, product_cap: Decimal
) -> tuple[Decimal, Decimal]:
    """A new line's limit and daily rate: the band's initial limit scaled by income, rounded
    down to the step, never above the band's ceiling or the product cap."""
    band = rules.band_for(score)
    factor = rules.income_factor.get(income_band, Decimal(1))
    limit = _round_down(band.initial_limit * factor, rules.step)
    return min(limit, band.ceiling, product_cap), band.daily_rate


DECISION_REASONS = {
    "L01": "locked",
    "F01": "past_due",
    "F02": "fraud",
    "C01": "score_drop",
    "C02": "low_band",
    "C03": "multi_lender",
    "P01": "good_repayment",
}

# What each limit decision code says to staff and to the borrower, in their language.
DECISION_SENTENCES: dict[str, Any] = {
    "L01": _("The limit was set by a recent manual decision and is not changed automatically"),
    "F01": _("A payment is long overdue"),
    "F02": _("The line is under a security review"),
    "C01": _("The credit score fell since the last review"),
    "C02": _("The credit score is in the lowest band"),
    "C03": _("Money was moved to other lenders soon after drawing"),
    "P01": _("Instalments were repaid on time several times in a row"),
}
