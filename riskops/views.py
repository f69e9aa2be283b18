"""Project-wide pages: the health check and the home page at `/`."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.http import require_GET

from accounts.decorators import AuthenticatedRequest, staff_required
from lending.selectors import book_summary


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for run scripts and load balancers: answers once the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """`/`, where every login and the brand link lead: a borrower's home is their own line."""
    if request.user.is_borrower:
        return redirect("lending:my-line")
    return staff_home(request)


@staff_required
def staff_home(request: AuthenticatedRequest) -> HttpResponse:
    """The staff home page: the book's headline figures and its balance by delinquency bucket."""
    return render(request, "riskops/home.html", {"summary": book_summary()})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: under /api/ in the API's one error shape (a client parses JSON, not a page);
    elsewhere the friendly page in the reader's language."""
    if request.path.startswith("/api/"):
        body = {
            "message": _("There is no such endpoint: see /api/docs/."),
            "code": "not_found",
            "extra": {},
            "errors": [],
        }
        return JsonResponse(body, status=404)
    return defaults.page_not_found(request, exception or Exception())
