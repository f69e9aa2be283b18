"""Limit policy pages: the versions, one version against the policy in force, the editor
(simulate, then save a draft), activation by the head of risk, and simulations.

A simulation runs in a Celery worker (decisions.services.simulations): the page asks for one,
shows "running" and polls the simulation's URL with htmx until the result is stored.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from decisions.forms import (
    SCALARS,
    BandFormSet,
    PolicyForm,
    ScenarioFormSet,
    policy_document,
    policy_initial,
)
from decisions.models import LimitPolicy, PolicySimulation
from decisions.policy import PolicyInvalid, policy_rules
from decisions.selectors import (
    policy_editor_base,
    policy_list,
    policy_page,
    purpose_label,
    simulation_latest,
    simulation_shown,
    simulation_visible_to,
)
from decisions.services import POLICY_APPROVERS, POLICY_DRAFTERS, policy_activate, policy_draft
from decisions.services.simulations import policy_simulation_request
from decisions.views._common import fragment, require_role


@require_GET
@staff_required
def policy_list_view(request: AuthenticatedRequest) -> HttpResponse:
    """Every limit policy version: who drafted and who approved it, and when."""
    context = {
        "policies": policy_list(),
        "can_draft": request.user.role in POLICY_DRAFTERS,
        "can_activate": request.user.role in POLICY_APPROVERS,
    }
    return render(request, "decisions/policy_list.html", context)


def _activate_context(request: AuthenticatedRequest, policy: LimitPolicy) -> dict[str, Any]:
    return {"policy": policy, "can_activate": request.user.role in POLICY_APPROVERS}


def _simulation_context(policy: LimitPolicy) -> dict[str, Any]:
    """The simulation panel of a stored version: its latest simulation and the run button."""
    latest = simulation_latest(policy=policy)
    return {
        "simulation": simulation_shown(latest) if latest else None,
        "run_url": reverse("decisions:policy-simulation", args=[policy.pk]),
    }


@require_GET
@staff_required
def policy_detail(request: AuthenticatedRequest, policy_id: int) -> HttpResponse:
    """One policy version's rules, marked where they differ from the policy in force."""
    policy = get_object_or_404(policy_list(), pk=policy_id)
    context = {
        **_activate_context(request, policy),
        **policy_page(policy=policy),
        **_simulation_context(policy),
        "can_draft": request.user.role in POLICY_DRAFTERS,
    }
    return render(request, "decisions/policy_detail.html", context)


@require_POST
@staff_required
def policy_activate_view(request: AuthenticatedRequest, policy_id: int) -> HttpResponse:
    """The head of risk puts a draft in force; a refusal (four eyes) is shown in the panel."""
    require_role(request, POLICY_APPROVERS)
    policy = get_object_or_404(policy_list(), pk=policy_id)
    error = ""
    try:
        policy = policy_activate(
            actor=request.user, policy=policy, note=request.POST.get("note", "")[:500]
        )
    except DomainError as exc:
        error = exc.message
    policy = get_object_or_404(policy_list(), pk=policy_id)  # the state that won, with its people
    context = {**_activate_context(request, policy), "error": error, "done": not error}
    if request.htmx:
        return render(request, "decisions/policy_detail.html#activate-panel", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, gettext("Version %(v)s is in force.") % {"v": policy.version})
    return redirect("decisions:policy-detail", policy_id=policy.pk)


# --- simulations --------------------------------------------------------------------------------


def _simulation_page(request: AuthenticatedRequest, context: dict[str, Any]) -> HttpResponse:
    if request.htmx and not request.htmx.boosted:
        return render(request, "decisions/partials/simulation.html", context)
    return render(request, "decisions/policy_simulation.html", context)


def _fresh(simulation: PolicySimulation) -> dict[str, Any]:
    # Re-read: with an eager worker (tests, a laptop) the result is already stored.
    simulation.refresh_from_db()
    return simulation_shown(simulation)


@require_http_methods(["GET", "POST"])
@staff_required
def policy_version_simulation(request: AuthenticatedRequest, policy_id: int) -> HttpResponse:
    """A stored version's simulation on today's book: GET shows the latest one (running, or
    its result), POST asks a worker for a new one. Any staff member: it changes nothing."""
    policy = get_object_or_404(policy_list(), pk=policy_id)
    context: dict[str, Any] = {"policy": policy, **_simulation_context(policy)}
    if request.method == "POST":
        try:
            simulation = policy_simulation_request(
                actor=request.user, rules=policy.rules, policy=policy
            )
        except DomainError as exc:
            context["error"] = exc.message
        else:
            if not request.htmx:
                return redirect("decisions:policy-simulation", policy_id=policy.pk)
            context["simulation"] = _fresh(simulation)
    return _simulation_page(request, context)


@require_GET
@staff_required
def simulation_detail(request: AuthenticatedRequest, simulation_id: int) -> HttpResponse:
    """One simulation: "running" while a worker computes it (htmx polls this URL), then its
    result. Any staff member."""
    simulation = get_object_or_404(simulation_visible_to(user=request.user), pk=simulation_id)
    context: dict[str, Any] = {
        "policy": simulation.policy,
        "simulation": simulation_shown(simulation),
    }
    if simulation.policy is not None:
        context["run_url"] = reverse("decisions:policy-simulation", args=[simulation.policy.pk])
    return _simulation_page(request, context)


# --- the editor ---------------------------------------------------------------------------------


def _editor(request: AuthenticatedRequest, *, save: bool) -> dict[str, Any]:
    """The editor's forms, bound on POST, and the document they describe when valid."""
    if request.method != "POST":
        base, rules = policy_editor_base(request.GET.get("from"))
        initial_scalars, initial_bands, initial_scenarios = policy_initial(rules)
        return {
            "form": PolicyForm(initial={**initial_scalars, "base": base.pk if base else None}),
            "bands": BandFormSet(initial=initial_bands, prefix="bands"),
            "scenarios": ScenarioFormSet(initial=initial_scenarios, prefix="scenarios"),
            "base": base,
        }
    base, rules = policy_editor_base(request.POST.get("base"))
    form = PolicyForm(request.POST, require_note=save)
    bands = BandFormSet(request.POST, prefix="bands")
    scenarios = ScenarioFormSet(request.POST, prefix="scenarios")
    context: dict[str, Any] = {"form": form, "bands": bands, "scenarios": scenarios, "base": base}
    if all([form.is_valid(), bands.is_valid(), scenarios.is_valid()]):
        document = policy_document(rules, form, bands.forms, scenarios.forms)
        try:
            policy_rules(document)
        except PolicyInvalid as exc:
            context["error"] = str(exc)  # in this page's language
        else:
            context["document"] = document
    else:
        context["error"] = gettext("Some values are missing or not numbers: see the marked fields.")
    return context


def _editor_page(request: AuthenticatedRequest, context: dict[str, Any]) -> HttpResponse:
    context["scalar_fields"] = [context["form"][name] for name in SCALARS]
    context["scenario_rows"] = [
        (f, purpose_label(f["purpose"].value() or "")) for f in context["scenarios"].forms
    ]
    template = fragment(request, "decisions/policy_draft.html", "policy-editor")
    status = 200 if not context.get("error") or request.htmx else 400
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def policy_draft_view(request: AuthenticatedRequest) -> HttpResponse:
    """A manager edits a copy of the policy in force (or ?from=<version id>) and saves it as a
    new draft, which the head of risk may then activate."""
    require_role(request, POLICY_DRAFTERS)
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
    """Simulate the editor's policy on today's book, before anything is saved: a worker
    computes it and the editor's simulation panel polls until the result is there."""
    require_role(request, POLICY_DRAFTERS)
    context = _editor(request, save=False)
    if "document" in context:
        try:
            simulation = policy_simulation_request(actor=request.user, rules=context["document"])
        except DomainError as exc:
            context["error"] = exc.message
        else:
            context["simulation"] = _fresh(simulation)
    return _editor_page(request, context)
