"""Case pages: the queues and "my cases" lists (filters, sorting, bulk actions, CSV), the case
page with its actions and timeline, the manager's team view, and the live pulse fragment.

Thin: parse, call a service or selector, render. Every page is for active risk staff
(staff_required); the services re-check who may do what to which case. A refusal re-renders
the page with the message beside the form that caused it (409); success redirects (PRG).
"""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import masking
from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from monitoring.choices import CaseStatus, QueueKind
from monitoring.errors.cases import DocumentsRequired
from monitoring.filters import ACTIVE, CaseFilter
from monitoring.forms.cases import (
    BULK_ASSIGN,
    BULK_FIELDS,
    AssignForm,
    BulkForm,
    CommentForm,
    DocumentsRequestForm,
    EvidenceForm,
    LimitCutForm,
    LineFreezeForm,
    LineUnfreezeForm,
    ReopenForm,
    ResolveForm,
    SlaForm,
)
from monitoring.models import Case, CaseEvidence
from monitoring.selectors.cases import (
    case_pulse,
    case_timeline,
    case_visible_to,
    cases_annotate_sla,
    override_reasons,
    queue_stats,
    queue_visible_to,
    staff_assignees,
    team_throughput,
)
from monitoring.services.case_bulk import (
    cases_bulk_assign,
    cases_bulk_close,
    cases_export_record,
)
from monitoring.services.case_documents import (
    case_documents_received,
    case_documents_request,
    case_documents_withdraw,
)
from monitoring.services.case_evidence import (
    case_evidence_attach,
    case_evidence_served,
    evidence_path,
)
from monitoring.services.cases import (
    CASE_ASSIGNER_ROLES,
    CASE_SUPERVISOR_ROLES,
    case_assign,
    case_claim,
    case_comment,
    case_limit_cut_propose,
    case_line_freeze,
    case_line_unfreeze,
    case_next,
    case_release,
    case_reopen,
    case_resolve,
    queue_sla_set,
    queues_ensure,
)

PAGE_SIZE = 50
EXPORT_MAX_ROWS = 50_000


# --- lists ------------------------------------------------------------------------------------


def _filter_data(request: AuthenticatedRequest, *, kind: str = "", mine: bool = False) -> QueryDict:
    """The list's filter: the query string, with the page's fixed parts (its queue, "me") and
    the default status (not resolved) filled in."""
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = ACTIVE
    if kind:
        data["queue"] = kind
    if mine:
        data["assignee"] = "me"
    data.pop("page", None)
    return data


def _list_page(
    request: AuthenticatedRequest, *, kind: str = "", mine: bool = False
) -> HttpResponse:
    if kind and kind not in QueueKind.values:
        raise Http404("No such queue.")
    data = _filter_data(request, kind=kind, mine=mine)
    now = timezone.now()
    filterset = CaseFilter(data, queryset=case_visible_to(user=request.user), user=request.user)
    valid = filterset.is_valid()
    queryset = filterset.qs if valid else Case.objects.none()
    paginator = Paginator(queryset, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    cases_annotate_sla(list(page.object_list), now)
    query = data.copy()
    user = request.user
    queues = {q.kind: q for q in queues_ensure().values()}
    context = {
        "filter": filterset,
        "filter_valid": valid,
        "page": page,
        "total": paginator.count,
        "query_string": query.urlencode(),
        "filter_items": [(k, v) for k, values in query.lists() for v in values if k != "sort"],
        "kind": kind,
        "queue": queues.get(kind),
        "queues": sorted(queues.values(), key=lambda q: q.kind),
        "mine": mine,
        "now": now,
        "bulk_form": BulkForm(assignees=staff_assignees(), initial={"bulk_expected": 0}),
        "can_bulk_assign": user.role in CASE_ASSIGNER_ROLES,
        "can_bulk_close": user.role in CASE_SUPERVISOR_ROLES,
        "can_manage": user.role in CASE_SUPERVISOR_ROLES,
        "sla_form": SlaForm(initial={"sla_hours": queues[kind].sla_hours}) if kind else None,
    }
    template = "monitoring/cases/list.html"
    if request.htmx and not request.htmx.boosted and request.htmx.target == "case-table":
        template += "#case-table"
    # An invalid filter is a 400 with the message; to htmx a 200, which it swaps (it leaves
    # the old table in place on an error status, and the message would not show).
    status = 200 if valid or request.htmx else 400
    return render(request, template, context, status=status)


@require_GET
@staff_required
def case_list(request: AuthenticatedRequest) -> HttpResponse:
    """All queues' cases, filtered."""
    return _list_page(request)


@require_GET
@staff_required
def queue_cases(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """One queue's cases, with its "next case" button."""
    return _list_page(request, kind=kind)


@require_GET
@staff_required
def my_cases(request: AuthenticatedRequest) -> HttpResponse:
    """The cases assigned to the signed-in analyst."""
    return _list_page(request, mine=True)


def _csv_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would make it a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@staff_required
def case_export(request: AuthenticatedRequest) -> HttpResponse:
    """The filtered list as CSV, personal data masked; the export is audited (who, filter,
    how many rows)."""
    data = _filter_data(request)
    filterset = CaseFilter(data, queryset=case_visible_to(user=request.user), user=request.user)
    if not filterset.is_valid():
        messages.error(request, _("The filter is not valid; nothing was exported."))
        return redirect(reverse("monitoring:case-list") + "?" + data.urlencode())
    queryset = filterset.qs[:EXPORT_MAX_ROWS]
    rows = list(queryset)
    try:
        cases_export_record(actor=request.user, filters=data.dict(), rows=len(rows))
    except DomainError as exc:
        raise PermissionDenied(exc.message) from exc
    header = [
        _("Case"),
        _("Queue"),
        _("Category"),
        _("Status"),
        _("Priority"),
        _("Amount"),
        _("Opened at"),
        _("Due at"),
        _("Assignee"),
        _("Customer no."),
        _("Name"),
        _("Mobile"),
        _("Disposition"),
    ]

    def lines() -> Any:
        writer = csv.writer(_Echo())
        yield "\ufeff"  # Excel reads UTF-8 (Chinese names) only with a BOM
        yield writer.writerow(header)
        for case in rows:
            borrower = case.borrower
            yield writer.writerow(
                [
                    _csv_cell(v)
                    for v in (
                        case.pk,
                        case.queue.get_kind_display(),
                        case.get_category_display(),
                        case.get_status_display(),
                        case.priority,
                        case.exposure,
                        timezone.localtime(case.opened_at).isoformat(timespec="minutes"),
                        timezone.localtime(case.due_at).isoformat(timespec="minutes"),
                        case.assignee.get_username() if case.assignee else "",
                        borrower.customer_no,
                        masking.mask_name(borrower.name),
                        masking.mask_mobile(borrower.mobile),
                        case.get_disposition_display() if case.disposition else "",
                    )
                ]
            )

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="cases-{stamp}.csv"'
    return response  # type: ignore[return-value]  # streamed, as HttpResponse for the decorator


@require_POST
@staff_required
def case_bulk(request: AuthenticatedRequest) -> HttpResponse:
    """Assign or close every case the posted filter selects (the service re-applies it)."""
    form = BulkForm(request.POST, assignees=staff_assignees())
    filters = {k: str(v) for k, v in request.POST.items() if k not in BULK_FIELDS}
    filters.pop("csrfmiddlewaretoken", None)
    back = request.POST.get("next_url", "")
    filters.pop("next_url", None)
    if not back.startswith("/monitoring/"):
        back = reverse("monitoring:case-list")
    query = QueryDict(mutable=True)
    for key, value in filters.items():
        query[key] = value
    back_with_filter = back + "?" + query.urlencode()
    if not form.is_valid():
        messages.error(request, _("The bulk action was not understood; nothing was changed."))
        return redirect(back_with_filter)
    cleaned = form.cleaned_data
    try:
        if cleaned["bulk_action"] == BULK_ASSIGN:
            done = cases_bulk_assign(
                actor=request.user,
                filters=filters,
                assignee=cleaned["bulk_assignee"],
                expected=cleaned["bulk_expected"],
            )
        else:
            done = cases_bulk_close(
                actor=request.user,
                filters=filters,
                disposition=cleaned["bulk_disposition"],
                note=cleaned["bulk_note"],
                expected=cleaned["bulk_expected"],
            )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back_with_filter)
    messages.success(request, _("%(n)s case(s) changed.") % {"n": len(done)})
    return redirect(back_with_filter)


@require_POST
@staff_required
def case_next_view(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    """Pull the queue's most urgent unassigned case and open it."""
    queue = get_object_or_404(queue_visible_to(user=request.user), kind=kind)
    try:
        case = case_next(actor=request.user, queue=queue)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("monitoring:queue-cases", kind=kind)
    return redirect("monitoring:case-detail", case_id=case.pk)


@require_POST
@staff_required
def queue_sla_view(request: AuthenticatedRequest, kind: str) -> HttpResponse:
    queue = get_object_or_404(queue_visible_to(user=request.user), kind=kind)
    form = SlaForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the SLA in whole hours."))
    else:
        try:
            queue_sla_set(actor=request.user, queue=queue, sla_hours=form.cleaned_data["sla_hours"])
            messages.success(request, _("SLA saved; it applies to cases opened from now on."))
        except DomainError as exc:
            messages.error(request, exc.message)
    return redirect("monitoring:queue-cases", kind=kind)


# --- the case page ----------------------------------------------------------------------------


def _get_case(request: AuthenticatedRequest, case_id: int) -> Case:
    return get_object_or_404(case_visible_to(user=request.user), pk=case_id)


def _detail_context(request: AuthenticatedRequest, case: Case, **forms: Any) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    cases_annotate_sla([case], now)
    line = getattr(case.borrower, "line", None)
    is_mine = case.assignee_id == user.pk
    supervisor = user.role in CASE_SUPERVISOR_ROLES
    can_act = case.status != CaseStatus.RESOLVED and (
        case.assignee_id is None or is_mine or supervisor
    )
    return {
        "case": case,
        "borrower": case.borrower,
        "line": line,
        "timeline": case_timeline(case=case),
        "evidence": list(case.evidence.all()),
        "now": now,
        "is_mine": is_mine,
        "can_act": can_act,
        "can_assign": user.role in CASE_ASSIGNER_ROLES and case.status != CaseStatus.RESOLVED,
        "can_reopen": supervisor and case.status == CaseStatus.RESOLVED,
        "masked_name": masking.mask_name(case.borrower.name),
        "masked_mobile": masking.mask_mobile(case.borrower.mobile),
        "resolve_form": forms.get("resolve_form") or ResolveForm(),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "assign_form": forms.get("assign_form")
        or AssignForm(assignees=staff_assignees(), initial={"assignee": user.pk}),
        "reopen_form": forms.get("reopen_form") or ReopenForm(),
        "freeze_form": forms.get("freeze_form") or LineFreezeForm(),
        "unfreeze_form": forms.get("unfreeze_form") or LineUnfreezeForm(),
        "evidence_form": forms.get("evidence_form") or EvidenceForm(),
        "cut_form": forms.get("cut_form") or LimitCutForm(reasons=override_reasons()),
        "documents_form": forms.get("documents_form") or DocumentsRequestForm(),
        "error": forms.get("error", ""),
        "error_for": forms.get("error_for", ""),
    }


@require_GET
@staff_required
def case_detail(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    return render(request, "monitoring/cases/detail.html", _detail_context(request, case))


def _refused(
    request: AuthenticatedRequest, case_id: int, action: str, message: str, **forms: Any
) -> HttpResponse:
    case = _get_case(request, case_id)  # re-read: show the state that won
    context = _detail_context(request, case, error=message, error_for=action, **forms)
    return render(request, "monitoring/cases/detail.html", context, status=409)


def _done(case_id: int) -> HttpResponse:
    return redirect("monitoring:case-detail", case_id=case_id)


@require_POST
@staff_required
def case_claim_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    try:
        case_claim(actor=request.user, case=case)
    except DomainError as exc:
        return _refused(request, case_id, "claim", exc.message)
    return _done(case_id)


@require_POST
@staff_required
def case_release_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    try:
        case_release(actor=request.user, case=case)
    except DomainError as exc:
        return _refused(request, case_id, "claim", exc.message)
    return _done(case_id)


@require_POST
@staff_required
def case_assign_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    form = AssignForm(request.POST, assignees=staff_assignees())
    if not form.is_valid():
        return _refused(request, case_id, "assign", _("Choose a staff member."), assign_form=form)
    try:
        case_assign(actor=request.user, case=case, assignee=form.cleaned_data["assignee"])
    except DomainError as exc:
        return _refused(request, case_id, "assign", exc.message, assign_form=form)
    return _done(case_id)


@require_POST
@staff_required
def case_comment_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    form = CommentForm(request.POST)
    form.is_valid()
    try:
        case_comment(actor=request.user, case=case, body=form.cleaned_data.get("body", ""))
    except DomainError as exc:
        return _refused(request, case_id, "comment", exc.message, comment_form=form)
    return _done(case_id)


@require_POST
@staff_required
def case_evidence_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refused(request, case_id, "evidence", _("Choose a file."), evidence_form=form)
    upload = form.cleaned_data["file"]
    try:
        case_evidence_attach(actor=request.user, case=case, upload=upload, file_name=upload.name)
    except DomainError as exc:
        return _refused(request, case_id, "evidence", exc.message)
    return _done(case_id)


@require_GET
@staff_required
def case_evidence_download(
    request: AuthenticatedRequest, case_id: int, evidence_id: int
) -> HttpResponse:
    """Serve an evidence file to staff who may see its case, as a download (never rendered
    inline, so a crafted file cannot run in our origin); each opening is audited."""
    case = _get_case(request, case_id)
    evidence = get_object_or_404(CaseEvidence, pk=evidence_id, case=case)
    path = evidence_path(evidence)
    if not path.is_file():
        raise Http404("The file is missing from the evidence store.")
    case_evidence_served(actor=request.user, evidence=evidence)
    response = FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=evidence.file_name,
        content_type=evidence.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response  # type: ignore[return-value]  # a file, as HttpResponse for the decorator


@require_POST
@staff_required
def case_resolve_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    form = ResolveForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    try:
        case_resolve(
            actor=request.user,
            case=case,
            disposition=data.get("disposition") or request.POST.get("disposition", ""),
            note=data.get("note", ""),
        )
    except DomainError as exc:
        return _refused(request, case_id, "resolve", exc.message, resolve_form=form)
    messages.success(request, _("Case resolved."))
    return _done(case_id)


@require_POST
@staff_required
def case_reopen_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    case = _get_case(request, case_id)
    form = ReopenForm(request.POST)
    form.is_valid()
    try:
        case_reopen(actor=request.user, case=case, note=form.cleaned_data.get("note", ""))
    except DomainError as exc:
        return _refused(request, case_id, "reopen", exc.message, reopen_form=form)
    return _done(case_id)


@require_POST
@staff_required
def case_line_view(request: AuthenticatedRequest, case_id: int, action: str) -> HttpResponse:
    """Freeze or unfreeze the borrower's line from the case."""
    if action not in {"freeze", "unfreeze"}:
        raise Http404("No such line action.")
    case = _get_case(request, case_id)
    freeze = action == "freeze"
    form = LineFreezeForm(request.POST) if freeze else LineUnfreezeForm(request.POST)
    key = "freeze_form" if freeze else "unfreeze_form"
    if not form.is_valid():
        return _refused(request, case_id, "line", _("Choose a reason."), **{key: form})
    service = case_line_freeze if freeze else case_line_unfreeze
    try:
        service(actor=request.user, case=case, **form.cleaned_data)
    except DomainError as exc:
        return _refused(request, case_id, "line", exc.message, **{key: form})
    messages.success(request, _("Line frozen.") if freeze else _("Line unfrozen."))
    return _done(case_id)


@require_POST
@staff_required
def case_limit_cut_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    """Propose a limit cut through the override workflow; the proposal's page follows."""
    case = _get_case(request, case_id)
    form = LimitCutForm(request.POST, reasons=override_reasons())
    if not form.is_valid():
        return _refused(
            request, case_id, "cut", _("Give the new limit and a reason."), cut_form=form
        )
    try:
        proposal = case_limit_cut_propose(actor=request.user, case=case, **form.cleaned_data)
    except DomainError as exc:
        return _refused(request, case_id, "cut", exc.message, cut_form=form)
    messages.success(request, _("Limit cut proposed; it waits for approval."))
    return redirect("decisions:override-detail", pk=proposal.pk)


@require_POST
@staff_required
def case_documents_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    """Ask the borrower for documents; the case then waits for the borrower."""
    case = _get_case(request, case_id)
    form = DocumentsRequestForm(request.POST)
    if not form.is_valid():
        return _refused(
            request, case_id, "documents", DocumentsRequired().message, documents_form=form
        )
    try:
        case_documents_request(actor=request.user, case=case, **form.cleaned_data)
    except DomainError as exc:
        return _refused(request, case_id, "documents", exc.message, documents_form=form)
    messages.success(request, _("The borrower was asked for the documents."))
    return _done(case_id)


@require_POST
@staff_required
def case_documents_received_view(request: AuthenticatedRequest, case_id: int) -> HttpResponse:
    """The documents came in, or ("action" = "withdraw") are no longer needed: the case is
    back in progress, its SLA clock running again."""
    case = _get_case(request, case_id)
    stop = (
        case_documents_withdraw
        if request.POST.get("action") == "withdraw"
        else case_documents_received
    )
    try:
        stop(actor=request.user, case=case, note=request.POST.get("note", "")[:2000])
    except DomainError as exc:
        return _refused(request, case_id, "documents", exc.message)
    return _done(case_id)


# --- the team view and the pulse --------------------------------------------------------------


@require_GET
@staff_required
def team_view(request: AuthenticatedRequest) -> HttpResponse:
    """A manager's view of the queues (counts, ages, overdue) and each analyst's throughput."""
    if request.user.role not in CASE_SUPERVISOR_ROLES:
        raise PermissionDenied
    queues_ensure()
    dates, analysts = team_throughput(user=request.user)
    return render(
        request,
        "monitoring/cases/team.html",
        {
            "queues": queue_stats(user=request.user),
            "dates": dates,
            "analysts": analysts,
        },
    )


@require_GET
@staff_required
def case_pulse_view(request: AuthenticatedRequest) -> HttpResponse:
    """The small panel htmx polls every 15 s: unassigned cases per queue, recent alerts."""
    return render(request, "monitoring/cases/pulse.html", {"pulse": case_pulse(user=request.user)})
