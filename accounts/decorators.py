"""View decorators for who may open a page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django_htmx.middleware import HtmxDetails

from accounts.models import User

View = Callable[..., HttpResponse]


class AuthenticatedRequest(HttpRequest):
    """The request a view behind login_required or staff_required receives (for type checking).

    Never instantiated: it tells mypy that `user` is a signed-in User (the decorator turned
    anonymous visitors away) and that django-htmx's middleware has set `htmx`.
    """

    user: User
    htmx: HtmxDetails


def staff_required(view: View) -> View:
    """Risk staff only: anonymous visitors go to the login page, anyone else gets 403."""

    @login_required
    @wraps(view)
    def wrapper(request: AuthenticatedRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_risk_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
