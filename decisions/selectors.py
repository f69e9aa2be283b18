"""Reads of decisions shared by pages, API, tasks and commands."""

from __future__ import annotations

from django.db.models import QuerySet

from decisions.choices import ModelStatus
from decisions.models import ScorecardModel
from decisions.scorecard import PointsBin, PointsTable


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
