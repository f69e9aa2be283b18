"""Every write of decisions: storing a trained scorecard, moving a version through its life.

Each service owns its transaction (durable: call it outside any atomic block), and writes its
audit row (accounts.audit) in that transaction. `actor=None` is the system (a command).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import Role
from core.errors import DomainError
from decisions import policy as limit_policy
from decisions.choices import LimitAction, ModelStatus, PolicyStatus, RunStatus
from decisions.errors import FourEyes, InvalidPolicy, InvalidTransition, NoActivePolicy, NotAllowed
from decisions.features import book_features
from decisions.models import (
    LimitDecision,
    LimitPolicy,
    Score,
    ScorecardBin,
    ScorecardModel,
    ScoringChunk,
    ScoringRun,
)
from decisions.reasons import reason_codes
from decisions.scorecard import PointsTable, TrainingResult
from decisions.selectors import points_table
from lending import caps
from lending.choices import LineStatusCode
from lending.models import CreditLine
from lending.selectors import borrower_id_chunks
from lending.services import line_freeze, line_limit_set

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


# --- the limit policy ------------------------------------------------------------------------

POLICY_DRAFTERS = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})
POLICY_APPROVERS = frozenset({Role.HEAD_OF_RISK, Role.ADMIN})


@transaction.atomic(durable=True)
def policy_draft(*, actor: User | None, rules: dict[str, Any], note: str = "") -> LimitPolicy:
    """Store a new draft version of the limit policy. Raises NotAllowed (below manager),
    InvalidPolicy (the rules do not describe a usable policy; the message says why)."""
    if actor is not None and (not actor.is_active or actor.role not in POLICY_DRAFTERS):
        raise NotAllowed(role=actor.role)
    try:
        limit_policy.policy_rules(rules)
    except limit_policy.PolicyInvalid as exc:
        raise InvalidPolicy(problem=str(exc)) from exc
    # Lock the table's newest row so two drafts never take the same version number.
    latest = LimitPolicy.objects.select_for_update().order_by("-version").first()
    draft = LimitPolicy.objects.create(
        version=(latest.version + 1) if latest else 1,
        rules=rules,
        note=note,
        created_at=timezone.now(),
        created_by=actor,
    )
    audit(
        actor=actor,
        action="policy.drafted",
        obj=draft,
        after={"version": draft.version, "note": note},
    )
    return draft


@transaction.atomic(durable=True)
def policy_activate(*, actor: User | None, policy: LimitPolicy, note: str = "") -> LimitPolicy:
    """Put a draft policy in force: the head of risk approves a version someone else drafted
    (four eyes); the active version retires in the same transaction. Raises NotAllowed,
    FourEyes (the drafter approving), InvalidTransition (not a draft)."""
    if actor is not None and (not actor.is_active or actor.role not in POLICY_APPROVERS):
        raise NotAllowed(role=actor.role)
    policy = LimitPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.status != PolicyStatus.DRAFT:
        raise InvalidTransition(current=policy.status, wanted=PolicyStatus.ACTIVE)
    if actor is not None and policy.created_by_id == actor.pk:
        raise FourEyes()
    now = timezone.now()
    for old in LimitPolicy.objects.select_for_update().filter(status=PolicyStatus.ACTIVE):
        old.status = PolicyStatus.RETIRED
        old.save(update_fields=["status"])
        audit(actor=actor, action="policy.retired", obj=old, after={"replaced_by": policy.version})
    policy.status = PolicyStatus.ACTIVE
    policy.approved_at = now
    policy.approved_by = actor
    policy.save(update_fields=["status", "approved_at", "approved_by"])
    audit(
        actor=actor,
        action="policy.activated",
        obj=policy,
        before={"status": PolicyStatus.DRAFT},
        after={"status": PolicyStatus.ACTIVE, "version": policy.version},
        note=note,
    )
    return policy


def _line_state(
    borrower_id: int, *, today: date
) -> tuple[Any, limit_policy.LineState, Score | None]:
    """The line and what the policy reads of it (scores, behaviour, locks) for one borrower."""
    line = CreditLine.objects.get(borrower_id=borrower_id)
    scores = list(
        Score.objects.filter(borrower_id=borrower_id, acting=True).order_by("-scored_at", "-id")[:2]
    )
    features = book_features(as_of=today, borrower_ids=[borrower_id]).iloc[0]
    last_cut = (
        LimitDecision.objects.filter(borrower_id=borrower_id, action=LimitAction.CUT, applied=True)
        .order_by("-decided_at")
        .values_list("decided_at", flat=True)
        .first()
    )
    dpd = (today - line.oldest_unpaid_due).days if line.oldest_unpaid_due else 0
    state = limit_policy.LineState(
        limit=line.credit_limit,
        used=line.used,
        dpd=max(dpd, 0),
        score=scores[0].total if scores else None,
        previous_score=scores[1].total if len(scores) > 1 else None,
        on_time_streak=int(features["on_time_streak"]),
        small_early_settlements=int(features["early_settlements"]),
        lender_transfers_90d=int(features["lender_transfers_90d"]),
        identity_mismatch=bool(features["identity_mismatch"]),
        fraud_confirmed=False,  # set by confirmed fraud cases once they exist
        locked=line.locked_until is not None and line.locked_until > today,
        pending_override=False,  # set by the override workflow once it exists
        last_cut_on=timezone.localdate(last_cut) if last_cut else None,
        closed=line.status == "closed",
        frozen=line.status == "frozen",
    )
    return line, state, scores[0] if scores else None


def active_policy() -> LimitPolicy:
    policy = LimitPolicy.objects.filter(status=PolicyStatus.ACTIVE).first()
    if policy is None:
        raise NoActivePolicy()
    return policy


@transaction.atomic(durable=True)
def line_review(*, borrower_id: int, run_id: str = "") -> LimitDecision | None:
    """Review one borrower's line by the active policy and apply the decision at once.

    The decision goes through lending's services (line_limit_set with automatic=True, which
    honours the line's lock; line_freeze with the reason code), and is stored with the policy
    version, the score read, the old and new limit and the reason codes. A hold is stored only
    when a lock forced it; a plain hold writes nothing. Returns the decision, or None.
    Raises NoActivePolicy.
    """
    policy = active_policy()
    rules = limit_policy.policy_rules(policy.rules)
    today = timezone.localdate()
    line, state, score = _line_state(borrower_id, today=today)
    decision = limit_policy.review(rules, state, today=today, product_cap=caps.product_limit_cap())
    if decision.action == limit_policy.HOLD and not decision.reasons:
        return None
    if decision.action in (limit_policy.RAISE, limit_policy.CUT):
        line_limit_set(
            actor=None,
            line=line,
            new_limit=decision.new_limit,
            reason_code=LineStatusCode.POLICY,
            note=" ".join(decision.reasons),
            automatic=True,
        )
    elif decision.action == limit_policy.FREEZE:
        code = LineStatusCode.FRAUD if "F02" in decision.reasons else LineStatusCode.OVERDUE
        line_freeze(actor=None, line=line, status_code=code, note=" ".join(decision.reasons))
    return LimitDecision.objects.create(
        borrower_id=borrower_id,
        policy=policy,
        score=score,
        action=decision.action,
        old_limit=state.limit,
        new_limit=decision.new_limit,
        band=decision.band,
        reasons=list(decision.reasons),
        applied=decision.action != limit_policy.HOLD,
        decided_at=timezone.now(),
        run_id=run_id,
    )


# --- re-scoring: one borrower after an event, the whole book at night -----------------------


def borrower_rescore(*, borrower_id: int) -> LimitDecision | None:
    """Score one borrower now and review their line by the active policy.

    Called by a task queued after a drawdown, a repayment or a day-close transition commits.
    Without a champion nothing is scored; without an active policy the line is not reviewed.
    A business refusal of the change (the line locked meanwhile, closed) leaves the score
    written and the line as it was. An entry point: each step owns its transaction.
    """
    score_chunk(actor=None, run_id="", borrower_ids=[borrower_id], as_of=timezone.localdate())
    try:
        return line_review(borrower_id=borrower_id)
    except (NoActivePolicy, CreditLine.DoesNotExist):
        return None
    except DomainError:
        # The line moved under us (locked by a person, closed): the policy holds off.
        return None


@transaction.atomic(durable=True)
def scoring_run_start(*, as_of: date, chunk_size: int, run_id: str) -> ScoringRun:
    """Plan a whole-book run: one chunk row per `chunk_size` borrowers (by id ranges).

    Starting a run id that exists returns it unchanged (a redelivered start plans nothing
    twice)."""
    existing = ScoringRun.objects.filter(run_id=run_id).first()
    if existing is not None:
        return existing
    chunks = [(ids[0], ids[-1], len(ids)) for ids in borrower_id_chunks(size=chunk_size)]
    run = ScoringRun.objects.create(
        run_id=run_id,
        as_of=as_of,
        chunks_total=len(chunks),
        borrowers=sum(size for _f, _l, size in chunks),
        started_at=timezone.now(),
        status=RunStatus.RUNNING if chunks else RunStatus.DONE,
        finished_at=None if chunks else timezone.now(),
    )
    ScoringChunk.objects.bulk_create(
        ScoringChunk(run=run, index=i, first_id=first, last_id=last, size=size)
        for i, (first, last, size) in enumerate(chunks)
    )
    audit(
        actor=None,
        action="scoring_run.started",
        obj=run,
        after={"run_id": run_id, "as_of": as_of, "chunks": len(chunks), "borrowers": run.borrowers},
    )
    return run


def scoring_chunk_run(*, run_id: str, index: int) -> ScoringChunk:
    """Score and review one chunk of a run; a chunk already done is left alone (a redelivered
    task applies nothing twice). Failures are recorded on the chunk and re-raised for the
    task to retry."""
    started = time.perf_counter()
    chunk = ScoringChunk.objects.select_related("run").get(run__run_id=run_id, index=index)
    if chunk.status == RunStatus.DONE:
        return chunk
    ScoringChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    ids = list(
        CreditLine.objects.filter(borrower_id__gte=chunk.first_id, borrower_id__lte=chunk.last_id)
        .order_by("borrower_id")
        .values_list("borrower_id", flat=True)
    )
    try:
        scores = score_chunk(actor=None, run_id=run_id, borrower_ids=ids, as_of=chunk.run.as_of)
        reviewed = 0
        already = set(
            LimitDecision.objects.filter(run_id=run_id, borrower_id__in=ids).values_list(
                "borrower_id", flat=True
            )
        )
        for borrower_id in ids:
            if borrower_id in already:
                continue
            try:
                if line_review(borrower_id=borrower_id, run_id=run_id) is not None:
                    reviewed += 1
            except NoActivePolicy:
                break
            except DomainError:
                continue  # this line moved under the run (locked, closed): the next run sees it
    except Exception as exc:
        ScoringChunk.objects.filter(pk=chunk.pk).update(
            status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    return _chunk_finish(chunk=chunk, scores=scores, decisions=reviewed, started=started)


@transaction.atomic(durable=True)
def _chunk_finish(
    *, chunk: ScoringChunk, scores: int, decisions: int, started: float
) -> ScoringChunk:
    chunk = ScoringChunk.objects.select_for_update().get(pk=chunk.pk)
    chunk.status = RunStatus.DONE
    chunk.scores = scores
    chunk.decisions = decisions
    chunk.seconds = time.perf_counter() - started
    chunk.error = ""
    chunk.finished_at = timezone.now()
    chunk.save(update_fields=["status", "scores", "decisions", "seconds", "error", "finished_at"])
    # The run is done when its last chunk is: decided on the locked run row.
    run = ScoringRun.objects.select_for_update().get(pk=chunk.run_id)
    if not run.chunks.exclude(status=RunStatus.DONE).exists():
        run.status = RunStatus.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
        audit(
            actor=None,
            action="scoring_run.finished",
            obj=run,
            after={"run_id": run.run_id, "chunks": run.chunks_total, "borrowers": run.borrowers},
        )
    return chunk
