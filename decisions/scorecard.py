"""Points scorecards: trained with optbinning, stored and applied as a plain points table.

Training (`scorecard_train`) is the only part that needs the binning library: monotone
optimal binning per numerical feature, weight of evidence, a logistic regression on the WoE
values, and points scaled so that `base_score` points mean odds of `base_odds` good to one bad
and every `pdo` more points double the odds (600 / 50:1 / 20 by default). Points are rounded to
whole numbers, so a person can read the table and two versions can be diffed.

Scoring (`PointsTable.score`) needs numpy only: each feature's value falls in one bin, whose
points add up to the score. A higher score is a lower risk.

Bins, as optbinning defines them: a numerical feature's bins are half-open ranges
[lower, upper) between its split points (the first open below, the last open above); a
categorical feature's bins are sets of categories; every feature also has a "special" bin
(unused here) and a "missing" bin, which takes NaN / None and categories never seen in
training. Missing values score the missing bin's own empirical WoE
(`metric_missing="empirical"`), or 0 WoE when training had no missing values: documented per
feature in the features catalogue (decisions.features).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

BIN_RANGE = "range"
BIN_CATEGORIES = "categories"
BIN_SPECIAL = "special"
BIN_MISSING = "missing"

DEFAULT_BASE_SCORE = 600
DEFAULT_BASE_ODDS = 50
DEFAULT_PDO = 20
# A numerical feature whose most common value covers this share of the training rows is
# binned with bins down to RARE_MIN_ROWS rows (_rare_value_binning), not optbinning's 5%.
RARE_MODE_SHARE = 0.9
RARE_MIN_ROWS = 30
RARE_MIN_SHARE = 0.005


@dataclass(frozen=True)
class PointsBin:
    """One row of a points table: where a feature's value falls, and what it earns."""

    feature: str
    index: int
    kind: str
    lower: float | None = None  # range bins: inclusive lower edge, None = open
    upper: float | None = None  # range bins: exclusive upper edge, None = open
    categories: tuple[str, ...] = ()
    points: float = 0.0
    woe: float = 0.0
    count: int = 0
    event_rate: float = 0.0
    label: str = ""


@dataclass
class PointsTable:
    """A scorecard as data: its bins and points, and how they were scaled."""

    bins: list[PointsBin]
    base_points: float = 0.0
    base_score: int = DEFAULT_BASE_SCORE
    base_odds: int = DEFAULT_BASE_ODDS
    pdo: int = DEFAULT_PDO

    @property
    def features(self) -> list[str]:
        return list(dict.fromkeys(b.feature for b in self.bins))

    def feature_bins(self, feature: str) -> list[PointsBin]:
        return [b for b in self.bins if b.feature == feature]

    def bin_indices(self, feature: str, values: Sequence[Any] | np.ndarray) -> np.ndarray:
        """The index (in feature_bins order) of the bin each value falls in."""
        bins = self.feature_bins(feature)
        missing = next(i for i, b in enumerate(bins) if b.kind == BIN_MISSING)
        out = np.full(len(values), missing, dtype=np.int64)
        ranges = [(i, b) for i, b in enumerate(bins) if b.kind == BIN_RANGE]
        if ranges:
            numbers = np.array([_as_float(v) for v in values], dtype=np.float64)
            known = ~np.isnan(numbers)
            # Split points between consecutive ranges; np.digitize(right=False) puts a value
            # equal to a split into the upper bin: [lower, upper), as optbinning does.
            splits = np.array([b.lower for _i, b in ranges[1:]], dtype=np.float64)
            position = np.digitize(numbers[known], splits, right=False)
            out[known] = np.array([ranges[p][0] for p in position], dtype=np.int64)
            return out
        lookup = {
            category: i
            for i, b in enumerate(bins)
            if b.kind == BIN_CATEGORIES
            for category in b.categories
        }
        for row, value in enumerate(values):
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                out[row] = lookup.get(str(value), missing)
        return out

    def score(
        self, columns: Mapping[str, Sequence[Any] | np.ndarray]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Total score per row, and each feature's points per row."""
        per_feature: dict[str, np.ndarray] = {}
        total: np.ndarray | None = None
        for feature in self.features:
            points = np.array([b.points for b in self.feature_bins(feature)], dtype=np.float64)
            earned = points[self.bin_indices(feature, columns[feature])]
            per_feature[feature] = earned
            total = earned if total is None else total + earned
        if total is None:
            raise ValueError("an empty points table scores nothing")
        return total + self.base_points, per_feature

    def best_points(self) -> dict[str, float]:
        """The most points each feature can earn (its best bin that training saw used)."""
        best: dict[str, float] = {}
        for b in self.bins:
            if b.kind in (BIN_RANGE, BIN_CATEGORIES) and b.count > 0:
                best[b.feature] = max(best.get(b.feature, -math.inf), b.points)
        return best

    def reasons(self, per_feature: Mapping[str, float], *, limit: int = 4) -> list[str]:
        """The features that lost the most points against their best bin, worst first.

        Only features that lost points count; ties keep the table's feature order.
        """
        best = self.best_points()
        lost = [
            (best.get(feature, earned) - earned, order, feature)
            for order, (feature, earned) in enumerate(per_feature.items())
        ]
        ranked = sorted((x for x in lost if x[0] > 0), key=lambda x: (-x[0], x[1]))
        return [feature for _lost, _order, feature in ranked[:limit]]


def _as_float(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class TrainingResult:
    """A trained scorecard and how well it separates on the held-out part."""

    table: PointsTable
    auc: float
    ks: float
    gini: float
    iv: dict[str, float]
    train_rows: int
    test_rows: int
    bad_rate: float
    # The library's own scores on the test rows, for the round-trip check.
    library_test_scores: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    test_frame: Any = field(repr=False, default=None)


def auc_ks(bad: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """AUC and KS of a score that should be LOW for bads (1) and high for goods (0)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    risk = -np.asarray(score, dtype=np.float64)
    auc = float(roc_auc_score(bad, risk))
    fpr, tpr, _ = roc_curve(bad, risk)
    return auc, float(np.max(tpr - fpr))


def scorecard_train(
    frame: Any,
    *,
    target: str,
    features: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    base_score: int = DEFAULT_BASE_SCORE,
    base_odds: int = DEFAULT_BASE_ODDS,
    pdo: int = DEFAULT_PDO,
    test_size: float = 0.3,
    seed: int = 42,
) -> TrainingResult:
    """Train a points scorecard on `frame` (a pandas DataFrame; `target` 1 = bad).

    A stratified split keeps `test_size` of the rows out of training; AUC, KS and Gini are
    measured on them. Numerical features get monotone bins (ascending or descending, whichever
    fits), categorical ones are grouped by bad rate. Raises ValueError when the target is not
    0/1 or a named feature is absent.
    """
    import pandas as pd
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    if target not in frame.columns:
        raise ValueError(f"no column {target!r}")
    y = pd.to_numeric(frame[target], errors="coerce")
    if y.isna().any() or not set(y.unique()) <= {0, 1}:
        raise ValueError(f"the target {target!r} must be 0 (good) or 1 (bad) on every row")
    names = list(features) if features is not None else [c for c in frame.columns if c != target]
    absent = [n for n in names if n not in frame.columns]
    if absent:
        raise ValueError(f"no column(s) {', '.join(absent)}")
    categorical = [c for c in categorical if c in names]
    x = frame[names].copy()
    for column in categorical:
        x[column] = x[column].astype("object")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y.astype(int), test_size=test_size, stratify=y.astype(int), random_state=seed
    )
    fit_params = {
        n: {"monotonic_trend": "auto_asc_desc", **_rare_value_binning(x_train[n])}
        for n in names
        if n not in set(categorical)
    }
    process = BinningProcess(
        variable_names=names, categorical_variables=categorical, binning_fit_params=fit_params
    )
    card = Scorecard(
        binning_process=process,
        estimator=LogisticRegression(solver="lbfgs", max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": pdo, "odds": base_odds, "scorecard_points": base_score},
        rounding=True,
    )
    card.fit(x_train, y_train, metric_missing="empirical", metric_special="empirical")
    table = _points_table(card, base_score=base_score, base_odds=base_odds, pdo=pdo)
    library_scores = np.asarray(card.score(x_test), dtype=np.float64)
    auc, ks = auc_ks(y_test.to_numpy(), library_scores)
    fitted = card.binning_process_  # Scorecard fits a clone of `process`
    iv = {
        str(name): float(fitted.get_binned_variable(name).binning_table.build()["IV"].iloc[-1])
        for name in fitted.get_support(names=True)
    }
    return TrainingResult(
        table=table,
        auc=auc,
        ks=ks,
        gini=2 * auc - 1,
        iv=iv,
        train_rows=len(x_train),
        test_rows=len(x_test),
        bad_rate=float(y.mean()),
        library_test_scores=library_scores,
        test_frame=x_test,
    )


def _rare_value_binning(column: Any) -> dict[str, float]:
    """Binning settings that let a rare value keep its own bin.

    optbinning's pre-binning puts at least 5% of the rows in every bin (min_prebin_size 0.05),
    so a flag or count that is non-zero for fewer rows (night drawdowns, transfers to other
    lenders, an identity mismatch, any DPD ever) can never be split off: one bin, IV 0, no
    points, however strong it is. For a feature whose most common value covers
    RARE_MODE_SHARE of the rows or more, bins may be as small as RARE_MIN_ROWS rows (never
    below RARE_MIN_SHARE of them); every other feature keeps the library's defaults.
    """
    values = column.dropna()
    if values.empty:
        return {}
    if float(values.value_counts(normalize=True).iloc[0]) < RARE_MODE_SHARE:
        return {}
    size = min(0.05, max(RARE_MIN_SHARE, RARE_MIN_ROWS / len(values)))
    return {"min_prebin_size": size, "min_bin_size": size}


def _bin_label(value: Any) -> str:
    """A bin as a person reads it: "[1.50, 3.00)", or the categories joined by " | "."""
    if isinstance(value, str):
        return value
    try:
        return " | ".join(str(v) for v in value)
    except TypeError:
        return str(value)


def _points_table(card: Any, *, base_score: int, base_odds: int, pdo: int) -> PointsTable:
    """Export a fitted optbinning Scorecard as a PointsTable (no pickle, no library needed)."""
    detail = card.table(style="detailed")
    process = card.binning_process_
    bins: list[PointsBin] = []
    for name in process.get_support(names=True):
        feature = str(name)
        rows = detail[detail["Variable"] == feature].reset_index(drop=True)
        binned = process.get_binned_variable(feature)
        splits = list(binned.splits)
        is_categorical = binned.dtype == "categorical"
        n_regular = len(splits) if is_categorical else len(splits) + 1
        for index, row in rows.iterrows():
            position = int(index)
            label = _bin_label(row["Bin"])
            common = PointsBin(
                feature=feature,
                index=position,
                kind=BIN_MISSING,
                points=float(row["Points"]),
                woe=float(row["WoE"]),
                count=int(row["Count"]),
                event_rate=float(row["Event rate"]),
                label=label,
            )
            if position < n_regular and is_categorical:
                categories = tuple(str(c) for c in splits[position])
                bins.append(replace(common, kind=BIN_CATEGORIES, categories=categories))
            elif position < n_regular:
                lower = None if position == 0 else float(splits[position - 1])
                upper = None if position == n_regular - 1 else float(splits[position])
                bins.append(replace(common, kind=BIN_RANGE, lower=lower, upper=upper))
            elif label == "Special":
                bins.append(replace(common, kind=BIN_SPECIAL))
            else:
                bins.append(common)
    return PointsTable(
        bins=bins,
        base_points=float(getattr(card, "intercept_", 0.0) or 0.0),
        base_score=base_score,
        base_odds=base_odds,
        pdo=pdo,
    )
