"""Scores and limits pages: scorecards, the features catalogue, limit policy versions (draft,
simulate, activate), a borrower's score panel for staff and a borrower's own reasons.

Every risk staff member reads everything here; a manager promotes scorecards and drafts
policies, the head of risk activates them (decisions.services names the roles and re-checks
them). Charts are Plotly figure dicts emitted with json_script and drawn by static/js/charts.js.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from decisions.choices import BinKind, LimitAction, ModelStatus, PolicyStatus
from decisions.features import FEATURES
from decisions.forms import (
    SCALARS,
    BandFormSet,
    PolicyForm,
    ScenarioFormSet,
    policy_document,
    policy_initial,
)
from decisions.models import LimitDecision, LimitPolicy, Score, ScorecardBin, ScorecardModel
from decisions.policy import (
    DECISION_SENTENCES,
    DEFAULT_RULES,
    PolicyInvalid,
    PolicyRules,
    policy_rules,
)
from decisions.reasons import BORROWER_REASONS, REASONS, UNKNOWN, Reason
from decisions.selectors import policy_simulation, scorecard_list
from decisions.services import (
    MODEL_GOVERNORS,
    POLICY_APPROVERS,
    POLICY_DRAFTERS,
    TRANSITIONS,
    policy_activate,
    policy_draft,
    scorecard_set_status,
)
from lending.choices import Purpose
from lending.selectors import borrower_visible_to

FEATURE_SPECS = {spec.name: spec for spec in FEATURES}
SCORE_REASONS: dict[str, Reason] = {reason.code: reason for reason in REASONS.values()}

# The buttons that move a scorecard version, by the status they lead to.
STATUS_ACTIONS: dict[str, Any] = {
    ModelStatus.CHALLENGER: _("Make challenger"),
    ModelStatus.CHAMPION: _("Make champion"),
    ModelStatus.RETIRED: _("Retire"),
}

# Chart colours by limit action, the same on every page.
ACTION_COLOURS = {
    LimitAction.RAISE: "#1f7a4d",
    LimitAction.HOLD: "#9aa5b5",
    LimitAction.CUT: "#c77700",
    LimitAction.FREEZE: "#1b5a8c",
}
CHART_CONFIG = {"displayModeBar": False, "responsive": True}


def _require_role(request: AuthenticatedRequest, roles: Iterable[str]) -> None:
    """A page action only some staff may take: anyone else gets 403 (the service re-checks)."""
    if request.user.role not in roles:
        raise PermissionDenied


def _fragment(request: AuthenticatedRequest, template: str, name: str) -> str:
    """The partial for an htmx request, the whole page otherwise (STYLE §10)."""
    if request.htmx and not request.htmx.boosted:
        return f"{template}#{name}"
    return template


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    base = {"margin": {"t": 10, "r": 10, "l": 50, "b": 40}, "height": 260}
    return {"data": data, "layout": {**base, **layout}, "config": CHART_CONFIG}


# --- scorecards ---------------------------------------------------------------------------------


@require_GET
@staff_required
def scorecard_list_view(request: AuthenticatedRequest) -> HttpResponse:
    """Every scorecard version with its status and test metrics."""
    return render(request, "decisions/scorecard_list.html", {"models": scorecard_list()})


def _feature_label(name: str) -> str:
    spec = FEATURE_SPECS.get(name)
    return str(spec.description) if spec else ""


def _iv_figure(iv: Mapping[str, float]) -> dict[str, Any]:
    ranked = sorted(iv.items(), key=lambda item: item[1])  # the strongest at the top
    return _figure(
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


def _bin_label(row: ScorecardBin) -> str:
    """A bin as the table and chart show it: its range or categories, or what it holds."""
    if row.kind in (BinKind.SPECIAL, BinKind.MISSING):
        return str(row.get_kind_display())
    return row.label


def _bins_figure(bins: list[ScorecardBin]) -> dict[str, Any]:
    """Bad rate (bars) and WoE (line) by bin; empty bins (no training rows) are left out."""
    shown = [b for b in bins if b.count]
    labels = [_bin_label(b) for b in shown]
    return _figure(
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


def _status_context(request: AuthenticatedRequest, model: ScorecardModel) -> dict[str, Any]:
    can_govern = request.user.role in MODEL_GOVERNORS
    moves = TRANSITIONS.get(model.status, set()) if can_govern else set()
    return {
        "model": model,
        "can_govern": can_govern,
        # In the life order (challenger, champion, retired), not the set's:
        "actions": [(status, label) for status, label in STATUS_ACTIONS.items() if status in moves],
    }


@require_GET
@staff_required
def scorecard_detail(request: AuthenticatedRequest, model_id: int) -> HttpResponse:
    """One scorecard version: metrics, IV per feature, the points table and charts by feature."""
    model = get_object_or_404(scorecard_list(), pk=model_id)
    features: dict[str, list[ScorecardBin]] = {}
    # By id: the order training stored them in (features as trained, bins by index).
    for row in model.bins.order_by("id"):
        features.setdefault(row.feature, []).append(row)
    tables = [
        {
            "name": name,
            "description": _feature_label(name),
            "iv": model.iv.get(name),
            "bins": sorted(bins, key=lambda b: b.index),
            "figure": _bins_figure(sorted(bins, key=lambda b: b.index)),
            "figure_id": f"fig-bins-{n}",
        }
        for n, (name, bins) in enumerate(features.items())
    ]
    context = {
        **_status_context(request, model),
        "tables": tables,
        "iv_figure": _iv_figure(model.iv) if model.iv else None,
    }
    return render(request, "decisions/scorecard_detail.html", context)


@require_POST
@staff_required
def scorecard_status_view(request: AuthenticatedRequest, model_id: int) -> HttpResponse:
    """Promote or retire a version (managers and above); a refusal is shown in the panel."""
    _require_role(request, MODEL_GOVERNORS)
    model = get_object_or_404(scorecard_list(), pk=model_id)
    status = request.POST.get("status", "")
    if status not in STATUS_ACTIONS:
        raise PermissionDenied  # the page only offers these
    error = ""
    done = ""
    try:
        model = scorecard_set_status(
            actor=request.user, model=model, status=status, note=request.POST.get("note", "")[:500]
        )
        done = gettext("Saved: this version is now %(status)s.") % {
            "status": model.get_status_display()
        }
    except DomainError as exc:
        error = exc.message
        model.refresh_from_db()  # show the state that won, not the one we tried to reach
    context = {**_status_context(request, model), "error": error, "done": done}
    if request.htmx:
        return render(request, "decisions/scorecard_detail.html#status-panel", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("decisions:scorecard-detail", model_id=model.pk)


# --- features -----------------------------------------------------------------------------------


@require_GET
@staff_required
def feature_list(request: AuthenticatedRequest) -> HttpResponse:
    """The feature catalogue, with the reason each gives a borrower when it lowers the score."""
    rows = [{"spec": spec, "reason": REASONS.get(spec.name, UNKNOWN)} for spec in FEATURES]
    return render(request, "decisions/feature_list.html", {"rows": rows})


# --- limit policy -------------------------------------------------------------------------------


def _policies() -> Any:
    return LimitPolicy.objects.select_related("created_by", "approved_by").order_by("-version")


def _active_policy() -> LimitPolicy | None:
    return LimitPolicy.objects.filter(status=PolicyStatus.ACTIVE).first()


@require_GET
@staff_required
def policy_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every limit policy version: who drafted and who approved it, and when."""
    context = {
        "policies": _policies(),
        "can_draft": request.user.role in POLICY_DRAFTERS,
        "can_activate": request.user.role in POLICY_APPROVERS,
    }
    return render(request, "decisions/policy_list.html", context)


def _same(a: Any, b: Any) -> bool:
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except (InvalidOperation, ValueError):
        return str(a) == str(b)


def _cells(row: Mapping[str, Any], was: Mapping[str, Any] | None, keys: Iterable[str]) -> list[Any]:
    """Each value of a row, with the value in force where it differs (None: a new row)."""
    return [
        {
            "value": row.get(key),
            "was": None if was is None else was.get(key),
            "changed": was is not None and not _same(row.get(key), was.get(key)),
        }
        for key in keys
    ]


def _rules_view(document: Mapping[str, Any], compared: Mapping[str, Any] | None) -> dict[str, Any]:
    """A policy document laid out for reading, each value marked where it differs from
    `compared` (the policy in force)."""
    merged = {**DEFAULT_RULES, **document}
    base = {**DEFAULT_RULES, **compared} if compared is not None else None
    labels = {name: PolicyForm.base_fields[name].label for name in SCALARS}
    scalars = [
        {"label": labels[key], **_cells(merged, base, [key])[0]} for key in SCALARS if key in merged
    ]
    old_bands = {b["name"]: b for b in base["bands"]} if base else {}
    bands = [
        {
            "name": band["name"],
            "new": base is not None and band["name"] not in old_bands,
            "cells": _cells(
                band,
                old_bands.get(band["name"]) if base else None,
                ("min_score", "initial_limit", "raise_step", "ceiling", "daily_rate"),
            ),
        }
        for band in merged["bands"]
    ]
    old_scenarios = base["scenarios"] if base else {}
    scenarios = [
        {
            "purpose": _purpose_label(purpose),
            "cells": _cells(
                rule,
                old_scenarios.get(purpose) if base else None,
                ("min_score", "max_share_of_limit", "max_term_months"),
            ),
        }
        for purpose, rule in merged["scenarios"].items()
    ]
    return {"scalars": scalars, "bands": bands, "scenarios": scenarios}


def _purpose_label(purpose: str) -> str:
    labels = dict(Purpose.choices)
    return str(labels.get(purpose, purpose))


def _activate_context(request: AuthenticatedRequest, policy: LimitPolicy) -> dict[str, Any]:
    return {"policy": policy, "can_activate": request.user.role in POLICY_APPROVERS}


@require_GET
@staff_required
def policy_detail(request: AuthenticatedRequest, policy_id: int) -> HttpResponse:
    """One policy version's rules, marked where they differ from the policy in force."""
    policy = get_object_or_404(_policies(), pk=policy_id)
    active = _active_policy()
    compared = active.rules if active is not None and active.pk != policy.pk else None
    context = {
        **_activate_context(request, policy),
        "active": active,
        "rules": _rules_view(policy.rules, compared),
        "can_draft": request.user.role in POLICY_DRAFTERS,
    }
    return render(request, "decisions/policy_detail.html", context)


@require_POST
@staff_required
def policy_activate_view(request: AuthenticatedRequest, policy_id: int) -> HttpResponse:
    """The head of risk puts a draft in force; a refusal (four eyes) is shown in the panel."""
    _require_role(request, POLICY_APPROVERS)
    policy = get_object_or_404(_policies(), pk=policy_id)
    error = ""
    try:
        policy = policy_activate(
            actor=request.user, policy=policy, note=request.POST.get("note", "")[:500]
        )
    except DomainError as exc:
        error = exc.message
    policy = get_object_or_404(_policies(), pk=policy_id)  # the state that won, with its people
    context = {**_activate_context(request, policy), "error": error, "done": not error}
    if request.htmx:
        return render(request, "decisions/policy_detail.html#activate-panel", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, gettext("Version %(v)s is in force.") % {"v": policy.version})
    return redirect("decisions:policy-detail", policy_id=policy.pk)


def _simulation(rules: PolicyRules) -> dict[str, Any]:
    """What the rules would do to the book today, with the chart's words in this language."""
    result = policy_simulation(rules=rules, as_of=timezone.localdate())
    names = {**dict(LimitAction.choices), "exposure change": gettext("Change in exposure")}
    figure = result["figure"]
    data = []
    for trace in figure["data"]:
        name = trace.get("name", "")
        colour = ACTION_COLOURS.get(name)
        data.append(
            {
                **trace,
                "name": str(names.get(name, name)),
                **({"marker": {"color": colour}} if colour else {}),
            }
        )
    layout = {
        **figure["layout"],
        "yaxis": {"title": {"text": gettext("Lines")}},
        "yaxis2": {
            **figure["layout"].get("yaxis2", {}),
            "title": {"text": gettext("Change in exposure (¥)")},
            "tickmode": "auto",
            "tickformat": ",.0f",
            "showgrid": False,
        },
        "legend": {"orientation": "h", "y": 1.15, "traceorder": "normal"},
        "margin": {"t": 30, "r": 90, "l": 50, "b": 40},
        "height": 300,
    }
    return {**result, "figure": {"data": data, "layout": layout, "config": CHART_CONFIG}}


@require_GET
@staff_required
def policy_version_simulation(request: AuthenticatedRequest, policy_id: int) -> HttpResponse:
    """What a stored version would do to the book today (any staff: it changes nothing)."""
    policy = get_object_or_404(_policies(), pk=policy_id)
    context: dict[str, Any] = {"policy": policy}
    try:
        context["simulation"] = _simulation(policy_rules(policy.rules))
    except PolicyInvalid as exc:
        context["error"] = str(exc)
    if request.htmx and not request.htmx.boosted:
        return render(request, "decisions/partials/simulation.html", context)
    return render(request, "decisions/policy_simulation.html", context)


def _editor_base(base_id: Any) -> tuple[int | None, dict[str, Any]]:
    """The version a draft starts from: the one named, else the policy in force, else the
    default rules."""
    policy = None
    if str(base_id or "").isdigit():
        policy = LimitPolicy.objects.filter(pk=int(base_id)).first()
    if policy is None:
        policy = _active_policy()
    if policy is None:
        return None, dict(DEFAULT_RULES)
    return policy.pk, {**DEFAULT_RULES, **policy.rules}


def _editor(request: AuthenticatedRequest, *, save: bool) -> dict[str, Any]:
    """The editor's forms, bound on POST, and the document they describe when valid."""
    if request.method != "POST":
        base_id, base = _editor_base(request.GET.get("from"))
        initial_scalars, initial_bands, initial_scenarios = policy_initial(base)
        return {
            "form": PolicyForm(initial={**initial_scalars, "base": base_id}),
            "bands": BandFormSet(initial=initial_bands, prefix="bands"),
            "scenarios": ScenarioFormSet(initial=initial_scenarios, prefix="scenarios"),
            "base_id": base_id,
        }
    base_id, base = _editor_base(request.POST.get("base"))
    form = PolicyForm(request.POST, require_note=save)
    bands = BandFormSet(request.POST, prefix="bands")
    scenarios = ScenarioFormSet(request.POST, prefix="scenarios")
    context: dict[str, Any] = {
        "form": form,
        "bands": bands,
        "scenarios": scenarios,
        "base_id": base_id,
    }
    if all([form.is_valid(), bands.is_valid(), scenarios.is_valid()]):
        document = policy_document(base, form, bands.forms, scenarios.forms)
        try:
            context["rules"] = policy_rules(document)
            context["document"] = document
        except PolicyInvalid as exc:
            context["error"] = str(exc)
    else:
        context["error"] = gettext("Some values are missing or not numbers: see the marked fields.")
    return context


def _editor_page(request: AuthenticatedRequest, context: dict[str, Any]) -> HttpResponse:
    base_id = context.get("base_id")
    context["base"] = LimitPolicy.objects.filter(pk=base_id).first() if base_id else None
    context["scalar_fields"] = [context["form"][name] for name in SCALARS]
    context["scenario_rows"] = [
        (f, _purpose_label(f["purpose"].value() or "")) for f in context["scenarios"].forms
    ]
    template = _fragment(request, "decisions/policy_draft.html", "policy-editor")
    status = 200 if not context.get("error") or request.htmx else 400
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def policy_draft_view(request: AuthenticatedRequest) -> HttpResponse:
    """A manager edits a copy of the policy in force (or ?from=<version id>) and saves it as a
    new draft, which the head of risk may then activate."""
    _require_role(request, POLICY_DRAFTERS)
    context = _editor(request, save=True)
    if request.method == "POST" and "document" in context:
        try:
            draft = policy_draft(
                actor=request.user,
                rules=context["document"],
                note=context["form"].cleaned_data["note"],
            )
        except DomainError as exc:
            context["error"] = exc.message
        else:
            messages.success(
                request,
                gettext("Draft version %(v)s saved. The head of risk can now activate it.")
                % {"v": draft.version},
            )
            return redirect("decisions:policy-detail", policy_id=draft.pk)
    return _editor_page(request, context)


@require_POST
@staff_required
def policy_simulate_view(request: AuthenticatedRequest) -> HttpResponse:
    """Simulate the editor's policy on today's book, before anything is saved."""
    _require_role(request, POLICY_DRAFTERS)
    context = _editor(request, save=False)
    if "rules" in context:
        context["simulation"] = _simulation(context["rules"])
    return _editor_page(request, context)


# --- a borrower's scores and limit decisions --------------------------------------------------


def _visible_borrower_id(request: AuthenticatedRequest, borrower_id: int) -> int:
    if not borrower_visible_to(user=request.user).filter(pk=borrower_id).exists():
        raise Http404("No such borrower.")
    return borrower_id


def _score_reasons(codes: Iterable[str]) -> list[dict[str, Any]]:
    return [{"code": code, "sentence": SCORE_REASONS.get(code, UNKNOWN).sentence} for code in codes]


def _decision_reasons(codes: Iterable[str]) -> list[dict[str, Any]]:
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
    return _figure(
        list(lines.values()),
        {
            "height": 200,
            "xaxis": {"type": "date", "tickformat": "%Y-%m-%d"},
            "yaxis": {"title": {"text": gettext("Score")}},
            "legend": {"orientation": "h", "y": 1.2},
            "margin": {"t": 30, "r": 10, "l": 50, "b": 40},
        },
    )


@require_GET
@staff_required
def borrower_score(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """The score panel of the staff borrower page (loaded by htmx; a page of its own without)."""
    _visible_borrower_id(request, borrower_id)
    scores = list(
        Score.objects.filter(borrower_id=borrower_id)
        .select_related("model")
        .order_by("-scored_at", "-id")[:60]
    )
    current = next((s for s in scores if s.acting), None)
    decisions = list(
        LimitDecision.objects.filter(borrower_id=borrower_id)
        .select_related("policy")
        .order_by("-decided_at", "-id")[:10]
    )
    active = _active_policy()
    context: dict[str, Any] = {
        "borrower_id": borrower_id,
        "current": current,
        "active": active,
        "decisions": [{"decision": d, "reasons": _decision_reasons(d.reasons)} for d in decisions],
        "history_figure": _history_figure(scores) if len(scores) > 1 else None,
    }
    if current is not None:
        rules = policy_rules(active.rules if active else DEFAULT_RULES)
        context["band"] = rules.band_for(current.total).name
        context["reasons"] = _score_reasons(current.reasons)
        order = {name: n for n, name in enumerate(FEATURE_SPECS)}
        context["inputs"] = [
            {
                "name": name,
                "description": _feature_label(name),
                "value": item.get("value"),
                "points": item.get("points"),
            }
            for name, item in sorted(
                current.inputs.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])
            )
        ]
    template = _fragment(request, "decisions/borrower_score.html", "score-panel")
    return render(request, template, context)


@require_GET
@login_required
def borrower_reasons(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """Why a borrower's limit is what it is, in plain sentences: the latest limit decision's
    reasons and the score's top reasons (at most BORROWER_REASONS). A borrower login may ask
    for its own id only (404 otherwise); staff may read any."""
    _visible_borrower_id(request, borrower_id)
    decision = (
        LimitDecision.objects.filter(borrower_id=borrower_id).order_by("-decided_at", "-id").first()
    )
    score = (
        Score.objects.filter(borrower_id=borrower_id, acting=True)
        .order_by("-scored_at", "-id")
        .first()
    )
    context = {
        "decision": decision,
        "decision_reasons": _decision_reasons(decision.reasons) if decision else [],
        "score_reasons": _score_reasons(score.reasons[:BORROWER_REASONS]) if score else [],
    }
    template = _fragment(request, "decisions/borrower_reasons.html", "reasons-panel")
    return render(request, template, context)
