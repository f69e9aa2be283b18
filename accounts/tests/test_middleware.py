"""Response headers (CSP, HSTS, no-store, nosniff, referrer), the request id a client may
choose, and request logs without query strings."""

from __future__ import annotations

import logging
import re

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token

from accounts.audit import audit
from accounts.middleware import AuditContextMiddleware
from accounts.models import AuditEvent
from accounts.request_log import GUNICORN_ACCESS_LOG_FORMAT, NoQueryString

pytestmark = pytest.mark.django_db


def _csp(response: HttpResponse) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


# Content Security Policy --------------------------------------------------------------------------


@pytest.mark.parametrize("who", [None, "analyst", "admin_user"])
@pytest.mark.parametrize("url_name", ["accounts:login", "home", "admin:index"])
def test_every_page_carries_a_strict_content_security_policy(client, request, who, url_name):
    if who:
        client.force_login(request.getfixturevalue(who))

    policy = _csp(client.get(reverse(url_name), follow=True))

    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert "unsafe" not in " ".join(policy.values())


def test_only_the_swagger_ui_gets_a_policy_allowing_its_inline_script(client, analyst):
    client.force_login(analyst)

    docs = _csp(client.get(reverse("api-docs")))
    schema = _csp(client.get(reverse("api-schema")))

    assert docs["script-src"] == "'self' 'unsafe-inline'"
    assert docs["frame-ancestors"] == "'none'"
    assert "unsafe" not in schema.get("script-src", "")


def test_our_templates_have_no_inline_script_style_or_event_handler(client, analyst):
    # The strict policy would block them: what the pages render must not need them.
    client.force_login(analyst)
    for url in (reverse("home"), reverse("lending:borrower-list")):
        html = client.get(url).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url


# No caching of personal data ----------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["home", "lending:borrower-list", "accounts:password-change"])
def test_pages_for_a_signed_in_person_are_never_stored(client, analyst, url_name):
    client.force_login(analyst)

    response = client.get(reverse(url_name))

    assert response["Cache-Control"] == "no-store, private"


def test_api_responses_are_never_stored(client, service_user):
    key = Token.objects.get(user=service_user).key

    schema = client.get(reverse("api-schema"), HTTP_AUTHORIZATION=f"Token {key}")
    batch = client.post(
        reverse("event-ingest"),
        {"events": []},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    refused = client.post(reverse("event-ingest"), {}, content_type="application/json")

    assert schema.status_code == 200 and refused.status_code in (401, 403)
    for response in (schema, batch, refused):
        assert response["Cache-Control"] == "no-store, private"


def test_security_headers_on_every_page(client):
    response = client.get(reverse("accounts:login"))

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@override_settings(SECURE_HSTS_SECONDS=31_536_000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_is_sent_over_https(client):
    response = client.get(reverse("accounts:login"), secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_the_production_profile_turns_hsts_on():
    # The profile is read at import time; this process's value follows the profile it runs in.
    expected = 365 * 24 * 60 * 60 if settings.PROFILE == "production" else 0
    assert expected == settings.SECURE_HSTS_SECONDS


# The request id -----------------------------------------------------------------------------------


def _request_with_id(request_id: str) -> tuple[HttpResponse, AuditEvent]:
    def view(request: HttpRequest) -> HttpResponse:
        audit(actor=None, action="test.request", obj=AuditEvent(pk=1))
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID=request_id)
    response = AuditContextMiddleware(view)(request)
    return response, AuditEvent.objects.get(action="test.request")


@pytest.mark.parametrize("request_id", ["req-42", "0b7e1c2f.trace_ID-9", "a" * 64])
def test_a_plain_request_id_from_the_client_is_kept(request_id):
    response, row = _request_with_id(request_id)

    assert response["X-Request-ID"] == request_id
    assert row.reference == f"request:{request_id}"


@pytest.mark.parametrize(
    "request_id",
    [
        "<script>alert(1)</script>",
        "' OR 1=1 --",
        "two words",
        "a" * 65,
        "ok\r\nSet-Cookie: session=stolen",
        "张三-13800001234",
        "../../etc/passwd",
    ],
)
def test_any_other_request_id_is_replaced_by_our_own(request_id):
    response, row = _request_with_id(request_id)

    generated = response["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert row.reference == f"request:{generated}"
    assert request_id not in row.reference


# Request logs -------------------------------------------------------------------------------------


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_request_log_lines_keep_no_query_string():
    # runserver logs each request on django.server as '"%s" %s %s' (request line, status, size).
    logger = logging.getLogger("django.server")
    capture = _Capture()
    logger.addHandler(capture)
    try:
        logger.info('"%s" %s %s', "GET /borrowers/?q=张浩浩&status=active HTTP/1.1", "200", "5120")
        logger.warning('"%s" %s %s', "GET /borrowers/?q=1234 HTTP/1.1", "404", "179")
    finally:
        logger.removeHandler(capture)

    assert capture.lines == [
        '"GET /borrowers/ HTTP/1.1" 200 5120',
        '"GET /borrowers/ HTTP/1.1" 404 179',
    ]
    assert any(isinstance(f, NoQueryString) for f in logger.filters)


def test_the_gunicorn_access_log_format_names_the_path_but_never_the_query():
    # %(q)s the query, %(r)s the request line with it, %(f)s the Referer (the previous page's
    # URL, search included), %({x-request-id}i)s the client's raw header.
    for atom in ("%(q)s", "%(r)s", "%(f)s", "}i)s"):
        assert atom not in GUNICORN_ACCESS_LOG_FORMAT
    assert "%(U)s" in GUNICORN_ACCESS_LOG_FORMAT
    assert "%({x-request-id}o)s" in GUNICORN_ACCESS_LOG_FORMAT
