"""Every write of decisions: storing a trained scorecard, moving a version through its life.

Each service owns its transaction (durable: call it outside any atomic block), and writes its
audit row (accounts.audit) in that transaction. `actor=None` is the system (a command).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import Role
from decisions.choices import ModelStatus
from decisions.errors import InvalidTransition, NotAllowed
from decisions.features import book_features
from decisions.models import Score, ScorecardBin, ScorecardModel
from decisions.reasons import reason_codes
from decisions.scorecard import PointsTable, TrainingResult
from decisions.selectors import points_table

if TYPE_CHECKING:
    from accounts.models import User

# Who may promote or retire a scorecard: a manager or above (the issue's "a manager promotes
# or retires"); analysts may train drafts through the command but not make them act.
MODEL_GOVERNORS = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})

# Status changes a person may make; promoting a champion retires the one it replaces.
TRANSITIONS: dict[str, set[str]] = {
    ModelStatus.DRAFT: {ModelStatus.CHALLENGER, ModelStatus.CHAMPION, ModelStatus.RETIRED},
    ModelStatus.CHALLENGER: {ModelStatus.CHAMPION, ModelStatus.RETIRED},
    ModelStatus.CHAMPION: {ModelStatus.RETIRED},
    ModelStatus.RETIRED: set(),
}


def _require_governor(actor: User | None) -> None:
    if actor is None:
        return
    if not actor.is_active or actor.role not in MODEL_GOVERNORS:
        raise NotAllowed(role=actor.role)


@transaction.atomic(durable=True)
def scorecard_store(
    *,
    actor: User | None,
    name: str,
    result: TrainingResult,
    target: str,
    training: dict[str, Any] | None = None,
) -> ScorecardModel:
    """Store a trained scorecard as the next draft version of `name`, with its points table.

    The version number is one more than the highest stored for the name (the name's rows are
    locked while it is chosen, so two trainings never get the same number).
    """
    # Lock the name's versions so that two stores of one name number themselves in turn.
    list(ScorecardModel.objects.select_for_update().filter(name=name).values_list("pk"))
    latest = ScorecardModel.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0
    table = result.table
    model = ScorecardModel.objects.create(
        name=name,
        version=latest + 1,
        target=target,
        training=training or {},
        base_score=table.base_score,
        base_odds=table.base_odds,
        pdo=table.pdo,
        base_points=table.base_points,
        auc=result.auc,
        ks=result.ks,
        gini=result.gini,
        iv=result.iv,
        train_rows=result.train_rows,
        test_rows=result.test_rows,
        bad_rate=result.bad_rate,
        created_at=timezone.now(),
        created_by=actor,
    )
    ScorecardBin.objects.bulk_create(
        ScorecardBin(
            model=model,
            feature=b.feature,
            index=b.index,
            kind=b.kind,
            lower=b.lower,
            upper=b.upper,
            categories=list(b.categories),
            label=b.label[:300],
            points=b.points,
            woe=b.woe,
            count=b.count,
            event_rate=b.event_rate,
        )
        for b in table.bins
    )
    audit(
        actor=actor,
        action="scorecard.stored",
        obj=model,
        after={
            "name": name,
            "version": model.version,
            "target": target,
            "auc": round(result.auc, 4),
            "ks": round(result.ks, 4),
            "features": table.features,
        },
    )
    return model


@transaction.atomic(durable=True)
def scorecard_set_status(
    *, actor: User | None, model: ScorecardModel, status: str, note: str = ""
) -> ScorecardModel:
    """Move a scorecard version to `status` (challenger, champion or retired).

    Promoting a champion retires the name's current champion in the same transaction, so
    exactly one version acts. Setting the status it already has changes nothing. Raises
    NotAllowed (below manager), InvalidTransition (e.g. a retired version back to champion).
    """
    _require_governor(actor)
    model = ScorecardModel.objects.select_for_update().get(pk=model.pk)
    if model.status == status:
        return model
    if status not in TRANSITIONS.get(model.status, set()):
        raise InvalidTransition(current=model.status, wanted=status)
    now = timezone.now()
    if status == ModelStatus.CHAMPION:
        for old in ScorecardModel.objects.select_for_update().filter(
            name=model.name, status=ModelStatus.CHAMPION
        ):
            old.status = ModelStatus.RETIRED
            old.status_changed_at = now
            old.save(update_fields=["status", "status_changed_at"])
            audit(
                actor=actor,
                action="scorecard.retired",
                obj=old,
                before={"status": ModelStatus.CHAMPION},
                after={"status": ModelStatus.RETIRED, "replaced_by": model.version},
                note=note,
            )
    before = {"status": model.status}
    model.status = status
    model.status_changed_at = now
    model.save(update_fields=["status", "status_changed_at"])
    audit(
        actor=actor,
        action=f"scorecard.{status}",
        obj=model,
        before=before,
        after={"status": status, "version": model.version},
        note=note,
    )
    return model


def challenger_assigned(*, borrower_id: int) -> bool:
    """Whether the challenger acts for this borrower: a stable hash of the id, so the same
    borrower stays on the same side run after run, and a share RISKOPS_CHALLENGER_SHARE of
    the book (10% by default) is assigned to it."""
    share = float(getattr(settings, "RISKOPS_CHALLENGER_SHARE", 0.1))
    digest = hashlib.sha256(f"challenger:{borrower_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64 < share


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
