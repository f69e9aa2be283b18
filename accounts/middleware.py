"""Request middleware: the audit context, and the security headers of every response."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from accounts.audit import clear_audit_context, set_audit_context
from accounts.choices import AuditSource

# What a client-supplied X-Request-ID may look like to be kept (a UUID, a proxy's trace id).
# Anything else (spaces, quotes, markup, newlines, 65+ characters) is replaced by our own id:
# the value lands in the audit log, the response header and log lines.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(request: HttpRequest) -> str:
    """The client's X-Request-ID when it matches REQUEST_ID_PATTERN, else a new random id."""
    supplied = request.headers.get("X-Request-ID", "")
    if REQUEST_ID_PATTERN.fullmatch(supplied):
        return supplied
    return uuid.uuid4().hex


class AuditContextMiddleware:
    """Tag every audit row written during a request with a request id, the source and the IP.

    The id is also sent back as X-Request-ID, so a support ticket can name the request. A
    client's own X-Request-ID is kept only if it is a plain token (request_id_from).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request)
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


class NoStoreMiddleware:
    """`Cache-Control: no-store, private` on every API response and every page a signed-in
    person gets: they hold personal data, which no browser cache or shared proxy may keep.

    Static files never reach this (WhiteNoise answers them earlier, cacheable), and pages for
    anonymous visitors (the login page) keep their own headers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or request.path.startswith("/api/"):
            response["Cache-Control"] = "no-store, private"
            response.headers.pop("Expires", None)
        return response


# The Swagger UI (drf-spectacular's page at /api/docs/) carries an inline <script> and <style>
# and shows data: images; only that page gets this policy. Everything else keeps the strict
# one in settings.CONTENT_SECURITY_POLICY.
SWAGGER_UI_POLICY: dict[str, Any] = {
    "default-src": [SELF],
    "script-src": [SELF, UNSAFE_INLINE],
    "style-src": [SELF, UNSAFE_INLINE],
    "img-src": [SELF, "data:"],
    "connect-src": [SELF],
    "frame-ancestors": [NONE],
    "form-action": [SELF],
    "base-uri": [NONE],
    "object-src": [NONE],
}
SWAGGER_UI_URL_NAME = "api-docs"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the Swagger UI's own relaxed policy."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        if not report_only and match is not None and match.url_name == SWAGGER_UI_URL_NAME:
            parts.config = SWAGGER_UI_POLICY
        return parts
