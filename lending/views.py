"""Borrower pages: the staff list and borrower page, the PII reveal, and the borrower's own line."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts import masking
from accounts.decorators import AuthenticatedRequest, staff_required
from core.errors import DomainError
from lending.choices import PiiField
from lending.filters import BorrowerFilter
from lending.forms import PiiRevealForm
from lending.models import Borrower
from lending.selectors import (
    borrower_audit_trail,
    borrower_visible_to,
    keyset_page,
    with_delinquency,
)
from lending.selectors import borrower_detail as borrower_detail_selector
from lending.selectors import borrower_list as borrower_list_selector
from lending.services import pii_reveal


def _cursor(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _can_reveal(user: Any) -> bool:
    return bool(user.is_risk_staff and user.role in settings.RISKOPS_PII_REVEAL_ROLES)


@require_GET
@staff_required
def borrower_list(request: AuthenticatedRequest) -> HttpResponse:
    """Search and filter borrowers; htmx swaps only the table while the analyst types."""
    today = timezone.localdate()
    filterset = BorrowerFilter(
        request.GET or None, queryset=Borrower.objects.none(), request=request, today=today
    )
    # Invalid filter values (a bucket that does not exist) are dropped, not a server error.
    cleaned: dict[str, Any] = {}
    if filterset.is_bound and filterset.form.is_valid():
        cleaned = filterset.form.cleaned_data
    queryset = borrower_list_selector(
        user=request.user,
        search=cleaned.get("q") or "",
        status=cleaned.get("status") or "",
        bucket=cleaned.get("bucket") or "",
        city=cleaned.get("city") or "",
        today=today,
    )
    page = keyset_page(queryset, after=_cursor(request, "after"), before=_cursor(request, "before"))
    with_delinquency(page.rows, today)
    params = request.GET.copy()
    params.pop("after", None)
    params.pop("before", None)
    context = {"filter": filterset, "page": page, "query_string": params.urlencode()}
    template = "lending/borrower_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#borrower-table"
    return render(request, template, context)


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
        "audit_events": borrower_audit_trail(user=user, borrower=borrower),
        "today": timezone.localdate(),
    }


@require_GET
@login_required
def borrower_detail(request: AuthenticatedRequest, borrower_id: int) -> HttpResponse:
    """The borrower page: staff see it masked with reveal controls; a borrower login sees its
    own page in the portal layout; every other borrower id is 404."""
    user = request.user
    borrower = borrower_detail_selector(user=user, borrower_id=borrower_id)
    if user.is_risk_staff:
        return render(request, "lending/borrower_detail.html", _detail_context(request, borrower))
    return render(
        request, "lending/my_line.html", {"borrower": borrower, "today": timezone.localdate()}
    )


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
    full = borrower_detail_selector(user=request.user, borrower_id=borrower.pk)
    context = _detail_context(request, full, outcome={_field_id(field, object_ref): result})
    return render(request, "lending/borrower_detail.html", context, status=status)
