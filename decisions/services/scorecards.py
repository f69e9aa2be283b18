"""Scorecard versions: storing a trained model as its points table, moving a version through
its life (draft, challenger, champion, retired), and which model acts for a borrower."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import Role
from decisions.choices import ModelStatus
from decisions.errors import InvalidTransition, NotAllowed
from decisions.models import (
    ScorecardBin,
    ScorecardModel,
)
from decisions.scorecard import TrainingResult

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
