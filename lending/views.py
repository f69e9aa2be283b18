"""Borrower pages: the staff list and borrower page, the PII reveal, and the borrower's own line."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from accounts import masking
from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from lending.choices import PiiField
from lending.exports import export_rows
from lending.filters import BorrowerFilter
from lending.forms import PiiRevealForm
from lending.models import Borrower
from lending.selectors import (
    KeysetPage,
    borrower_list_total,
    borrower_visible_to,
    keyset_page,
    parse_sort_cursor,
    sorted_keyset_page,
    with_delinquency,
)
from lending.selectors import borrower_detail as borrower_detail_selector
from lending.selectors import borrower_list as borrower_list_selector
from lending.selectors import drawdown_schedule as drawdown_schedule_selector
from lending.services import pii_reveal
from lending.services.exports import borrower_list_exported


def _cursor(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _can_reveal(user: Any) -> bool:
    return bool(user.is_risk_staff and user.role in settings.RISKOPS_PII_REVEAL_ROLES)


# The filters a list request may carry; anything else (a stale link's extra) is ignored.
_FILTER_NAMES = ("q", "status", "bucket", "city", "sort")
_PAGER_NAMES = ("after", "before", "last")


def _list_request(request: AuthenticatedRequest) -> tuple[BorrowerFilter, dict[str, Any], bool]:
    """The list's FilterSet, its cleaned values and whether they are valid.

    Invalid values (a bucket that does not exist, a masked number cut short) are errors the
    page shows; the caller then lists nothing, never the whole book.
    """
    today = timezone.localdate()
    data = request.GET.copy()
    for name in _PAGER_NAMES:
        data.pop(name, None)
    filterset = BorrowerFilter(
        data or None, queryset=Borrower.objects.none(), request=request, today=today
    )
    if not filterset.is_bound:
        return filterset, {}, True
    valid = filterset.form.is_valid()
    return filterset, (filterset.form.cleaned_data if valid else {}), valid


def _filtered(user: Any, cleaned: dict[str, Any]) -> Any:
    return borrower_list_selector(
        user=user,
        search=cleaned.get("q") or "",
        status=cleaned.get("status") or "",
        bucket=cleaned.get("bucket") or "",
        city=cleaned.get("city") or "",
        sort=cleaned.get("sort") or "",
        today=timezone.localdate(),
    )


@require_GET
@staff_required
def borrower_list(request: AuthenticatedRequest) -> HttpResponse:
    """Search, filter and sort borrowers; htmx swaps only the table while the analyst types.

    Pager: ?after= / ?before= cursors (keyset), ?last=1 for the last page; a cursor past the
    end, or one that is not a cursor, says so instead of an empty table.
    """
    today = timezone.localdate()
    filterset, cleaned, valid = _list_request(request)
    pager_error = ""
    total: dict[str, Any] | None = None
    if not valid:
        page = KeysetPage(rows=[])
    else:
        queryset = _filtered(request.user, cleaned)
        sort = cleaned.get("sort") or ""
        last = request.GET.get("last") == "1"
        raw_after, raw_before = request.GET.get("after", ""), request.GET.get("before", "")
        if sort:
            sorted_after = parse_sort_cursor(raw_after, sort) if raw_after else None
            sorted_before = parse_sort_cursor(raw_before, sort) if raw_before else None
            bad = bool(raw_after and sorted_after is None) or bool(
                raw_before and sorted_before is None
            )
            moved = bool(sorted_after or sorted_before or last)
            page = sorted_keyset_page(
                queryset, sort=sort, after=sorted_after, before=sorted_before, last=last
            )
        else:
            after, before = _cursor(request, "after"), _cursor(request, "before")
            bad = bool(raw_after and after is None) or bool(raw_before and before is None)
            moved = after is not None or before is not None or last
            page = (
                _last_page(queryset) if last else keyset_page(queryset, after=after, before=before)
            )
        if bad:
            pager_error = gettext("This page link is not valid: showing the first page.")
        elif moved and not page.rows:
            pager_error = gettext(
                "There are no borrowers beyond this page: the list ends before it."
            )
        if page.rows or not moved:
            filtered = any(cleaned.get(name) for name in ("q", "status", "bucket", "city"))
            total = borrower_list_total(queryset, filtered=filtered)
    with_delinquency(page.rows, today)
    params = request.GET.copy()
    for name in _PAGER_NAMES:
        params.pop(name, None)
    context = {
        "filter": filterset,
        "page": page,
        "valid": valid,
        "filter_errors": _filter_errors(filterset),
        "pager_error": pager_error,
        "total": total,
        "query_string": params.urlencode(),
        "is_last": request.GET.get("last") == "1",
    }
    template = "lending/borrower_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#borrower-table"
    return render(request, template, context)


def _filter_errors(filterset: BorrowerFilter) -> list[str]:
    """Each invalid filter as "its label: what is wrong", for the page's error box."""
    form = filterset.form
    if not filterset.is_bound or not form.errors:
        return []
    errors: list[str] = []
    for name, messages in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        errors.extend(f"{label}: {message}" if label else str(message) for message in messages)
    return errors


def _last_page(queryset: Any) -> KeysetPage:
    """The oldest borrowers (the -id list's last page): the first page read from the end."""
    page = keyset_page(queryset, before=0)
    # `before=0` reads from the oldest id upwards; nothing lies beyond the last page.
    page.next_after = None
    return page


# Rows per database round trip while a CSV streams; the export holds at most this many rows
# in memory at once.
EXPORT_CHUNK = 2000
# An export is for a worked selection, not a copy of the book: past this, narrow the filter.
EXPORT_MAX_ROWS = 100_000


@require_GET
@staff_required
def borrower_list_export(request: AuthenticatedRequest) -> HttpResponse:
    """The filtered list as CSV (masked, streamed), audited with its filter.

    An invalid filter is refused (400) rather than exporting the whole book; so is a
    selection of more than EXPORT_MAX_ROWS.
    """
    filterset, cleaned, valid = _list_request(request)
    if not valid:
        errors = "; ".join(str(e) for errs in filterset.form.errors.values() for e in errs)
        return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
    queryset = _filtered(request.user, cleaned)
    # Counting at most one row more than the cap: cheap, and exact below it.
    rows = queryset.order_by()[: EXPORT_MAX_ROWS + 1].count()
    if rows > EXPORT_MAX_ROWS:
        message = gettext(
            "The selection holds more than %(n)s borrowers: narrow the filter to export it."
        ) % {"n": f"{EXPORT_MAX_ROWS:,}"}
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
    borrower_list_exported(
        actor=request.user,
        filters={name: str(cleaned.get(name) or "") for name in _FILTER_NAMES},
        rows=rows,
    )
    response = StreamingHttpResponse(
        export_rows(queryset, today=timezone.localdate(), chunk=EXPORT_CHUNK),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="borrowers-{stamp}.csv"'
    # staff_required's views return HttpResponse; a streamed one is served the same way.
    return response  # type: ignore[return-value]


def _field_id(field: str, object_ref: str = "") -> str:
    return f"{field}-{object_ref}" if object_ref else field


def _pii(
    borrower: Borrower,
    field: str,
    *,
    can_reveal: bool,
    object_ref: str = "",
    card_no: str = "",
    value: str = "",
    error: str = "",
    reason: str = "",
) -> dict[str, Any]:
    """What the pii_field fragment needs for one field: masked text, control, result."""
    if field == PiiField.NAME:
        masked = masking.mask_name(borrower.name)
    elif field == PiiField.NATIONAL_ID:
        masked = masking.mask_national_id(borrower.national_id)
    elif field == PiiField.MOBILE:
        masked = masking.mask_mobile(borrower.mobile)
    else:
        masked = masking.mask_card(card_no)
    return {
        "borrower_id": borrower.pk,
        "field": field,
        "object_ref": object_ref,
        "id": _field_id(field, object_ref),
        "masked": masked,
        "value": value,
        "error": error,
        "reason": reason,
        "can_reveal": can_reveal,
    }


def _detail_context(
    request: AuthenticatedRequest,
    borrower: Borrower,
    outcome: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The staff borrower page's context; `outcome` maps a field id to a reveal's result."""
    user = request.user
    can_reveal = _can_reveal(user)
    outcome = outcome or {}
    pii = {
        field: _pii(borrower, field, can_reveal=can_reveal, **outcome.get(field, {}))
        for field in (PiiField.NAME, PiiField.NATIONAL_ID, PiiField.MOBILE)
    }
    for account in borrower.bank_accounts.all():
        ref = str(account.pk)
        # A display-only attribute for the template, not a model field:
        account.pii = _pii(  # type: ignore[attr-defined]
            borrower,
            PiiField.BANK_CARD,
            can_reveal=can_reveal,
            object_ref=ref,
            card_no=account.card_no,
            **outcome.get(_field_id(PiiField.BANK_CARD, ref), {}),
        )
    return {
        "borrower": borrower,
        "line": getattr(borrower, "line", None),
        "pii": pii,
        "today": timezone.localdate(),
    }


@require_GET
@login_required
def borrower_detail(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """The borrower page: staff see it masked with reveal controls; a borrower login sees its
    own page in the portal layout; every other borrower id is 404."""
    user = request.user
    if user.is_risk_staff:
        # Settled and written-off loans show as one line each; their schedule on demand.
        borrower = borrower_detail_selector(
            user=user, borrower_id=borrower_id, collapse_settled=True
        )
        return render(request, "lending/borrower_detail.html", _detail_context(request, borrower))
    borrower = borrower_detail_selector(user=user, borrower_id=borrower_id)
    return render(
        request, "lending/my_line.html", {"borrower": borrower, "today": timezone.localdate()}
    )


@require_GET
@staff_required
def drawdown_schedule(
    request: AuthenticatedRequest, borrower_id: int, drawdown_id: int
) -> HttpResponse:
    """A settled loan's schedule, loaded into the borrower page on demand (htmx fragment)."""
    drawdown = drawdown_schedule_selector(
        user=request.user, borrower_id=borrower_id, drawdown_id=drawdown_id
    )
    return render(request, "components/instalment_table.html", {"drawdown": drawdown})


@require_GET
@login_required
def my_line(request: AuthenticatedRequest) -> HttpResponse:
    """A borrower's own line, schedule and repayments (mobile-first). Staff have no line: 404."""
    user = request.user
    borrower_id = getattr(user, "borrower_id", None)
    if not user.is_borrower or borrower_id is None:
        raise Http404("Only borrower logins have a line of their own.")
    borrower = borrower_detail_selector(user=user, borrower_id=borrower_id)
    return render(
        request, "lending/my_line.html", {"borrower": borrower, "today": timezone.localdate()}
    )


@require_POST
@staff_required
def pii_reveal_view(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """Reveal one masked field with a stated reason (lending.services.pii_reveal).

    htmx gets the field's fragment back (the full value, or the refusal in place); without
    JavaScript the whole borrower page is rendered with that field revealed.
    """

    borrower = borrower_visible_to(user=request.user).filter(pk=borrower_id).first()
    if borrower is None:
        raise Http404("No such borrower.")
    form = PiiRevealForm(request.POST)
    if not form.is_valid():
        raise PermissionDenied  # a tampered field name; the page never sends one
    field = form.cleaned_data["field"]
    object_ref = form.cleaned_data["object_ref"] or ""
    reason = form.cleaned_data["reason"] or ""
    card_no = ""
    if field == PiiField.BANK_CARD:
        account = (
            borrower.bank_accounts.filter(pk=object_ref).first() if object_ref.isdigit() else None
        )
        if account is None:
            raise Http404("No such bank account for this borrower.")
        card_no = account.card_no
    result: dict[str, str] = {"reason": reason}
    try:
        result["value"] = pii_reveal(
            actor=request.user, borrower=borrower, field=field, reason=reason, object_ref=object_ref
        )
    except DomainError as exc:
        result["error"] = exc.message
    status = 409 if "error" in result else 200
    if request.htmx:
        pii = _pii(
            borrower,
            field,
            can_reveal=_can_reveal(request.user),
            object_ref=object_ref,
            card_no=card_no,
            **result,
        )
        # 200 even on a refusal: htmx swaps only 2xx responses, and the refusal is shown in place.
        return render(request, "lending/partials/pii_field.html", {"pii": pii})
    full = borrower_detail_selector(
        user=request.user, borrower_id=borrower.pk, collapse_settled=True
    )
    context = _detail_context(request, full, outcome={_field_id(field, object_ref): result})
    return render(request, "lending/borrower_detail.html", context, status=status)
