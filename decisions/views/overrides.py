"""Override pages: propose a change from the borrower page, the approver's queue (what this
person may decide, oldest first), one proposal with the borrower's score and recent behaviour
and the decision form, the proposer's resubmission, evidence files, the head of risk's
authority matrix and reason list, and the performance report.

Every page is risk staff only; deciding is checked by the service (authority matrix, four
eyes, step-up), whose refusal is shown in place. A decision that lost a race shows what
happened instead.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.choices import Role
from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from decisions.errors.overrides import AlreadyDecided
from decisions.forms.overrides import AuthorityRuleForm, DecisionForm, ProposalForm
from decisions.models.overrides import (
    AuthorityRule,
    Direction,
    OverrideKind,
    OverrideProposal,
    OverrideReason,
    OverrideStatus,
)
from decisions.selectors.overrides import (
    borrower_behaviour,
    inbox_for,
    next_in_inbox,
    override_performance,
    proposal_for,
    proposals_all,
    proposals_by,
    proposals_for_borrower,
)
from decisions.services import (
    authority_rule_save,
    override_approve,
    override_propose,
    override_reason_save,
    override_reject,
    override_request_changes,
    override_resubmit,
    override_withdraw,
)
from decisions.services.override_admin import MATRIX_EDITORS
from decisions.services.override_evidence import download_name, evidence_path
from decisions.services.overrides import (
    APPROVER_ROLES,
    active_rules,
    change_of,
    may_decide,
    needs_step_up,
    roles_needed,
    sla_hours,
)
from decisions.views._common import require_role
from lending.models import CreditLine

TEMPLATES = "decisions/overrides/"


@require_GET
@staff_required
def inbox(request: AuthenticatedRequest) -> HttpResponse:
    """The approver's queue, and the proposals this person made (those sent back first)."""
    mine = list(proposals_by(request.user)[:50])
    mine.sort(key=lambda p: p.status != OverrideStatus.CHANGES_REQUESTED)
    context = {
        "items": inbox_for(request.user),
        "mine": mine,
        "sla_hours": sla_hours(),
        "is_approver": request.user.role in APPROVER_ROLES,
        "can_edit_matrix": request.user.role in MATRIX_EDITORS,
    }
    return render(request, TEMPLATES + "inbox.html", context)


@require_GET
@staff_required
def queue_panel(request: AuthenticatedRequest) -> HttpResponse:
    """The top of the approver's queue, for the home page (pulled by URL)."""
    items = inbox_for(request.user)
    context = {"items": items[:5], "total": len(items), "sla_hours": sla_hours()}
    return render(request, TEMPLATES + "queue_panel.html", context)


@require_GET
@staff_required
def all_proposals(request: AuthenticatedRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status and status not in OverrideStatus.values:
        status = ""
    context = {
        "proposals": proposals_all(status=status)[:200],
        "status": status,
        "statuses": OverrideStatus.choices,
    }
    return render(request, TEMPLATES + "list.html", context)


@require_GET
@staff_required
def next_item(request: AuthenticatedRequest) -> HttpResponse:
    proposal = next_in_inbox(request.user)
    if proposal is None:
        messages.info(request, _("Nothing left in your queue."))
        return redirect("decisions:override-inbox")
    return redirect("decisions:override-detail", proposal.pk)


def _detail_context(request: AuthenticatedRequest, proposal: OverrideProposal) -> dict[str, Any]:
    user = request.user
    can_decide = may_decide(user, proposal)
    return {
        "p": proposal,
        "behaviour": borrower_behaviour(proposal.borrower_id),
        "evidence": list(proposal.evidence.all()),
        "can_decide": can_decide,
        "step_up": can_decide and needs_step_up(user, proposal),
        "needed": [Role(r).label for r in roles_needed(change_of(proposal), active_rules())],
        "is_proposer": proposal.proposed_by_id == user.pk,
        "form": DecisionForm(initial={"go_next": True}),
    }


@require_GET
@staff_required
def detail(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = proposal_for(request.user, pk)
    return render(request, TEMPLATES + "detail.html", _detail_context(request, proposal))


DECIDE = {
    "approve": override_approve,
    "reject": override_reject,
    "changes": override_request_changes,
}


@require_POST
@staff_required
def decide(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Approve, reject or request changes. A refusal is shown on the page; a lost race shows
    the proposal as the other decision left it."""
    proposal = proposal_for(request.user, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        raise PermissionDenied  # the page only sends these actions
    action = form.cleaned_data["action"]
    kwargs: dict[str, Any] = {"actor": request.user, "proposal": proposal}
    kwargs["note"] = form.cleaned_data["note"]
    if action == "approve":
        kwargs["password"] = form.cleaned_data["password"] or None
    try:
        DECIDE[action](**kwargs)
    except AlreadyDecided as exc:
        proposal.refresh_from_db()
        messages.warning(request, exc.message)
        return redirect("decisions:override-detail", pk)
    except DomainError as exc:
        context = _detail_context(request, proposal)
        context["form"] = form
        context["error"] = exc.message
        return render(request, TEMPLATES + "detail.html", context, status=409)
    done = {
        "approve": _("Proposal #%(n)s approved and applied to the line."),
        "reject": _("Proposal #%(n)s rejected."),
        "changes": _("Proposal #%(n)s sent back to its proposer."),
    }[action]
    messages.success(request, done % {"n": pk})
    if form.cleaned_data["go_next"]:
        return redirect("decisions:override-next")
    return redirect("decisions:override-detail", pk)


@require_POST
@staff_required
def withdraw(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    proposal = proposal_for(request.user, pk)
    try:
        override_withdraw(actor=request.user, proposal=proposal, note=request.POST.get("note", ""))
        messages.success(request, _("Proposal withdrawn."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("decisions:override-detail", pk)


def _proposal_args(form: ProposalForm) -> dict[str, Any]:
    data = form.cleaned_data
    kind = data["kind"]
    limit_kinds = (OverrideKind.LIMIT, OverrideKind.TEMPORARY)
    return {
        "new_limit": data["new_limit"] if kind in limit_kinds else None,
        "until": data["until"] if kind == OverrideKind.TEMPORARY else None,
        "reason_code": data["reason"].code,
        "justification": data["justification"],
        "evidence_files": data["evidence"],
    }


@require_http_methods(["GET", "POST"])
@staff_required
def propose(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """Propose a change to a borrower's line (also reached from a case with ?case=)."""
    line = get_object_or_404(CreditLine.objects.select_related("borrower"), borrower_id=borrower_id)
    case_ref = (request.GET.get("case") or request.POST.get("case_ref") or "")[:64]
    error = ""
    if request.method == "POST":
        form = ProposalForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                proposal = override_propose(
                    actor=request.user,
                    line=line,
                    kind=form.cleaned_data["kind"],
                    case_ref=case_ref,
                    **_proposal_args(form),
                )
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(
                    request, _("Proposal #%(n)s sent for approval.") % {"n": proposal.pk}
                )
                return redirect("decisions:override-detail", proposal.pk)
    else:
        form = ProposalForm(initial={"kind": request.GET.get("kind", OverrideKind.LIMIT)})
    context = {
        "form": form,
        "line": line,
        "error": error,
        "case_ref": case_ref,
        "behaviour": borrower_behaviour(borrower_id),
    }
    return render(request, TEMPLATES + "propose.html", context, status=409 if error else 200)


@require_http_methods(["GET", "POST"])
@staff_required
def resubmit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """The proposer edits a proposal sent back for changes and submits it again."""
    proposal = proposal_for(request.user, pk)
    if proposal.proposed_by_id != request.user.pk:
        raise PermissionDenied
    if proposal.status != OverrideStatus.CHANGES_REQUESTED:
        return redirect("decisions:override-detail", pk)
    error = ""
    if request.method == "POST":
        form = ProposalForm(request.POST, request.FILES, fixed_kind=proposal.kind)
        if form.is_valid():
            try:
                override_resubmit(actor=request.user, proposal=proposal, **_proposal_args(form))
            except DomainError as exc:
                error = exc.message
            else:
                messages.success(request, _("Proposal #%(n)s submitted again.") % {"n": pk})
                return redirect("decisions:override-detail", pk)
    else:
        form = ProposalForm(
            fixed_kind=proposal.kind,
            initial={
                "new_limit": proposal.new_limit,
                "until": proposal.until,
                "reason": proposal.reason.code,
                "justification": proposal.justification,
            },
        )
    context = {
        "form": form,
        "line": proposal.line,
        "p": proposal,
        "error": error,
        "behaviour": borrower_behaviour(proposal.borrower_id),
    }
    return render(request, TEMPLATES + "propose.html", context, status=409 if error else 200)


@require_GET
@staff_required
def evidence_file(request: AuthenticatedRequest, pk: int, evidence_id: int) -> HttpResponse:
    """An evidence file, to staff who may see the proposal, always as a download of its
    checked type (never rendered inline from our origin)."""
    proposal = proposal_for(request.user, pk)
    evidence = get_object_or_404(proposal.evidence.all(), pk=evidence_id)
    path = evidence_path(evidence)
    if not path.is_file():
        raise Http404
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=download_name(evidence),
        content_type=evidence.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return cast(HttpResponse, response)  # streamed; the decorators type views as HttpResponse


@require_GET
@staff_required
def borrower_panel(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """The borrower page's overrides panel (pulled by URL, as the score panel is)."""
    get_object_or_404(CreditLine, borrower_id=borrower_id)
    context = {
        "borrower_id": borrower_id,
        "proposals": list(proposals_for_borrower(borrower_id)[:10]),
    }
    return render(request, TEMPLATES + "borrower_panel.html", context)


@require_http_methods(["GET", "POST"])
@staff_required
def matrix(request: AuthenticatedRequest) -> HttpResponse:
    """The authority matrix and the reason list: every staff member reads them; the head of
    risk changes them (one row per form)."""
    can_edit = request.user.role in MATRIX_EDITORS
    error = ""
    if request.method == "POST":
        require_role(request, MATRIX_EDITORS)
        which = request.POST.get("which")
        try:
            if which == "rule":
                rule_id = request.POST.get("rule_id")
                rule = get_object_or_404(AuthorityRule, pk=rule_id) if rule_id else None
                form = AuthorityRuleForm(request.POST, instance=rule)
                if not form.is_valid():
                    raise _FormInvalid(form)
                values = {f: form.cleaned_data[f] for f in form.Meta.fields}
                authority_rule_save(actor=request.user, rule=rule, values=values)
            elif which == "reason":
                reason_id = request.POST.get("reason_id")
                reason = get_object_or_404(OverrideReason, pk=reason_id) if reason_id else None
                override_reason_save(
                    actor=request.user,
                    reason=reason,
                    code=request.POST.get("code", reason.code if reason else ""),
                    label=request.POST.get("label", ""),
                    label_zh=request.POST.get("label_zh", ""),
                    active=bool(request.POST.get("active")),
                    position=int(request.POST.get("position") or 100),
                )
            else:
                raise PermissionDenied
        except DomainError as exc:
            error = exc.message
        except _FormInvalid as exc:
            error = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.form.errors.items())
        except ValueError:
            error = _("Enter whole numbers for the order.")
        else:
            messages.success(request, _("Saved."))
            return redirect("decisions:override-matrix")
    # Increases first, then cuts, freezes, unfreezes; within each, the lowest role first.
    order = {d: n for n, d in enumerate(Direction.values)}
    rules = sorted(
        AuthorityRule.objects.all(),
        key=lambda r: (order.get(r.direction, 9), _role_rank(r.role), r.pk),
    )
    context = {
        "rows": [(r, AuthorityRuleForm(instance=r, auto_id=f"r{r.pk}_%s")) for r in rules],
        "new_rule": AuthorityRuleForm(),
        "reasons": list(OverrideReason.objects.all()),
        "can_edit": can_edit,
        "error": error,
    }
    return render(request, TEMPLATES + "matrix.html", context, status=409 if error else 200)


def _role_rank(role: str) -> int:
    return APPROVER_ROLES.index(role) if role in APPROVER_ROLES else len(APPROVER_ROLES)


class _FormInvalid(Exception):
    def __init__(self, form: Any) -> None:
        self.form = form


@require_GET
@staff_required
def report(request: AuthenticatedRequest) -> HttpResponse:
    try:
        dpd = max(1, min(int(request.GET.get("dpd", "30")), 180))
    except ValueError:
        dpd = 30
    return render(
        request,
        TEMPLATES + "report.html",
        {"r": override_performance(dpd_at_least=dpd), "dpd_choices": (1, 30, 90)},
    )
