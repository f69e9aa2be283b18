"""The champion / challenger report: two scorecard versions compared on matured outcomes.

For each model, every borrower's latest score recorded at least `window_days` ago (so its
whole outcome window has passed); the outcome is whether the borrower reached `dpd` days past
due within `window_days` after the score's as-of date (decisions.features.book_labels, which
reads the book through lending.selectors). Per model: how many were scored, the bad rate, AUC
and KS (decisions.scorecard.auc_ks), the bad rate by score band of the policy in force, and
for how many borrowers the model acted.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import numpy as np
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext

from decisions.choices import ModelStatus
from decisions.features import book_labels
from decisions.models import Score, ScorecardModel
from decisions.policy import DEFAULT_RULES, PolicyRules, policy_rules
from decisions.scorecard import auc_ks
from decisions.selectors.charts import MODEL_COLOURS, figure
from decisions.selectors.policies import policy_in_force

WINDOW_DAYS_DEFAULT = 90
DPD_CHOICES = (30, 90)


def comparison_defaults() -> tuple[ScorecardModel, ScorecardModel] | None:
    """The pair the report opens on: a champion and the challenger of the same name, else the
    champion and its newest other version; None when no name has two versions."""
    champions = ScorecardModel.objects.filter(status=ModelStatus.CHAMPION).order_by("name")
    for champion in champions:
        others = ScorecardModel.objects.filter(name=champion.name).exclude(pk=champion.pk)
        other = (
            others.filter(status=ModelStatus.CHALLENGER).order_by("-version").first()
            or others.order_by("-version").first()
        )
        if other is not None:
            return champion, other
    return None


def _matured_scores(model: ScorecardModel, cutoff: date) -> list[tuple[int, date, int, bool]]:
    """Each borrower's latest score by `model` with as_of on or before `cutoff`:
    (borrower_id, as_of, total, acting)."""
    latest = Window(
        RowNumber(),
        partition_by=[F("borrower_id")],
        order_by=[F("as_of").desc(), F("scored_at").desc(), F("id").desc()],
    )
    return list(
        Score.objects.filter(model=model, as_of__lte=cutoff)
        .annotate(rank=latest)
        .filter(rank=1)
        .order_by("borrower_id")
        .values_list("borrower_id", "as_of", "total", "acting")
    )


def _labels(
    pairs: set[tuple[int, date]], *, window_days: int, dpd: int
) -> dict[tuple[int, date], int]:
    """The outcome of each (borrower, as_of): 1 bad, 0 good; one book read per as_of date."""
    by_day: dict[date, list[int]] = defaultdict(list)
    for borrower_id, as_of in pairs:
        by_day[as_of].append(borrower_id)
    outcome: dict[tuple[int, date], int] = {}
    for as_of, ids in by_day.items():
        ids.sort()
        labels = book_labels(as_of=as_of, window_days=window_days, dpd=dpd, borrower_ids=ids)
        for borrower_id, bad in labels.items():
            outcome[(int(borrower_id), as_of)] = int(bad)
    return outcome


def _rate(bads: int, scored: int) -> float | None:
    return bads / scored if scored else None


def _model_figures(
    model: ScorecardModel,
    scores: list[tuple[int, date, int, bool]],
    outcome: dict[tuple[int, date], int],
    rules: PolicyRules,
) -> dict[str, Any]:
    bad = np.array([outcome[(b, day)] for b, day, _t, _a in scores], dtype=np.int64)
    total = np.array([t for _b, _d, t, _a in scores], dtype=np.float64)
    auc = ks = None
    if 0 < int(bad.sum()) < len(bad):  # both outcomes needed to rank
        auc, ks = auc_ks(bad, total)
    bands: dict[str, dict[str, int]] = {b.name: {"scored": 0, "bads": 0} for b in rules.bands}
    for (_b, _d, t, _a), is_bad in zip(scores, bad.tolist(), strict=True):
        cell = bands[rules.band_for(t).name]
        cell["scored"] += 1
        cell["bads"] += is_bad
    return {
        "model": model,
        "scored": len(scores),
        "bads": int(bad.sum()),
        "bad_rate": _rate(int(bad.sum()), len(scores)),
        "auc": auc,
        "ks": ks,
        "acting": sum(1 for _b, _d, _t, acting in scores if acting),
        "bands": [
            {"band": name, **cell, "bad_rate": _rate(cell["bads"], cell["scored"])}
            for name, cell in bands.items()
        ],
    }


def model_comparison(
    *,
    first: ScorecardModel,
    second: ScorecardModel,
    window_days: int,
    dpd: int,
    today: date,
    rules: PolicyRules | None = None,
) -> dict[str, Any]:
    """Two scorecard versions on matured outcomes (module docstring). Bands are those of
    `rules` (default: the policy in force, else the default rules). Returns {"cutoff",
    "window_days", "dpd", "models": [per model: scored, bads, bad_rate, auc, ks (None when
    one outcome is missing), acting, bands: [{band, scored, bads, bad_rate}]], "figure"}."""
    if rules is None:
        active = policy_in_force()
        rules = policy_rules(active.rules if active else DEFAULT_RULES)
    cutoff = today - timedelta(days=window_days)
    scores = {model.pk: _matured_scores(model, cutoff) for model in (first, second)}
    pairs = {(b, day) for rows in scores.values() for b, day, _t, _a in rows}
    outcome = _labels(pairs, window_days=window_days, dpd=dpd)
    models = [_model_figures(m, scores[m.pk], outcome, rules) for m in (first, second)]
    chart = figure(
        [
            {
                "type": "bar",
                "name": str(item["model"]),
                "x": [cell["band"] for cell in item["bands"]],
                "y": [
                    None if cell["bad_rate"] is None else round(cell["bad_rate"], 4)
                    for cell in item["bands"]
                ],
                "customdata": [cell["scored"] for cell in item["bands"]],
                "hovertemplate": "%{x}: %{y:.1%} (n=%{customdata})<extra>%{fullData.name}</extra>",
                "marker": {"color": colour},
            }
            for item, colour in zip(models, MODEL_COLOURS, strict=True)
        ],
        {
            "barmode": "group",
            "xaxis": {"title": {"text": gettext("Score band")}},
            "yaxis": {"title": {"text": gettext("Bad rate")}, "tickformat": ".0%"},
            "legend": {"orientation": "h", "y": 1.15},
            "margin": {"t": 30, "r": 10, "l": 55, "b": 45},
        },
    )
    return {
        "cutoff": cutoff,
        "window_days": window_days,
        "dpd": dpd,
        "models": models,
        # The same figures by band, one row per band with a cell per model (the table).
        "band_rows": [
            {"band": cells[0]["band"], "cells": list(cells)}
            for cells in zip(*(item["bands"] for item in models), strict=True)
        ],
        "figure": chart,
    }
