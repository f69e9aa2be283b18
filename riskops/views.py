"""Project-wide pages: the health check and the staff home page."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required
from lending.selectors import book_summary


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for run scripts and load balancers: answers once the database does."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
@staff_required
def home(request: HttpRequest) -> HttpResponse:
    """The staff home page: the book's headline figures and its balance by delinquency bucket."""
    return render(request, "riskops/home.html", {"summary": book_summary()})
