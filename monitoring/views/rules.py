"""Rule pages: the rules list, a rule's page (its versions, backtests, shadow comparison, live
precision and lift, the test panel), the version editor and the buttons that move a version.

Every risk staff member reads these pages; a manager, the head of risk or an administrator
(monitoring.services.rules.RULE_EDITOR_ROLES) drafts, shadows, activates, retires and runs
backtests (the services re-check). Charts are Plotly figure dicts emitted with json_script
and drawn by static/js/charts.js.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from monitoring.choices import RuleKind, RuleVersionStatus
from monitoring.errors.rules import RuleParamsInvalid
from monitoring.forms.rules import BacktestForm, TestPanelForm, VersionForm
from monitoring.models import Backtest, Rule, RuleVersion
from monitoring.models.shadow import BacktestStatus
from monitoring.rules.registry import rule_spec
from monitoring.selectors.rules import (
    SampleInvalid,
    backtests_of,
    live_lift,
    rule_rows,
    rule_versions,
    version_precision,
    version_try,
)
from monitoring.services import graph  # noqa: F401 - registers the ring rule's thresholds
from monitoring.services.backtest import BACKTEST_ROLES, backtest_request
from monitoring.services.graph import RingParamsInvalid, ring_params
from monitoring.services.rules import (
    RULE_EDITOR_ROLES,
    rule_version_activate,
    rule_version_draft,
    rule_version_retire,
    rule_version_shadow,
)
from monitoring.services.shadow import shadow_comparison

CHART_CONFIG = {"displayModeBar": False, "responsive": True}
# The buttons that move a version, by the status it is in.
VERSION_ACTIONS: dict[str, list[tuple[str, Any]]] = {
    RuleVersionStatus.DRAFT: [
        ("shadow", _("Run in shadow")),
        ("activate", _("Activate")),
        ("retire", _("Retire")),
    ],
    RuleVersionStatus.SHADOW: [("activate", _("Activate")), ("retire", _("Stop the shadow"))],
    RuleVersionStatus.ACTIVE: [("retire", _("Retire (switch the rule off)"))],
    RuleVersionStatus.RETIRED: [],
}
# The services behind the buttons that take a note (shadowing takes none).
SERVICES: dict[str, Callable[..., RuleVersion]] = {
    "activate": rule_version_activate,
    "retire": rule_version_retire,
}


def _fragment(request: AuthenticatedRequest, template: str, name: str) -> str:
    """The partial for an htmx request, the whole page otherwise (STYLE §10)."""
    if request.htmx and not request.htmx.boosted:
        return f"{template}#{name}"
    return template


def _rule(kind: str) -> Rule:
    if kind not in RuleKind.values:
        raise Http404
    return get_object_or_404(Rule, kind=kind)


def _is_editor(request: AuthenticatedRequest) -> bool:
    return request.user.role in RULE_EDITOR_ROLES


@require_GET
@staff_required
def rule_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every rule: kind, category, active version, severity, on/off, recent alerts,
    precision and lift."""
    return render(
        request,
        "monitoring/rules/rule_list.html",
        {"rows": rule_rows(), "can_edit": _is_editor(request)},
    )


def _backtest_figure(backtest: Backtest) -> dict[str, Any] | None:
    """Alerts a day over the window, and the two bad rates side by side."""
    if backtest.status != BacktestStatus.DONE:
        return None
    by_day = backtest.result.get("by_day", [])
    data: list[dict[str, Any]] = [
        {
            "type": "bar",
            "name": gettext("Alerts a day"),
            "x": [day for day, _n in by_day],
            "y": [n for _day, n in by_day],
            "marker": {"color": "#1b5a8c"},
        }
    ]
    rates = [backtest.hit_bad_rate, backtest.base_rate]
    if all(rate is not None for rate in rates):
        data.append(
            {
                "type": "bar",
                "name": gettext("30+ DPD rate"),
                "x": [gettext("Alerted"), gettext("All judged")],
                "y": [float(rate) * 100 for rate in rates if rate is not None],
                "xaxis": "x2",
                "yaxis": "y2",
                "marker": {"color": ["#c0392b", "#9aa5b5"]},
                "text": [f"{float(rate) * 100:.1f}%" for rate in rates if rate is not None],
                "textposition": "auto",
            }
        )
    layout = {
        "margin": {"t": 10, "r": 10, "l": 45, "b": 40},
        "height": 240,
        "showlegend": False,
        "grid": {"rows": 1, "columns": 2},
        "xaxis": {"domain": [0, 0.68], "type": "date"},
        "yaxis": {"title": {"text": gettext("Alerts")}},
        "xaxis2": {"domain": [0.76, 1], "anchor": "y2"},
        "yaxis2": {"anchor": "x2", "title": {"text": "%"}, "rangemode": "tozero"},
    }
    return {"data": data, "layout": layout, "config": CHART_CONFIG}


def _detail_context(request: AuthenticatedRequest, rule: Rule) -> dict[str, Any]:
    versions = list(rule_versions(rule))
    precision = version_precision([v.pk for v in versions])
    shadow = next((v for v in versions if v.status == RuleVersionStatus.SHADOW), None)
    active = next((v for v in versions if v.status == RuleVersionStatus.ACTIVE), None)
    can_edit = _is_editor(request)
    rows = [
        {
            "version": v,
            "precision": precision[v.pk],
            "actions": VERSION_ACTIONS.get(v.status, []) if can_edit else [],
        }
        for v in versions
    ]
    candidates = rule.versions.exclude(status=RuleVersionStatus.RETIRED).order_by("-version")
    backtests = backtests_of(rule)
    return {
        "rule": rule,
        "spec": rule_spec(rule.kind),
        "rows": rows,
        "active": active,
        "shadow": shadow,
        "comparison": shadow_comparison(shadow=shadow) if shadow else None,
        "backtests": [(b, _backtest_figure(b), f"fig-backtest-{b.pk}") for b in backtests],
        "polling": any(
            b.status in {BacktestStatus.QUEUED, BacktestStatus.RUNNING} for b in backtests
        ),
        # Preselected: the version a manager is weighing (in shadow), else the live one.
        "backtest_form": BacktestForm(
            versions=rule.versions.order_by("-version"), initial={"version": shadow or active}
        ),
        "test_form": TestPanelForm(versions=candidates, initial={"version": shadow or active}),
        "can_edit": can_edit,
        "can_backtest": request.user.role in BACKTEST_ROLES,
        "realtime": rule_spec(rule.kind).realtime,
    }


@require_GET
@staff_required
def rule_detail(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """One rule: versions with their thresholds, who and when; evidence before and after a
    version goes live."""
    rule = _rule(kind)
    return render(request, "monitoring/rules/rule_detail.html", _detail_context(request, rule))


@require_GET
@staff_required
def rule_live(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """The active version's lift since it went live (a book-wide read, loaded after the page,
    cached)."""
    rule = _rule(kind)
    active = rule.versions.filter(status=RuleVersionStatus.ACTIVE).first()
    figures = live_lift(active) if active else None
    return render(
        request,
        "monitoring/rules/rule_detail.html#live-lift",
        {"rule": rule, "active": active, "live": figures},
    )


@require_GET
@staff_required
def backtest_panel(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """The backtests panel alone: polled by htmx while one is queued or running."""
    rule = _rule(kind)
    backtests = backtests_of(rule)
    context = {
        "rule": rule,
        "backtests": [(b, _backtest_figure(b), f"fig-backtest-{b.pk}") for b in backtests],
        "polling": any(
            b.status in {BacktestStatus.QUEUED, BacktestStatus.RUNNING} for b in backtests
        ),
    }
    return render(request, "monitoring/rules/rule_detail.html#backtest-list", context)


@require_POST
@staff_required
def backtest_start(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """Queue a backtest of a version over a past window (a manager)."""
    rule = _rule(kind)
    if request.user.role not in BACKTEST_ROLES:
        raise PermissionDenied
    form = BacktestForm(request.POST, versions=rule.versions.all())
    if form.is_valid():
        start, end = form.window()
        try:
            backtest_request(
                actor=request.user,
                version=form.cleaned_data["version"],
                window_start=start,
                window_end=end,
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
    if form.errors:
        context = _detail_context(request, rule) | {"backtest_form": form}
        return render(
            request,
            _fragment(request, "monitoring/rules/rule_detail.html", "backtests"),
            context,
            status=400 if not request.htmx else 200,
        )
    if request.htmx:
        return render(
            request,
            "monitoring/rules/rule_detail.html#backtests",
            _detail_context(request, rule),
        )
    messages.success(request, gettext("Backtest queued."))
    return redirect("monitoring:rule-detail", kind=rule.kind)


@require_POST
@staff_required
def test_panel(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """Run a version on a sample event and show the hits with their evidence; nothing is
    recorded."""
    rule = _rule(kind)
    form = TestPanelForm(request.POST, versions=rule.versions.all())
    hits: list[Any] | None = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            hits = version_try(
                version=data["version"],
                event_id=data.get("event_id") or "",
                customer_no=data.get("customer_no") or "",
                kind=data.get("kind") or "",
                amount=data.get("amount"),
                occurred_at=data.get("occurred_at"),
                counterparty_is_lender=bool(data.get("counterparty_is_lender")),
            )
        except SampleInvalid as exc:
            field = exc.extra.get("field")
            form.add_error(field if field in form.fields else None, exc.message)
    context = {"rule": rule, "test_form": form, "hits": hits, "tried": True}
    if request.htmx:
        return render(request, "monitoring/rules/rule_detail.html#test-panel", context)
    return render(
        request, "monitoring/rules/rule_detail.html", _detail_context(request, rule) | context
    )


@require_http_methods(["GET", "POST"])
@staff_required
def version_new(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """The version editor: a new version from the current one (a manager)."""
    rule = _rule(kind)
    if not _is_editor(request):
        raise PermissionDenied
    spec = rule_spec(rule.kind)
    current = (
        rule.versions.filter(status=RuleVersionStatus.ACTIVE).first()
        or rule.versions.order_by("-version").first()
    )
    form = VersionForm(request.POST or None, params=spec.params, current=current)
    if request.method == "POST" and form.is_valid():
        params = form.params()
        try:
            if rule.kind == RuleKind.LINKED_IDENTITIES:
                ring_params(params)  # the ring rule's own cross-field checks
            version = rule_version_draft(
                actor=request.user,
                rule=rule,
                params=params,
                severity=form.cleaned_data["severity"],
                enabled=form.cleaned_data["enabled"],
                note=form.cleaned_data["note"],
            )
        except RuleParamsInvalid as exc:
            form.add_param_errors(exc.extra.get("errors", {}))
        except RingParamsInvalid as exc:
            form.add_param_errors({exc.extra["field"]: exc.message})
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                gettext(
                    "Version %(version)s drafted: run it in shadow, backtest it, or activate it."
                )
                % {"version": version.version},
            )
            return redirect("monitoring:rule-detail", kind=rule.kind)
    return render(
        request,
        "monitoring/rules/version_form.html",
        {"rule": rule, "form": form, "current": current},
        status=400 if form.errors else 200,
    )


@require_POST
@staff_required
def version_action(request: AuthenticatedRequest, kind: str, number: int) -> HttpResponse:
    """Shadow, activate or retire a version (a manager; the service re-checks)."""
    rule = _rule(kind)
    if not _is_editor(request):
        raise PermissionDenied
    version = get_object_or_404(RuleVersion, rule=rule, version=number)
    action = request.POST.get("action", "")
    if action not in {"shadow", *SERVICES}:
        messages.error(request, gettext("Unknown action."))
        return redirect("monitoring:rule-detail", kind=rule.kind)
    try:
        if action == "shadow":
            rule_version_shadow(actor=request.user, version=version)
        else:
            note = request.POST.get("note", "")[:500]
            SERVICES[action](actor=request.user, version=version, note=note)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            {
                "shadow": gettext("Version %(version)s runs in shadow."),
                "activate": gettext("Version %(version)s is live."),
                "retire": gettext("Version %(version)s is retired."),
            }[action]
            % {"version": version.version},
        )
    return redirect("monitoring:rule-detail", kind=rule.kind)
