"""The documented feature set of a borrower at a point in time, computed for the whole book.

Every feature is computed as of a date (`as_of`) from what had happened by then, so the same
code builds training rows at a past observation date and today's rows for scoring. The book is
read in chunks of borrowers, never one borrower at a time:

- on PostgreSQL, lending.selectors.book_aggregates has the database aggregate each chunk
  (a few GROUP BY statements returning numbers: days, counts, sums), and `features_from_
  aggregates` turns those into the features with numpy;
- on SQLite (the embedded profile, small books), lending.selectors.book_columns reads the
  chunk's rows and `features_for_chunk` aggregates them with pandas. Both give the same values
  (decisions/tests/test_features.py compares them on a built book).

The catalogue (FEATURES) names each feature's family, meaning, unit and what a missing value
means; the features page lists it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from django.db import connection
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from lending.selectors import book_aggregates, book_columns, borrower_id_chunks

# Monthly income per band (yuan): the band's middle, for instalment-to-income.
INCOME_MIDPOINT = {
    "lt3k": 2000.0,
    "3k_5k": 4000.0,
    "5k_10k": 7500.0,
    "10k_20k": 15000.0,
    "gt20k": 30000.0,
}
INCOME_RANK = {"lt3k": 1, "3k_5k": 2, "5k_10k": 3, "10k_20k": 4, "gt20k": 5}
SMALL_DRAWDOWN = 500.0  # yuan: at or below is a "small" drawdown (velocity of small loans)
NIGHT_HOURS = range(0, 5)  # 00:00-04:59 Shanghai
LENDER_TRANSFER_HOURS = 24  # a transfer to a lender this soon after a drawdown: 以贷养贷


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    family: Any
    description: Any
    unit: Any
    missing: Any


REPAYMENT_ABILITY = _("Repayment ability")
CREDIT_HISTORY = _("Credit history")
BORROWING = _("Borrowing behaviour")
MULTI_LENDER = _("Multi-lender signals")
IDENTITY = _("Identity")
ZERO_IF_NONE = _("0 when there is none")

FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(
        "income_band",
        REPAYMENT_ABILITY,
        _("Declared monthly income band, 1 (below ¥3,000) to 5 (above ¥20,000)"),
        _("rank"),
        _("never missing (required at registration)"),
    ),
    FeatureSpec(
        "utilisation",
        REPAYMENT_ABILITY,
        _("Principal outstanding as a share of the limit"),
        _("fraction"),
        _("0 when the limit is 0"),
    ),
    FeatureSpec(
        "instalment_to_income",
        REPAYMENT_ABILITY,
        _("Instalments due in the next 30 days over monthly income"),
        _("fraction"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "verified_assets",
        REPAYMENT_ABILITY,
        _("Verified declared assets, a backup source of repayment"),
        _("yuan"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "months_on_book",
        CREDIT_HISTORY,
        _("Months since the line was opened"),
        _("months"),
        _("never missing"),
    ),
    FeatureSpec(
        "max_dpd_ever",
        CREDIT_HISTORY,
        _("Most days past due on any instalment so far"),
        _("days"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "max_dpd_12m",
        CREDIT_HISTORY,
        _("Most days past due on an instalment due in the last 12 months"),
        _("days"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "late_instalments_12m",
        CREDIT_HISTORY,
        _("Instalments due in the last 12 months paid late or still unpaid"),
        pgettext_lazy("unit", "count"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "on_time_streak",
        CREDIT_HISTORY,
        _("Instalments paid on time since the last late one"),
        pgettext_lazy("unit", "count"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "early_settlements",
        CREDIT_HISTORY,
        _("Loans settled before their last due date"),
        pgettext_lazy("unit", "count"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "drawdowns_90d",
        BORROWING,
        _("Drawdowns in the last 90 days"),
        pgettext_lazy("unit", "count"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "small_drawdown_share_90d",
        BORROWING,
        _("Share of the last 90 days' drawdowns of ¥500 or less"),
        _("fraction"),
        _("0 without drawdowns"),
    ),
    FeatureSpec(
        "drawdown_to_limit_180d",
        BORROWING,
        _("Average drawdown over the limit, last 180 days"),
        _("fraction"),
        _("0 without drawdowns"),
    ),
    FeatureSpec(
        "night_drawdowns_180d",
        BORROWING,
        _("Drawdowns between midnight and 5 a.m., last 180 days"),
        pgettext_lazy("unit", "count"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "lender_transfers_90d",
        MULTI_LENDER,
        _("Transfers to another lender within 24 hours of a drawdown, last 90 days"),
        pgettext_lazy("unit", "count"),
        ZERO_IF_NONE,
    ),
    FeatureSpec(
        "identity_mismatch",
        IDENTITY,
        _("The identity cross-check found a mismatch"),
        _("yes/no"),
        _("0 when not checked"),
    ),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)


DATETIMES = {"opened_at", "disbursed_at", "paid_off_at", "settled_at", "occurred_at", "declared_at"}
DATES = {"due_date", "last_due"}
MONEY = {"credit_limit", "principal_due", "total_due", "amount"}


def book_frames(columns: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    """lending.selectors.book_columns as pandas frames: times as naive Shanghai timestamps
    (so hours of the day and dates read as the borrower lived them), money as floats."""
    import pandas as pd

    out = {}
    for name, data in columns.items():
        frame = pd.DataFrame(data)
        for column in frame.columns:
            if column in DATETIMES:
                stamps = pd.to_datetime(frame[column], utc=True)
                frame[column] = stamps.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
            elif column in DATES:
                frame[column] = pd.to_datetime(frame[column])
            elif column in MONEY:
                frame[column] = frame[column].astype(float)
        out[name] = frame
    return out


def _days(delta: Any) -> np.ndarray:
    return np.asarray(delta / np.timedelta64(1, "D"), dtype=np.float64)


def features_for_chunk(columns: dict[str, Any], *, as_of: date) -> Any:
    """The feature frame (index borrower id) of one chunk of book columns (book_columns)."""
    import pandas as pd

    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)  # the close of as_of, naive Shanghai
    day = pd.Timestamp(as_of)
    borrowers = columns["borrowers"].set_index("id")
    out = pd.DataFrame(index=borrowers.index)
    out["income_band"] = borrowers["income_band"].map(INCOME_RANK).astype(float)
    income = borrowers["income_band"].map(INCOME_MIDPOINT).astype(float)
    out["identity_mismatch"] = (borrowers["identity_check"] == "mismatched").astype(float)

    lines = columns["lines"].set_index("borrower_id").reindex(out.index)
    out["months_on_book"] = (_days(day - lines["opened_at"]) / 30.4).clip(min=0)

    inst = columns["instalments"]
    inst = inst[inst["disbursed_at"] < end]
    cleared = inst["paid_off_at"].where(inst["paid_off_at"] < end)  # NaT: not cleared by then
    due = inst["due_date"]
    was_due = due < day
    # Days late count whole days: paid on the due date (any hour) is on time.
    cleared_or_now = cleared.dt.normalize().fillna(day)
    late_days = _days(cleared_or_now - due).clip(min=0) * was_due
    recent = due >= day - pd.Timedelta(days=365)
    per = pd.DataFrame(
        {
            "borrower_id": inst["borrower_id"],
            "late": late_days,
            "late_recent": late_days * recent,
            "late_flag": ((late_days > 0) & recent).astype(float),
            "open_principal": np.where(cleared.isna(), inst["principal_due"], 0.0),
            "due_soon": np.where(
                (due >= day) & (due < day + pd.Timedelta(days=30)), inst["total_due"], 0.0
            ),
        }
    )
    grouped = per.groupby("borrower_id")
    out["max_dpd_ever"] = grouped["late"].max()
    out["max_dpd_12m"] = grouped["late_recent"].max()
    out["late_instalments_12m"] = grouped["late_flag"].sum()
    outstanding = grouped["open_principal"].sum().reindex(out.index).fillna(0.0)
    limit = lines["credit_limit"].astype(float)
    out["utilisation"] = np.where(limit > 0, outstanding / limit.where(limit > 0, 1.0), 0.0)
    out["instalment_to_income"] = grouped["due_soon"].sum().reindex(out.index).fillna(0.0) / income

    # On-time streak: due instalments since the borrower's last late one.
    dued = per[was_due.to_numpy()].assign(due=due[was_due])
    last_late = dued[dued["late"] > 0].groupby("borrower_id")["due"].max()
    dued = dued.join(last_late.rename("last_late"), on="borrower_id")
    after = dued["last_late"].isna() | (dued["due"] > dued["last_late"])
    out["on_time_streak"] = dued[after].groupby("borrower_id").size()

    loans = columns["drawdowns"]
    loans = loans[loans["disbursed_at"] < end]
    settled_early = (loans["settled_at"] < end) & (loans["settled_at"] < loans["last_due"])
    out["early_settlements"] = settled_early.groupby(loans["borrower_id"]).sum()
    age = _days(day - loans["disbursed_at"].dt.normalize())
    in90, in180 = age < 90, age < 180
    amount = loans["amount"].astype(float)
    loan_limit = loans["borrower_id"].map(limit).astype(float)
    frame = (
        pd.DataFrame(
            {
                "borrower_id": loans["borrower_id"],
                "in90": in90.astype(float),
                "small90": (in90 & (amount <= SMALL_DRAWDOWN)).astype(float),
                "in180": in180.astype(float),
                "ratio180": np.where(in180 & (loan_limit > 0), amount / loan_limit, 0.0),
                "night180": (in180 & loans["disbursed_at"].dt.hour.isin(NIGHT_HOURS)).astype(float),
            }
        )
        .groupby("borrower_id")
        .sum()
    )
    out["drawdowns_90d"] = frame["in90"]
    out["small_drawdown_share_90d"] = frame["small90"] / frame["in90"].where(frame["in90"] > 0)
    out["drawdown_to_limit_180d"] = frame["ratio180"] / frame["in180"].where(frame["in180"] > 0)
    out["night_drawdowns_180d"] = frame["night180"]

    transfers = columns["transfers"]
    transfers = transfers[
        transfers["to_lender"]
        & (transfers["occurred_at"] < end)
        & (_days(day - transfers["occurred_at"].dt.normalize()) < 90)
    ].sort_values("occurred_at")
    if len(transfers) and len(loans):
        previous = pd.merge_asof(
            transfers,
            loans[["borrower_id", "disbursed_at"]].sort_values("disbursed_at"),
            left_on="occurred_at",
            right_on="disbursed_at",
            by="borrower_id",
            direction="backward",
        )
        soon = (previous["occurred_at"] - previous["disbursed_at"]) <= pd.Timedelta(
            hours=LENDER_TRANSFER_HOURS
        )
        out["lender_transfers_90d"] = soon.groupby(previous["borrower_id"]).sum()
    else:
        out["lender_transfers_90d"] = 0.0

    assets = columns["assets"]
    assets = assets[assets["verified"] & (assets["declared_at"] < end)]
    out["verified_assets"] = assets.groupby("borrower_id")["amount"].sum().astype(float)
    return out[list(FEATURE_NAMES)].astype(float).fillna(0.0)


def _per_borrower(ids: np.ndarray, rows: list[tuple[Any, ...]], width: int) -> np.ndarray:
    """Aggregate rows (borrower id first, ascending) as a (len(ids), width) float matrix in the
    order of `ids`, 0 where a borrower has no row."""
    out = np.zeros((len(ids), width), dtype=np.float64)
    if rows:
        data = np.array(rows, dtype=np.float64)
        out[np.searchsorted(ids, data[:, 0].astype(np.int64))] = data[:, 1 : width + 1]
    return out


def features_from_aggregates(aggregates: dict[str, list[tuple[Any, ...]]]) -> Any:
    """The feature frame (index borrower id) of one chunk of lending.selectors.book_aggregates
    (already as of its date): ratios and missing-value rules applied with numpy."""
    import pandas as pd

    people = aggregates["borrowers"]
    ids = np.array([row[0] for row in people], dtype=np.int64)
    income_band = np.array([INCOME_RANK.get(row[1], np.nan) for row in people], dtype=np.float64)
    income = np.array([INCOME_MIDPOINT.get(row[1], np.nan) for row in people], dtype=np.float64)
    numbers = np.array([row[2:] for row in people], dtype=np.float64).reshape(
        len(people), 4
    )  # mismatch, limit, days_open, assets; None reads as NaN
    mismatch, limit, days_open, assets = numbers.T
    inst = _per_borrower(ids, aggregates["instalments"], 6)
    max_late, max_late_12m, late_12m, open_principal, due_30d, streak = inst.T
    loans = _per_borrower(ids, aggregates["drawdowns"], 6)
    in90, small90, in180, amount180, night180, early = loans.T
    transfers = _per_borrower(ids, aggregates["transfers"], 1)[:, 0]
    has_limit = np.nan_to_num(limit) > 0
    safe_limit = np.where(has_limit, limit, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = {
            "income_band": income_band,
            "utilisation": np.where(has_limit, open_principal / safe_limit, 0.0),
            "instalment_to_income": due_30d / income,
            "verified_assets": assets,
            "months_on_book": np.clip(days_open / 30.4, 0, None),
            "max_dpd_ever": max_late,
            "max_dpd_12m": max_late_12m,
            "late_instalments_12m": late_12m,
            "on_time_streak": streak,
            "early_settlements": early,
            "drawdowns_90d": in90,
            "small_drawdown_share_90d": np.where(in90 > 0, small90 / np.maximum(in90, 1), 0.0),
            "drawdown_to_limit_180d": np.where(
                in180 > 0,
                np.where(has_limit, amount180 / safe_limit, 0.0) / np.maximum(in180, 1),
                0.0,
            ),
            "night_drawdowns_180d": night180,
            "lender_transfers_90d": transfers,
            "identity_mismatch": mismatch,
        }
    frame = pd.DataFrame(columns, index=pd.Index(ids, name="id"))
    return frame[list(FEATURE_NAMES)].fillna(0.0)


def chunk_features(*, borrower_ids: Sequence[int], as_of: date) -> Any:
    """The feature frame of one chunk of borrowers as of `as_of` (index: borrower id,
    ascending): set-based SQL on PostgreSQL, pandas over book_columns elsewhere."""
    if connection.vendor == "postgresql":
        aggregates = book_aggregates(
            borrower_ids=borrower_ids,
            as_of=as_of,
            small_drawdown=SMALL_DRAWDOWN,
            transfer_hours=LENDER_TRANSFER_HOURS,
        )
        return features_from_aggregates(aggregates)
    frame = features_for_chunk(
        book_frames(book_columns(borrower_ids=borrower_ids, as_of=as_of)), as_of=as_of
    )
    return frame.sort_index()


def book_features(
    *, as_of: date, borrower_ids: Sequence[int] | None = None, chunk_size: int = 20_000
) -> Any:
    """The feature frame of the whole book (or of `borrower_ids`) as of `as_of`."""
    import pandas as pd

    frames = [
        chunk_features(borrower_ids=ids, as_of=as_of) for ids in _chunks(borrower_ids, chunk_size)
    ]
    if not frames:
        return pd.DataFrame(columns=list(FEATURE_NAMES), dtype=float)
    return pd.concat(frames)


def book_labels(*, as_of: date, window_days: int, dpd: int, borrower_ids: Sequence[int]) -> Any:
    """1 where the borrower reached `dpd` days past due within (as_of, as_of + window]: an
    instalment due before then stayed uncleared for `dpd` days inside the window."""
    import pandas as pd

    window_end = pd.Timestamp(as_of + timedelta(days=window_days))
    start = pd.Timestamp(as_of)
    labels = pd.Series(0, index=pd.Index(borrower_ids), dtype=int)
    for ids in _chunks(borrower_ids, 20_000):
        later = as_of + timedelta(days=window_days)
        inst = book_frames(book_columns(borrower_ids=ids, as_of=later))["instalments"]
        reached = inst["due_date"] + pd.Timedelta(days=dpd)
        paid = inst["paid_off_at"].dt.normalize()
        still_open = paid.isna() | (paid >= reached)
        bad = (reached > start) & (reached <= window_end) & still_open
        hit = inst.loc[bad, "borrower_id"].unique()
        labels.loc[labels.index.intersection(hit)] = 1
    return labels


def _chunks(borrower_ids: Sequence[int] | None, size: int) -> Iterator[Sequence[int]]:
    if borrower_ids is not None:
        for start in range(0, len(borrower_ids), size):
            yield borrower_ids[start : start + size]
        return
    yield from borrower_id_chunks(size=size)
