"""Project-wide pages: the health check and the home page at `/`."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
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
