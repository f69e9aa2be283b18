"""What every decisions page does the same way: refuse a role, pick the htmx fragment."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import PermissionDenied

from accounts.decorators import AuthenticatedRequest


def require_role(request: AuthenticatedRequest, roles: Iterable[str]) -> None:
    """A page action only some staff may take: anyone else gets 403 (the service re-checks)."""
    if request.user.role not in roles:
        raise PermissionDenied


def fragment(request: AuthenticatedRequest, template: str, name: str) -> str:
    """The partial for an htmx request, the whole page otherwise (STYLE §10)."""
    if request.htmx and not request.htmx.boosted:
        return f"{template}#{name}"
    return template
