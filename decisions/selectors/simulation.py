"""Reads of decisions shared by pages, API, tasks and commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from decisions.choices import ModelStatus
from decisions.features import book_features
from decisions.models import Score, ScorecardModel
from decisions.policy import CUT, FREEZE, HOLD, RAISE, LineState, review
from decisions.scorecard import PointsBin, PointsTable
from lending import caps
from lending.models import CreditLine


def scorecard_list() -> QuerySet[ScorecardModel]:
    """Every stored scorecard version, newest version of each name first."""
    return ScorecardModel.objects.select_related("created_by").order_by("name", "-version")


def scorecard_champion(*, name: str) -> ScorecardModel | None:
    """The version of `name` that acts, if any."""
    return ScorecardModel.objects.filter(name=name, status=ModelStatus.CHAMPION).first()


def points_table(*, model: ScorecardModel) -> PointsTable:
    """The stored model as a PointsTable, ready to score with numpy alone."""
    bins = [
        PointsBin(
            feature=b.feature,
            index=b.index,
            kind=b.kind,
            lower=b.lower,
            upper=b.upper,
            categories=tuple(b.categories),
            points=b.points,
            woe=b.woe,
            count=b.count,
            event_rate=b.event_rate,
            label=b.label,
        )
        for b in model.bins.order_by("feature", "index")
    ]
    # Keep the features in the order training gave them (by first stored bin id).
    order = {
        feature: i
        for i, feature in enumerate(
            dict.fromkeys(model.bins.order_by("id").values_list("feature", flat=True))
        )
    }
    bins.sort(key=lambda b: (order[b.feature], b.index))
    return PointsTable(
        bins=bins,
        base_points=model.base_points,
        base_score=model.base_score,
        base_odds=model.base_odds,
        pdo=model.pdo,
    )


def policy_simulation(
    *, rules: Any, as_of: date, borrower_ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """What a policy would do to the book today, applying nothing.

    For every open line: the policy's decision (raise, hold, cut, freeze) from the same pure
    review the live policy runs, with the latest two acting scores and today's features.
    Returns {"rows": [{band, raise, hold, cut, freeze, lines, exposure_before, exposure_after,
    change}], "totals": {...}, "figure": a Plotly figure dict (exposure change by band)}.
    """
    features = book_features(as_of=as_of, borrower_ids=borrower_ids)
    ids = [int(i) for i in features.index]
    scores: dict[int, list[int]] = {}
    for borrower_id, total in (
        Score.objects.filter(borrower_id__in=ids, acting=True)
        .order_by("borrower_id", "-scored_at", "-id")
        .values_list("borrower_id", "total")
    ):
        scores.setdefault(borrower_id, [])
        if len(scores[borrower_id]) < 2:
            scores[borrower_id].append(total)
    lines = {
        row["borrower_id"]: row
        for row in CreditLine.objects.filter(borrower_id__in=ids).values(
            "borrower_id", "credit_limit", "used", "status", "locked_until", "oldest_unpaid_due"
        )
    }
    cap = caps.product_limit_cap()
    table: dict[str, dict[str, Any]] = {
        band.name: {
            "band": band.name,
            **dict.fromkeys((RAISE, HOLD, CUT, FREEZE), 0),
            "lines": 0,
            "exposure_before": Decimal(0),
            "exposure_after": Decimal(0),
        }
        for band in rules.bands
    }
    for borrower_id, row in zip(ids, features.itertuples(index=False), strict=True):
        line = lines.get(borrower_id)
        if line is None or line["status"] == "closed":
            continue
        history = scores.get(borrower_id, [])
        due = line["oldest_unpaid_due"]
        state = LineState(
            limit=line["credit_limit"],
            used=line["used"],
            dpd=max((as_of - due).days, 0) if due else 0,
            score=history[0] if history else None,
            previous_score=history[1] if len(history) > 1 else None,
            on_time_streak=int(row.on_time_streak),
            small_early_settlements=int(row.early_settlements),
            lender_transfers_90d=int(row.lender_transfers_90d),
            identity_mismatch=bool(row.identity_mismatch),
            fraud_confirmed=False,
            locked=line["locked_until"] is not None and line["locked_until"] > as_of,
            pending_override=False,
            last_cut_on=None,
            frozen=line["status"] == "frozen",
        )
        decision = review(rules, state, today=as_of, product_cap=cap)
        cell = table[decision.band]
        cell[decision.action] += 1
        cell["lines"] += 1
        cell["exposure_before"] += state.limit
        cell["exposure_after"] += decision.new_limit
    rows = list(table.values())
    for cell in rows:
        cell["change"] = cell["exposure_after"] - cell["exposure_before"]
    totals = {
        key: sum(
            (cell[key] for cell in rows), Decimal(0) if "exposure" in key or key == "change" else 0
        )
        for key in (
            RAISE,
            HOLD,
            CUT,
            FREEZE,
            "lines",
            "exposure_before",
            "exposure_after",
            "change",
        )
    }
    figure = {
        "data": [
            {
                "type": "bar",
                "name": action,
                "x": [cell["band"] for cell in rows],
                "y": [cell[action] for cell in rows],
            }
            for action in (RAISE, HOLD, CUT, FREEZE)
        ]
        + [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "exposure change",
                "x": [cell["band"] for cell in rows],
                "y": [float(cell["change"]) for cell in rows],
                "yaxis": "y2",
            }
        ],
        "layout": {
            "barmode": "stack",
            "yaxis": {"title": "lines"},
            "yaxis2": {"title": "¥", "overlaying": "y", "side": "right"},
            "margin": {"t": 20, "r": 60, "l": 50, "b": 40},
        },
    }
    return {"rows": rows, "totals": totals, "figure": figure}
