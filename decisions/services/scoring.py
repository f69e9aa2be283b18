"""Scoring a chunk of borrowers by the champion (and its challenger): scores with reasons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from decisions.choices import ModelStatus
from decisions.features import book_features
from decisions.models import (
    Score,
    ScorecardModel,
)
from decisions.reasons import reason_codes
from decisions.scorecard import PointsTable
from decisions.selectors import points_table

if TYPE_CHECKING:
    from accounts.models import User
from decisions.services.scorecards import challenger_assigned


def _top_reasons(table: PointsTable, per: dict[str, np.ndarray], limit: int = 4) -> list[list[str]]:
    """Per row, the features that lost the most points against their best bin (vectorised)."""
    best = table.best_points()
    features = list(per)
    lost = np.column_stack([best.get(f, 0.0) - per[f] for f in features])
    order = np.argsort(-lost, axis=1, kind="stable")[:, :limit]
    return [[features[j] for j in row if lost[i, j] > 0] for i, row in enumerate(order)]


@transaction.atomic(durable=True)
def score_chunk(
    *,
    actor: User | None,
    run_id: str,
    borrower_ids: Sequence[int],
    as_of: date,
    name: str = "book",
) -> int:
    """Score one chunk of borrowers by the champion of `name` (and its challenger, if any) as
    of `as_of`; returns how many score rows were written.

    Idempotent per run: a score row is unique by (run, borrower, model), so a redelivered chunk
    writes nothing twice. One audit row per chunk (a book-wide run is audited in bulk, not per
    borrower). Nothing is written without a champion.
    """
    models = list(
        ScorecardModel.objects.filter(
            name=name, status__in=[ModelStatus.CHAMPION, ModelStatus.CHALLENGER]
        ).order_by("-status_changed_at")
    )
    champion = next((m for m in models if m.status == ModelStatus.CHAMPION), None)
    challenger = next((m for m in models if m.status == ModelStatus.CHALLENGER), None)
    if champion is None or not borrower_ids:
        return 0
    frame = book_features(as_of=as_of, borrower_ids=list(borrower_ids))
    ids = [int(i) for i in frame.index]
    on_challenger = [challenger is not None and challenger_assigned(borrower_id=i) for i in ids]
    now = timezone.now()
    rows: list[Score] = []
    for model in (m for m in (champion, challenger) if m is not None):
        table = points_table(model=model)
        columns = {
            f: frame[f].to_numpy() if f in frame else np.full(len(frame), np.nan)
            for f in table.features
        }
        total, per = table.score(columns)
        reasons = _top_reasons(table, per)
        is_champion = model.pk == champion.pk
        for row, borrower_id in enumerate(ids):
            rows.append(
                Score(
                    borrower_id=borrower_id,
                    model=model,
                    total=int(round(total[row])),
                    inputs={
                        f: {"value": float(columns[f][row]), "points": float(per[f][row])}
                        for f in table.features
                    },
                    reasons=reason_codes(reasons[row]),
                    acting=is_champion != on_challenger[row],
                    as_of=as_of,
                    scored_at=now,
                    run_id=run_id,
                )
            )
    written = Score.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    audit(
        actor=actor,
        action="scores.computed",
        obj=champion,
        after={
            "run_id": run_id,
            "as_of": as_of,
            "borrowers": len(ids),
            "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None,
            "models": [m.pk for m in (champion, challenger) if m is not None],
        },
    )
    return len(written)


# --- the limit policy ------------------------------------------------------------------------
