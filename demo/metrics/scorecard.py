"""A behavioural scorecard on the book: logistic regression on what was observable at month 6,
predicting 90+ DPD in the months after; its AUC measured out of fold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demo.metrics.report import Report
from demo.metrics.rows import (
    EPOCH_ORDINAL,
    NIGHT_HOURS,
    OBSERVATION_MONTHS,
    Book,
    first_day_at,
    loan_dpd,
    loan_states,
    month_ends,
    multi_lender_flags,
    per_borrower_min,
)

SCORECARD = "scorecard AUC (month-6 features -> 90+ in months 7-12)"
SCORECARD_ACTIVE = "  the same, accounts up to 89 DPD included"


@dataclass
class Observation:
    """What a risk team sees of each borrower at the observation point, and what came after."""

    day: int
    features: np.ndarray  # per borrower, one column per feature (see _features)
    performing: np.ndarray  # a balance, under 30 DPD, not yet 90+, nothing written off
    active: np.ndarray  # a balance, not yet 90+, nothing written off
    bad: np.ndarray  # 90+ DPD after the observation point, by the as-of date


def observe(book: Book) -> Observation | None:
    """The book at the close of its sixth month end (None if the window is shorter)."""
    ends = month_ends(book)
    if len(ends) <= OBSERVATION_MONTHS:
        return None
    obs = ends[OBSERVATION_MONTHS - 1].toordinal()
    first90 = per_borrower_min(book, first_day_at(book, 90))
    written_off = np.zeros(len(book.b_id), dtype=bool)
    written_off[book.l_borrower[book.l_written_off <= obs]] = True
    state, balance = loan_states(book, obs)
    b_balance = np.bincount(book.l_borrower, weights=balance, minlength=len(book.b_id))
    dpd_now = np.zeros(len(book.b_id))
    np.maximum.at(dpd_now, book.l_borrower, np.where(state <= 7, loan_dpd(book, obs), 0))
    active = (b_balance > 0) & (first90 > obs) & ~written_off
    return Observation(
        day=obs,
        features=_features(book, obs, b_balance, dpd_now),
        performing=active & (dpd_now < 30),
        active=active,
        bad=first90 <= book.as_of.toordinal(),
    )


def scorecard(book: Book, report: Report) -> None:
    """A behavioural scorecard on what was observable at the end of the sixth month, predicting
    90+ DPD in the months after it: logistic regression on a few standard features, its AUC
    measured out of fold (5-fold cross-validation).

    The population is the performing accounts at the observation point, as a behavioural
    score's usually is: a balance (a borrower with nothing drawn cannot default, and would
    flatter utilisation) and under 30 DPD (one already in collection is all but certain to
    roll, and would flatter the DPD features). The same fit on every account with a balance
    and not yet 90+ is shown too.
    """
    seen = observe(book)
    if seen is None:
        return
    for name, population, target in (
        (SCORECARD, seen.performing, (0.70, 0.85)),
        (SCORECARD_ACTIVE, seen.active, (None, None)),
    ):
        y = seen.bad[population]
        n_bad = int(y.sum())
        note = f"{population.sum()} borrowers, {n_bad} bad"
        if n_bad < 10 or n_bad == len(y):
            report.add(name, float("nan"), *target, percent=False, note=note + ": too few")
            continue
        scores = cross_validated_scores(seen.features[population], y)
        report.add(name, auc(y, scores), *target, percent=False, note=note)
        if name == SCORECARD and book.risk is not None and not np.isnan(book.risk).any():
            report.add(
                "  hidden latent risk's AUC, for reference",
                auc(y, book.risk[population]),
                percent=False,
            )


def _features(book: Book, obs: int, b_balance: np.ndarray, dpd_now: np.ndarray) -> np.ndarray:
    """Per borrower, what a risk team sees at the close of day `obs`."""
    on_book = book.l_day <= obs
    seen = (book.i_due < obs) & on_book[book.i_loan]
    worst = np.where(seen, np.minimum(book.i_paid - 1, obs) - book.i_due, 0).clip(0)
    max_dpd = np.zeros(len(book.b_id))
    np.maximum.at(max_dpd, book.l_borrower[book.i_loan], worst)
    late = np.bincount(
        book.l_borrower[book.i_loan[seen & (book.i_paid > book.i_due)]], minlength=len(book.b_id)
    )
    draws = np.bincount(book.l_borrower[on_book], minlength=len(book.b_id))
    night = np.bincount(
        book.l_borrower[on_book & (book.l_hour < NIGHT_HOURS)], minlength=len(book.b_id)
    )
    multi = multi_lender_flags(book, (obs + 1 - EPOCH_ORDINAL) * 86400.0)
    bands = ["lt3k", "3k_5k", "5k_10k", "10k_20k", "gt20k"]
    income = np.array([bands.index(b) if b in bands else 2 for b in book.b_band])
    return np.column_stack(
        [
            np.clip(b_balance / np.maximum(book.b_limit, 1), 0, 1.5),  # utilisation
            np.log1p(max_dpd),
            np.log1p(dpd_now),
            np.log1p(late),  # instalments paid late or unpaid
            np.log1p(multi),  # transfers to other lenders within a day of a drawdown
            np.log1p(night),  # drawdowns at 00:00-04:59
            np.log1p(draws),
            income,
            book.b_identity == "mismatched",
            book.b_identity == "not_checked",
            np.log1p((obs - book.b_opened).clip(0) / 30),  # months since the line opened
        ]
    ).astype(float)


# --- a logistic regression in numpy -------------------------------------------------------
# Twenty lines instead of scikit-learn, whose import alone takes seconds: Newton's method on
# the L2-penalised log-likelihood, standardised features, out-of-fold scores.


def logistic_fit(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0) -> np.ndarray:
    """Weights (intercept first) of an L2-penalised logistic regression of y on x."""
    x = np.column_stack([np.ones(len(x)), x])
    w = np.zeros(x.shape[1])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(x.shape[1] - 1)])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def cross_validated_scores(x: np.ndarray, y: np.ndarray, folds: int = 5) -> np.ndarray:
    """Each row's score from a model fitted on the other folds (stratified, fixed seed)."""
    rng = np.random.default_rng(0)
    fold = np.empty(len(y), dtype=np.int64)
    for label in (0, 1):
        rows = np.flatnonzero(y == label)
        fold[rng.permutation(rows)] = np.arange(len(rows)) % folds
    scores = np.empty(len(y))
    for k in range(folds):
        train, test = fold != k, fold == k
        mean, std = x[train].mean(axis=0), x[train].std(axis=0)
        std[std == 0] = 1
        w = logistic_fit((x[train] - mean) / std, y[train].astype(float))
        scores[test] = np.column_stack([np.ones(test.sum()), (x[test] - mean) / std]) @ w
    return scores


def auc(y: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve: the chance a bad outranks a good (ties count half)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for a, b in zip(starts, ends, strict=True):
        ranks[order[a:b]] = (a + b + 1) / 2  # average rank of a run of ties, 1-based
    bad = y.astype(bool)
    n_bad, n_good = bad.sum(), (~bad).sum()
    return float((ranks[bad].sum() - n_bad * (n_bad + 1) / 2) / (n_bad * n_good))
