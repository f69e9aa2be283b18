"""The borrower's side of a documents request: the portal's notice links here, the borrower
sees what was asked and sends the files (monitoring.services.case_documents).

Borrower logins only, and only for a request sent to them: anyone else's, or a notice that is
not a documents request, is a 404 (its existence is not confirmed). Staff are 404 too: they
attach evidence on the case page, never as the borrower.
"""

from __future__ import annotations

from typing import IO, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from accounts.decorators import AuthenticatedRequest
from core.errors import DomainError
from lending.models import Notice
from monitoring.services.case_documents import (
    UPLOAD_MAX_FILES,
    case_documents_upload,
    documents_open,
    documents_request_for_borrower,
)
from monitoring.services.case_evidence import EVIDENCE_MAX_BYTES


@require_http_methods(["GET", "POST"])
@login_required
def my_documents(request: AuthenticatedRequest, notice_id: int) -> HttpResponse:
    """What the notice asked for and, while the request is open, the form to send the files."""
    case = documents_request_for_borrower(user=request.user, notice_id=notice_id)
    if case is None:
        raise Http404("No such documents request for this login.")
    notice = Notice.objects.filter(pk=notice_id, borrower_id=case.borrower_id).first()
    if notice is None:
        raise Http404("No such documents request for this login.")
    error = ""
    status = 200
    if request.method == "POST":
        files = [(cast("IO[bytes]", f), f.name or "") for f in request.FILES.getlist("files")]
        try:
            _case, stored = case_documents_upload(
                actor=request.user, case=case, notice_id=notice_id, files=files
            )
        except DomainError as exc:
            error, status = exc.message, 400
        else:
            if stored:
                messages.success(
                    request,
                    ngettext(
                        "Thank you: we received %(n)s file.",
                        "Thank you: we received %(n)s files.",
                        len(stored),
                    )
                    % {"n": len(stored)},
                )
            else:
                messages.info(request, _("This request is already answered: nothing was added."))
            return redirect("monitoring:my-documents", notice_id=notice_id)
    context = {
        "notice": notice,
        "open": documents_open(case, notice_id),
        "error": error,
        "max_files": UPLOAD_MAX_FILES,
        "max_mb": EVIDENCE_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "monitoring/portal/my_documents.html", context, status=status)
