"""Scoring a chunk of borrowers by the champion (and its challenger): scores with reasons.

Vectorised per chunk: the features come as a frame (decisions.features.chunk_features), each
model's points and totals as numpy arrays, the reasons by one argsort per chunk; the rows are
written by COPY on PostgreSQL (ids reserved from the sequence first, so a limit decision can
name its score) and by bulk_create elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from decisions.choices import ModelStatus
from decisions.features import chunk_features
from decisions.models import Score, ScorecardModel
from decisions.reasons import reason_for
from decisions.scorecard import BIN_MISSING, BIN_RANGE, PointsTable
from decisions.selectors import points_table
from decisions.services._copy import copy_lines, copy_text
from decisions.services.scorecards import challenger_assigned
from lending import bulk

if TYPE_CHECKING:
    from accounts.models import User

REASONS_KEPT = 4  # the top reasons stored with a score (the portal shows at most four)


@dataclass
class ChunkScores:
    """What scoring a chunk produced: per borrower id (ascending), the acting score's total and
    row id (None where no score row was written: already scored in this run), and the features
    the limit review reads."""

    borrower_ids: np.ndarray
    acting_total: np.ndarray  # float, NaN without a score
    acting_score_id: list[int | None]
    features: Any  # the chunk's feature frame
    written: int
    models: list[ScorecardModel]


def acting_models(name: str) -> tuple[ScorecardModel | None, ScorecardModel | None]:
    """The champion and challenger of scorecard `name` (None where there is none)."""
    models = list(
        ScorecardModel.objects.filter(
            name=name, status__in=[ModelStatus.CHAMPION, ModelStatus.CHALLENGER]
        ).order_by("-status_changed_at")
    )
    champion = next((m for m in models if m.status == ModelStatus.CHAMPION), None)
    challenger = next((m for m in models if m.status == ModelStatus.CHALLENGER), None)
    return champion, challenger


def table_score(
    table: PointsTable, columns: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """PointsTable.score for float columns, without a Python step per value: range features by
    np.digitize over the split points (the same [lower, upper) rule), NaN to the missing bin;
    categorical features through the table itself. Same totals and points as table.score
    (decisions/tests/test_scoring.py checks it)."""
    per: dict[str, np.ndarray] = {}
    total = np.full(len(next(iter(columns.values()))) if columns else 0, table.base_points)
    for feature in table.features:
        bins = table.feature_bins(feature)
        points = np.array([b.points for b in bins], dtype=np.float64)
        ranges = [i for i, b in enumerate(bins) if b.kind == BIN_RANGE]
        values = columns[feature]
        if ranges and values.dtype.kind == "f":
            missing = next(i for i, b in enumerate(bins) if b.kind == BIN_MISSING)
            splits = np.array([bins[i].lower for i in ranges[1:]], dtype=np.float64)
            position = np.digitize(np.nan_to_num(values, nan=0.0), splits, right=False)
            index = np.where(np.isnan(values), missing, np.array(ranges)[position])
        else:
            index = table.bin_indices(feature, values)
        per[feature] = points[index]
        total = total + per[feature]
    return total, per


def top_reasons(
    table: PointsTable, per: dict[str, np.ndarray], limit: int = REASONS_KEPT
) -> list[list[str]]:
    """Per row, the reason codes of the features that lost the most points against their best
    bin, worst first (ties: the table's feature order); only features that lost points."""
    best = table.best_points()
    features = list(per)
    if not features:
        return []
    lost = np.column_stack([best.get(f, 0.0) - per[f] for f in features])
    lost = np.where(np.isin(features, list(best)), lost, 0.0)  # no best bin: nothing lost
    order = np.argsort(-lost, axis=1, kind="stable")[:, :limit]
    kept = np.take_along_axis(lost, order, axis=1) > 0
    codes = np.array([reason_for(f).code for f in features], dtype=object)
    return [list(codes[row][mask]) for row, mask in zip(order, kept, strict=True)]


def _json_lists(lists: list[list[str]]) -> list[str]:
    """Each list of reason codes as JSON text: one json.dumps per distinct list (a chunk has a
    few hundred distinct ones among its tens of thousands of rows)."""
    texts: dict[tuple[str, ...], str] = {}
    out = []
    for codes in lists:
        key = tuple(codes)
        text = texts.get(key)
        if text is None:
            text = texts[key] = json.dumps(codes)
        out.append(text)
    return out


def _json_numbers(values: np.ndarray) -> list[str]:
    """Each float as JSON text (repr, as json.dumps writes it; NaN, a missing value, as null),
    formatted by one json.dumps per column rather than a Python call per value."""
    text = json.dumps(np.asarray(values, dtype=np.float64).tolist())[1:-1]
    if not text:
        return []
    if "Infinity" in text:
        text = text.replace("-Infinity", "null").replace("Infinity", "null")
    return text.replace("NaN", "null").split(", ")


def _inputs_json(
    table: PointsTable, columns: dict[str, np.ndarray], per: dict[str, np.ndarray]
) -> list[str]:
    """Each row's inputs ({"feature": {"value": v, "points": p}}) as JSON text, built column by
    column (one string operation per feature, not one json.dumps per row)."""
    parts: list[list[str]] = []
    for feature in table.features:
        head = json.dumps(feature) + ':{"value":'
        values = _json_numbers(columns[feature])
        points = _json_numbers(per[feature])
        parts.append([f'{head}{v},"points":{p}}}' for v, p in zip(values, points, strict=True)])
    return ["{" + ",".join(cells) + "}" for cells in zip(*parts, strict=True)]


def _scores_copy(
    pks: Sequence[int],
    rows: Sequence[tuple[Any, ...]],
    *,
    as_of: date,
    now: datetime,
    run_id: str,
) -> None:
    """COPY score rows (borrower, model, total, inputs JSON, reasons JSON, acting) as text
    lines: the columns every row shares (as of, scored at, run) formatted once, no value
    through a per-value adapter (PostgreSQL)."""
    tail = f"\t{as_of.isoformat()}\t{now.isoformat()}\t{copy_text(run_id)}\n"
    lines = [
        f"{pk}\t{b}\t{m}\t{t}\t{copy_text(i)}\t{copy_text(r)}\t{'t' if a else 'f'}{tail}"
        for pk, (b, m, t, i, r, a) in zip(pks, rows, strict=True)
    ]
    copy_lines(
        Score,
        (
            "id",
            "borrower",
            "model",
            "total",
            "inputs",
            "reasons",
            "acting",
            "as_of",
            "scored_at",
            "run_id",
        ),
        lines,
    )


def _existing(run_id: str, ids: Sequence[int]) -> set[tuple[int, int]]:
    # A range, not IN (a list of 20,000 parameters costs more to send than the rows it finds);
    # rows of borrowers in the range but outside `ids` are simply never looked up.
    if not run_id or not ids:
        return set()
    return set(
        Score.objects.filter(
            run_id=run_id, borrower_id__gte=min(ids), borrower_id__lte=max(ids)
        ).values_list("borrower_id", "model_id")
    )


def chunk_scores_write(
    *,
    run_id: str,
    borrower_ids: Sequence[int],
    as_of: date,
    name: str = "book",
    now: datetime | None = None,
) -> ChunkScores | None:
    """Score `borrower_ids` by the champion of `name` (and its challenger) and write the score
    rows; the caller holds the transaction. None without a champion.

    A borrower already scored by a model in this run is not written again (the unique
    constraint score_once_per_run backs this up)."""
    champion, challenger = acting_models(name)
    if champion is None or not borrower_ids:
        return None
    now = now or timezone.now()
    frame = chunk_features(borrower_ids=list(borrower_ids), as_of=as_of)
    ids = frame.index.to_numpy(dtype=np.int64)
    on_challenger = np.array(
        [challenger is not None and challenger_assigned(borrower_id=int(i)) for i in ids],
        dtype=bool,
    )
    existing = _existing(run_id, ids.tolist())
    acting_total = np.full(len(ids), np.nan)
    acting_id: list[int | None] = [None] * len(ids)
    rows: list[tuple[Any, ...]] = []
    row_acting: list[int] = []  # index into ids of each acting row
    models = [m for m in (champion, challenger) if m is not None]
    for model in models:
        table = points_table(model=model)
        columns = {
            f: frame[f].to_numpy(dtype=np.float64) if f in frame else np.full(len(frame), np.nan)
            for f in table.features
        }
        total, per = table_score(table, columns)
        totals = np.rint(total).astype(np.int64)
        reasons = top_reasons(table, per)
        inputs = _inputs_json(table, columns, per)
        acting = on_challenger if model.pk != champion.pk else ~on_challenger
        acting_total = np.where(acting, totals, acting_total)
        reasons_json = _json_lists(reasons)
        totals_list = totals.tolist()
        acting_list = acting.tolist()
        for row, borrower_id in enumerate(ids.tolist()):
            if existing and (borrower_id, model.pk) in existing:
                continue
            if acting_list[row]:
                row_acting.append(len(rows))
            rows.append(
                (
                    borrower_id,
                    model.pk,
                    totals_list[row],
                    inputs[row],
                    reasons_json[row],
                    acting_list[row],
                )
            )
    if bulk.copy_supported():
        pks = bulk.reserve_ids(Score, len(rows))
        _scores_copy(pks, rows, as_of=as_of, now=now, run_id=run_id)
    else:
        objects = [
            Score(
                borrower_id=b,
                model_id=m,
                total=t,
                inputs=json.loads(i),
                reasons=json.loads(r),
                acting=a,
                as_of=as_of,
                scored_at=now,
                run_id=run_id,
            )
            for b, m, t, i, r, a in rows
        ]
        pks = [s.pk for s in Score.objects.bulk_create(objects, batch_size=2000)]
    position = {int(b): i for i, b in enumerate(ids.tolist())}
    for index in row_acting:
        acting_id[position[rows[index][0]]] = pks[index]
    return ChunkScores(
        borrower_ids=ids,
        acting_total=acting_total,
        acting_score_id=acting_id,
        features=frame,
        written=len(rows),
        models=models,
    )


def scores_audit(*, actor: User | None, run_id: str, as_of: date, scored: ChunkScores) -> None:
    """The one audit row of a scored chunk (a book-wide run is audited per chunk, and each
    limit change per line: never one row per score)."""
    ids = scored.borrower_ids.tolist()
    audit(
        actor=actor,
        action="scores.computed",
        obj=scored.models[0],
        after={
            "run_id": run_id,
            "as_of": as_of,
            "borrowers": len(ids),
            "first_id": ids[0] if ids else None,
            "last_id": ids[-1] if ids else None,
            "models": [m.pk for m in scored.models],
        },
    )


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
    scored = chunk_scores_write(run_id=run_id, borrower_ids=borrower_ids, as_of=as_of, name=name)
    if scored is None:
        return 0
    scores_audit(actor=actor, run_id=run_id, as_of=as_of, scored=scored)
    return scored.written
