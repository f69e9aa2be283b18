"""Reviewing a line by the active policy, and re-scoring one borrower after an event."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import DomainError
from decisions import policy as limit_policy
from decisions.choices import LimitAction
from decisions.errors import NoActivePolicy
from decisions.features import book_features
from decisions.models import (
    LimitDecision,
    Score,
)
from decisions.services.policies import active_policy
from decisions.services.scoring import score_chunk
from lending import caps
from lending.choices import LineStatusCode
from lending.models import CreditLine
from lending.services import line_freeze, line_limit_set


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
