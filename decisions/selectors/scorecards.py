"""Reads of scorecard versions: the list, the champion, the points table, and the model page
(points table by feature, bins with bad rate and WoE, IV) with its figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext

from decisions.choices import BinKind, ModelStatus
from decisions.features import FEATURES
from decisions.models import ScorecardBin, ScorecardModel
from decisions.reasons import REASONS, UNKNOWN
from decisions.scorecard import PointsBin, PointsTable
from decisions.selectors.charts import figure

FEATURE_SPECS = {spec.name: spec for spec in FEATURES}


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


def feature_label(name: str) -> str:
    """A feature's description in this language ('' for a name the catalogue lacks)."""
    spec = FEATURE_SPECS.get(name)
    return str(spec.description) if spec else ""


def feature_catalogue() -> list[dict[str, Any]]:
    """The feature catalogue, each with the reason it gives a borrower when it lowers a score."""
    return [{"spec": spec, "reason": REASONS.get(spec.name, UNKNOWN)} for spec in FEATURES]


def _iv_figure(iv: Mapping[str, float]) -> dict[str, Any]:
    ranked = sorted(iv.items(), key=lambda item: item[1])  # the strongest at the top
    return figure(
        [
            {
                "type": "bar",
                "orientation": "h",
                "x": [round(value, 4) for _name, value in ranked],
                "y": [name for name, _value in ranked],
                "marker": {"color": "#2b59c3"},
                "hovertemplate": "%{y}: %{x}<extra></extra>",
            }
        ],
        {
            "height": max(200, 26 * len(ranked) + 60),
            "margin": {"t": 10, "r": 20, "l": 190, "b": 40},
            "xaxis": {"title": {"text": gettext("Information value (IV)")}},
        },
    )


def bin_label(row: ScorecardBin) -> str:
    """A bin as the table and chart show it: its range or categories, or what it holds."""
    if row.kind in (BinKind.SPECIAL, BinKind.MISSING):
        return str(row.get_kind_display())
    return row.label


def _bins_figure(bins: list[ScorecardBin]) -> dict[str, Any]:
    """Bad rate (bars) and WoE (line) by bin; empty bins (no training rows) are left out."""
    shown = [b for b in bins if b.count]
    labels = [bin_label(b) for b in shown]
    return figure(
        [
            {
                "type": "bar",
                "name": gettext("Bad rate"),
                "x": labels,
                "y": [round(b.event_rate, 4) for b in shown],
                "marker": {"color": "#c77700"},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": gettext("WoE"),
                "x": labels,
                "y": [round(b.woe, 4) for b in shown],
                "yaxis": "y2",
                "marker": {"color": "#2b59c3"},
            },
        ],
        {
            "yaxis": {"title": {"text": gettext("Bad rate")}, "tickformat": ".0%"},
            "yaxis2": {
                "title": {"text": gettext("WoE")},
                "overlaying": "y",
                "side": "right",
                "tickmode": "auto",
                "tickformat": ".1f",
                "showgrid": False,
                "zeroline": False,
            },
            "legend": {"orientation": "h", "y": 1.15},
            "margin": {"t": 30, "r": 60, "l": 55, "b": 60},
        },
    )


def scorecard_page(*, model_id: int) -> dict[str, Any]:
    """One version for its page: the model, its points table by feature (each with a bins
    figure) and the IV figure. Raises Http404 for an unknown id."""
    model = get_object_or_404(scorecard_list(), pk=model_id)
    features: dict[str, list[ScorecardBin]] = {}
    # By id: the order training stored them in (features as trained, bins by index).
    for row in model.bins.order_by("id"):
        features.setdefault(row.feature, []).append(row)
    tables = []
    for n, (name, rows) in enumerate(features.items()):
        ordered = sorted(rows, key=lambda b: b.index)
        tables.append(
            {
                "name": name,
                "description": feature_label(name),
                "iv": model.iv.get(name),
                "bins": ordered,
                "figure": _bins_figure(ordered),
                "figure_id": f"fig-bins-{n}",
            }
        )
    return {
        "model": model,
        "tables": tables,
        "iv_figure": _iv_figure(model.iv) if model.iv else None,
    }
