"""The demo book's scores and limit decisions, measured as a model-risk reviewer would.

- The champion's discrimination out of time: its points table applied to the book as it stood
  at a date after the one it was trained at (the latest with a whole performance window before
  the as-of day), against 90+ DPD within that window; and, for comparison, at the training
  observation date itself (in time: the rows it was fitted on, test split included).
- How the acting scores of the latest whole-book run fall into the active policy's bands.
- The limit decisions of that run by action and reason code.

Rows come from the database only (decisions' own functions: train_scorecard's training rows,
the stored points table, decisions.scorecard.auc_ks), never from the generator.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from decisions.choices import ModelStatus, PolicyStatus
from decisions.management.commands.train_scorecard import book_training_frame
from decisions.models import LimitDecision, LimitPolicy, Score, ScorecardModel, ScoringRun
from decisions.policy import DEFAULT_RULES, policy_rules
from decisions.scorecard import auc_ks
from decisions.selectors import points_table

LABEL = 90
# What a behavioural scorecard on a consumer-credit book usually achieves out of time: much
# lower says the planted behaviour is not in the features; much higher, that the label leaks.
AUC_RANGE = (0.70, 0.85)
JUDGED = "out of time, performing"  # the check held to AUC_RANGE


@dataclass
class Discrimination:
    name: str
    observed: date
    window_days: int
    borrowers: int
    bads: int
    auc: float
    ks: float


@dataclass
class DecisionFigures:
    champion: str
    checks: list[Discrimination] = field(default_factory=list)
    bands: list[tuple[str, int, int]] = field(default_factory=list)  # band, from score, count
    actions: dict[str, Counter[str]] = field(default_factory=dict)  # action -> reason -> count
    decided: Counter[str] = field(default_factory=Counter)  # action -> decisions
    run_id: str = ""

    @property
    def out_of_time(self) -> Discrimination | None:
        return next((c for c in self.checks if c.name == JUDGED), None)

    def failed(self) -> bool:
        check = self.out_of_time
        return check is None or not AUC_RANGE[0] <= check.auc <= AUC_RANGE[1]

    def text(self) -> str:
        low, high = AUC_RANGE
        lines = [f"champion {self.champion}: AUC and KS against later {LABEL}+ DPD"]
        for c in self.checks:
            verdict = ""
            if c.name == JUDGED:
                verdict = "PASS" if low <= c.auc <= high else "FAIL"
                verdict = f"  target {low:.2f}-{high:.2f} {verdict}"
            lines.append(
                f"  {c.name:<24} scored at {c.observed}, {LABEL}+ within {c.window_days} days: "
                f"{c.borrowers:,} borrowers, {c.bads:,} bad, AUC {c.auc:.3f}, KS {c.ks:.3f}"
                + verdict
            )
        total = sum(n for _, _, n in self.bands) or 1
        lines.append(f"acting scores of run {self.run_id} by policy band")
        for band, floor, n in self.bands:
            lines.append(f"  {band:<3} score {floor:>3}+  {n:>7,}  {n / total:6.1%}")
        lines.append("limit decisions of that run by action and reason code")
        for action, reasons in self.actions.items():
            detail = ", ".join(f"{code} {n:,}" for code, n in sorted(reasons.items()))
            lines.append(f"  {action:<7} {self.decided[action]:>7,}  ({detail})")
        return "\n".join(lines)


def _check(
    model: ScorecardModel, *, name: str, observed: date, window: int
) -> list[Discrimination]:
    """The model's AUC and KS at `observed` on the whole population train_scorecard trains on
    (on the book, not yet 90+), and on its performing part: a balance (utilisation above 0)
    and never 30+ DPD, the population a behavioural score is usually judged on (an account
    without a balance can hardly go bad, one in collection all but surely rolls on: both
    flatter the AUC; demo.metrics.scorecard measures its own fit on the same)."""
    frame, _ = book_training_frame(observation_date=observed, window_days=window, label=LABEL)
    table = points_table(model=model)
    total, _ = table.score({f: frame[f].to_numpy() for f in table.features})
    bad = frame["bad"].to_numpy()
    performing = ((frame["utilisation"] > 0) & (frame["max_dpd_ever"] < 30)).to_numpy()
    checks = []
    for label, rows in ((name, slice(None)), (f"{name}, performing", performing)):
        n_bad = int(bad[rows].sum())
        n = len(bad[rows])
        auc, ks = auc_ks(bad[rows], total[rows]) if 0 < n_bad < n else (math.nan, math.nan)
        checks.append(Discrimination(label, observed, window, n, n_bad, auc, ks))
    return checks


def measure_decisions(*, as_of: date) -> DecisionFigures | None:
    """The figures above for the book as of `as_of` (its last closed day); None without a
    champion."""
    champion = ScorecardModel.objects.filter(status=ModelStatus.CHAMPION).first()
    if champion is None:
        return None
    figures = DecisionFigures(champion=f"{champion} ({champion.target})")
    trained = date.fromisoformat(champion.training["observation_date"])
    window = int(champion.training["window_days"])
    later = as_of - timedelta(days=window)
    if later > trained:
        figures.checks += _check(champion, name="out of time", observed=later, window=window)
    figures.checks += _check(champion, name="in time", observed=trained, window=window)

    run = ScoringRun.objects.order_by("-started_at").first()
    if run is None:
        return figures
    figures.run_id = run.run_id
    policy = LimitPolicy.objects.filter(status=PolicyStatus.ACTIVE).first()
    rules = policy_rules(policy.rules if policy else DEFAULT_RULES)
    counts = Counter(
        rules.band_for(total).name
        for total in Score.objects.filter(run_id=run.run_id, acting=True).values_list(
            "total", flat=True
        )
    )
    figures.bands = [(b.name, b.min_score, counts.get(b.name, 0)) for b in rules.bands]
    for action, reasons in LimitDecision.objects.filter(run_id=run.run_id).values_list(
        "action", "reasons"
    ):
        figures.decided[action] += 1
        figures.actions.setdefault(action, Counter()).update(reasons or ["-"])
    return figures
