"""Reads of limit-policy versions for the pages: the list, a version's rules laid out against
the policy in force, the editor's starting point, and stored simulations as a page shows them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from core.prepared import Prepared
from decisions.choices import LimitAction, PolicyStatus
from decisions.forms import SCALARS, PolicyForm
from decisions.models import LimitPolicy, PolicySimulation, SimulationStatus
from decisions.policy import DEFAULT_RULES, rules_document
from decisions.selectors.charts import ACTION_COLOURS, CHART_CONFIG
from lending.choices import Purpose

# A simulation still queued or running this long after it was asked for will not finish (its
# worker died or its task was lost): the page says so and offers to run it again. The task's
# own time limit is 30 minutes.
SIMULATION_GIVE_UP = timedelta(minutes=35)


def policy_list() -> QuerySet[LimitPolicy]:
    """Every limit policy version, newest first, with who drafted and who approved it."""
    return LimitPolicy.objects.select_related("created_by", "approved_by").order_by("-version")


def policy_in_force() -> LimitPolicy | None:
    """The active policy version, if any."""
    return LimitPolicy.objects.filter(status=PolicyStatus.ACTIVE).first()


# Read on every drawdown check, so precompiled (core.prepared).
_DOCUMENT_IN_FORCE = Prepared(
    lambda: (
        LimitPolicy.objects.filter(status=PolicyStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", "rules")[:1]
    ),
    {},
)


def policy_document_in_force() -> tuple[int, Any] | None:
    """The id and document of policy_in_force(), if any, without the model around them."""
    rows = _DOCUMENT_IN_FORCE.rows()
    return rows[0] if rows else None


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


def purpose_label(purpose: str) -> str:
    """A drawdown purpose in this language."""
    return str(dict(Purpose.choices).get(purpose, purpose))


def policy_rules_compared(
    document: Mapping[str, Any], compared: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A policy document laid out for reading, each value marked where it differs from
    `compared` (the policy in force; None: nothing is marked)."""
    merged = rules_document(document)
    base = rules_document(compared) if compared is not None else None
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
            "purpose": purpose_label(purpose),
            "cells": _cells(
                rule,
                old_scenarios.get(purpose) if base else None,
                ("min_score", "max_share_of_limit", "max_term_months"),
            ),
        }
        for purpose, rule in merged["scenarios"].items()
    ]
    return {"scalars": scalars, "bands": bands, "scenarios": scenarios}


def policy_page(*, policy: LimitPolicy) -> dict[str, Any]:
    """A version's page: its rules marked against the policy in force, and that policy."""
    active = policy_in_force()
    compared = active.rules if active is not None and active.pk != policy.pk else None
    return {"active": active, "rules": policy_rules_compared(policy.rules, compared)}


def policy_editor_base(base_id: Any) -> tuple[LimitPolicy | None, dict[str, Any]]:
    """The version a draft starts from, and its rules: the one named, else the policy in force,
    else the default rules (None)."""
    policy = None
    if str(base_id or "").isdigit():
        policy = LimitPolicy.objects.filter(pk=int(base_id)).first()
    if policy is None:
        policy = policy_in_force()
    if policy is None:
        return None, dict(DEFAULT_RULES)
    return policy, rules_document(policy.rules)


# --- stored simulations -------------------------------------------------------------------------


def simulation_visible_to(*, user: Any) -> QuerySet[PolicySimulation]:
    """The simulations a login may read: every one for risk staff (they change nothing and
    hold no personal data), none for anyone else."""
    if not getattr(user, "is_active", False) or not getattr(user, "is_risk_staff", False):
        return PolicySimulation.objects.none()
    return PolicySimulation.objects.select_related("policy", "requested_by")


def simulation_latest(*, policy: LimitPolicy) -> PolicySimulation | None:
    """The newest simulation of a stored version, if any."""
    return (
        PolicySimulation.objects.filter(policy=policy)
        .select_related("policy", "requested_by")
        .order_by("-requested_at", "-id")
        .first()
    )


def _amounts(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: Decimal(value) if ("exposure" in key or key == "change") else value
        for key, value in row.items()
    }


def simulation_figure(figure: Mapping[str, Any]) -> dict[str, Any]:
    """The simulation's chart with its words in this language and the actions' colours."""
    names = {**dict(LimitAction.choices), "exposure change": gettext("Change in exposure")}
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
    return {"data": data, "layout": layout, "config": CHART_CONFIG}


def simulation_shown(simulation: PolicySimulation) -> dict[str, Any]:
    """A stored simulation as the page shows it: its state (whether the page keeps polling)
    and, once done, the table (amounts as Decimal) and the chart in this language."""
    pending = simulation.status in (SimulationStatus.QUEUED, SimulationStatus.RUNNING)
    lost = pending and timezone.now() - simulation.requested_at > SIMULATION_GIVE_UP
    shown: dict[str, Any] = {
        "record": simulation,
        "pending": pending and not lost,
        "lost": lost,
        "failed": simulation.status == SimulationStatus.FAILED,
    }
    result = simulation.result
    if simulation.status == SimulationStatus.DONE and result:
        shown["rows"] = [_amounts(row) for row in result["rows"]]
        shown["totals"] = _amounts(result["totals"])
        shown["figure"] = simulation_figure(result["figure"])
    return shown
