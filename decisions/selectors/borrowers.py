"""A borrower's scores and limit decisions as the staff score panel and the borrower's own
portal show them. The access check is here: staff read any borrower, a borrower login only
its own (Http404 otherwise, so an id reveals nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext

from decisions.models import LimitDecision, Score
from decisions.policy import DECISION_SENTENCES, DEFAULT_RULES, policy_rules
from decisions.reasons import BORROWER_REASONS, REASONS, UNKNOWN, Reason
from decisions.selectors.charts import figure
from decisions.selectors.policies import policy_in_force
from decisions.selectors.scorecards import FEATURE_SPECS, feature_label
from lending.selectors import borrower_visible_to

if TYPE_CHECKING:
    from accounts.models import User

SCORE_REASONS: dict[str, Reason] = {reason.code: reason for reason in REASONS.values()}
# How much history the staff panel reads.
PANEL_SCORES = 60
PANEL_DECISIONS = 10


def _check_visible(*, user: User, borrower_id: int) -> None:
    if not borrower_visible_to(user=user).filter(pk=borrower_id).exists():
        raise Http404("No such borrower.")


def score_reasons(codes: Iterable[str]) -> list[dict[str, Any]]:
    """Score reason codes with their sentence in this language."""
    return [{"code": code, "sentence": SCORE_REASONS.get(code, UNKNOWN).sentence} for code in codes]


def decision_reasons(codes: Iterable[str]) -> list[dict[str, Any]]:
    """Limit-decision reason codes with their sentence in this language."""
    return [{"code": code, "sentence": DECISION_SENTENCES.get(code, code)} for code in codes]


def _history_figure(scores: list[Score]) -> dict[str, Any]:
    """One line per scorecard version, oldest score first."""
    lines: dict[str, dict[str, Any]] = {}
    for score in reversed(scores):
        name = str(score.model) if score.acting else f"{score.model} ({gettext('not acting')})"
        line = lines.setdefault(
            name, {"type": "scatter", "mode": "lines+markers", "name": name, "x": [], "y": []}
        )
        line["x"].append(timezone.localtime(score.scored_at).strftime("%Y-%m-%d %H:%M:%S"))
        line["y"].append(score.total)
    return figure(
        list(lines.values()),
        {
            "height": 200,
            "xaxis": {"type": "date", "tickformat": "%Y-%m-%d"},
            "yaxis": {"title": {"text": gettext("Score")}},
            "legend": {"orientation": "h", "y": 1.2},
            "margin": {"t": 30, "r": 10, "l": 50, "b": 40},
        },
    )


def borrower_score_panel(*, user: User, borrower_id: int) -> dict[str, Any]:
    """The staff panel: the acting score with its band (by the policy in force), reasons and
    each feature's value and points; the score history figure; the recent limit decisions
    with their reasons. Raises Http404 when `user` may not see the borrower."""
    _check_visible(user=user, borrower_id=borrower_id)
    scores = list(
        Score.objects.filter(borrower_id=borrower_id)
        .select_related("model")
        .order_by("-scored_at", "-id")[:PANEL_SCORES]
    )
    current = next((s for s in scores if s.acting), None)
    decisions = list(
        LimitDecision.objects.filter(borrower_id=borrower_id)
        .select_related("policy")
        .order_by("-decided_at", "-id")[:PANEL_DECISIONS]
    )
    active = policy_in_force()
    panel: dict[str, Any] = {
        "borrower_id": borrower_id,
        "current": current,
        "active": active,
        "decisions": [{"decision": d, "reasons": decision_reasons(d.reasons)} for d in decisions],
        "history_figure": _history_figure(scores) if len(scores) > 1 else None,
    }
    if current is not None:
        rules = policy_rules(active.rules if active else DEFAULT_RULES)
        panel["band"] = rules.band_for(current.total).name
        panel["reasons"] = score_reasons(current.reasons)
        order = {name: n for n, name in enumerate(FEATURE_SPECS)}
        panel["inputs"] = [
            {
                "name": name,
                "description": feature_label(name),
                "value": item.get("value"),
                "points": item.get("points"),
            }
            for name, item in sorted(
                current.inputs.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])
            )
        ]
    return panel


def borrower_own_reasons(*, user: User, borrower_id: int) -> dict[str, Any]:
    """Why a borrower's limit is what it is, in plain sentences: the latest limit decision's
    reasons and the acting score's top reasons (at most BORROWER_REASONS, no codes needed).
    Raises Http404 when `user` may not see the borrower."""
    _check_visible(user=user, borrower_id=borrower_id)
    decision = (
        LimitDecision.objects.filter(borrower_id=borrower_id).order_by("-decided_at", "-id").first()
    )
    score = (
        Score.objects.filter(borrower_id=borrower_id, acting=True)
        .order_by("-scored_at", "-id")
        .first()
    )
    return {
        "decision": decision,
        "decision_reasons": decision_reasons(decision.reasons) if decision else [],
        "score_reasons": score_reasons(score.reasons[:BORROWER_REASONS]) if score else [],
    }
