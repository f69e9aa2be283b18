from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from accounts.audit import clear_audit_context, set_audit_context
from accounts.choices import AuditSource


class AuditContextMiddleware:
    """Tag every audit row written during a request with a request id, the source and the IP.

    The id is also sent back as X-Request-ID, so a support ticket can name the request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
        source = AuditSource.API if request.path.startswith("/api/") else AuditSource.WEB
        set_audit_context(
            source=source,
            reference=f"request:{request_id}",
            ip_address=request.META.get("REMOTE_ADDR") or None,
        )
        try:
            response = self.get_response(request)
        finally:
            clear_audit_context()
        response["X-Request-ID"] = request_id
        return response
