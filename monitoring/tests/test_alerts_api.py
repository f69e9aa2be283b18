"""Alerts and cases over the API: filters shared with the pages, the pages' permissions, the
services' refusals as 409."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from monitoring.choices import AlertCategory, CaseStatus, Disposition, QueueKind, Severity
from monitoring.models import Case
from monitoring.services.cases import alerts_group, case_claim
from monitoring.tests.cases_setup import make_alert, make_borrower

pytestmark = pytest.mark.django_db


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def two_cases():
    fraud = make_borrower(used="5000.00")
    credit = make_borrower(used="100.00")
    a1 = make_alert(fraud, severity=Severity.CRITICAL)
    a2 = make_alert(credit, category=AlertCategory.CREDIT, severity=Severity.LOW)
    cases = alerts_group(alert_ids=[a1.pk, a2.pk])
    return {c.category: c for c in cases}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/alerts/", "/api/v1/cases/", "/api/v1/cases/{case}/", "/api/v1/alerts/{alert}/"],
)
def test_only_risk_staff_read_alerts_and_cases(
    path, two_cases, borrower_user, service_user, outsider
):
    case = two_cases["fraud"]
    url = path.format(case=case.pk, alert=case.alerts.first().pk)
    assert _client().get(url).status_code == 401
    for user in (borrower_user, service_user, outsider):
        assert _client(user).get(url).status_code in (401, 403), user.username
    # The service account's token is refused too, not just its session.
    token = Token.objects.get(user=service_user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(url).status_code == 403


def test_alerts_filter_like_the_pages(analyst, two_cases):
    client = _client(analyst)
    body = client.get("/api/v1/alerts/", {"category": "credit"}).json()
    assert body["count"] == 1
    assert body["results"][0]["category"] == "credit"
    body = client.get("/api/v1/alerts/", {"severity_min": Severity.CRITICAL}).json()
    assert [r["case_id"] for r in body["results"]] == [two_cases["fraud"].pk]
    bad = client.get("/api/v1/alerts/", {"severity_min": "99"})
    assert bad.status_code == 400
    assert set(bad.json()) >= {"message", "code", "extra", "errors"}


def test_cases_list_filters_and_sorts(analyst, two_cases):
    client = _client(analyst)
    body = client.get("/api/v1/cases/", {"queue": QueueKind.CREDIT}).json()
    assert [r["id"] for r in body["results"]] == [two_cases["credit"].pk]
    body = client.get("/api/v1/cases/", {"sort": "-amount"}).json()
    assert [r["id"] for r in body["results"]] == [two_cases["credit"].pk, two_cases["fraud"].pk]
    body = client.get("/api/v1/cases/", {"amount_min": "1000"}).json()
    assert [r["id"] for r in body["results"]] == [two_cases["fraud"].pk]
    assert client.get("/api/v1/cases/", {"status": "nonsense"}).status_code == 400


def test_next_claim_comment_resolve_over_the_api(analyst, two_cases):
    client = _client(analyst)
    got = client.post("/api/v1/cases/next/", {"queue": "fraud"}, format="json")
    assert got.status_code == 200, got.content
    case = got.json()
    assert case["id"] == two_cases["fraud"].pk
    assert case["assignee"] == analyst.username
    assert len(case["alerts"]) == 1
    empty = client.post("/api/v1/cases/next/", {"queue": "fraud"}, format="json")
    assert empty.status_code == 409
    assert empty.json()["code"] == "queue_empty"
    said = client.post(f"/api/v1/cases/{case['id']}/comment/", {"body": "called"}, format="json")
    assert said.status_code == 201
    refused = client.post(f"/api/v1/cases/{case['id']}/resolve/", {"note": "x"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["code"] == "disposition_required"
    done = client.post(
        f"/api/v1/cases/{case['id']}/resolve/",
        {"disposition": Disposition.FALSE_POSITIVE, "note": "known customer"},
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["status"] == CaseStatus.RESOLVED
    assert [c["body"] for c in done.json()["comments"]] == ["called"]


def test_an_analyst_cannot_take_a_case_another_holds_over_the_api(
    analyst, senior_analyst, two_cases
):
    case = two_cases["fraud"]
    case_claim(actor=senior_analyst, case=case)
    client = _client(analyst)
    for path, body in (
        ("claim", {}),
        ("comment", {"body": "mine"}),
        ("resolve", {"disposition": "other", "note": "x"}),
    ):
        response = client.post(f"/api/v1/cases/{case.pk}/{path}/", body, format="json")
        assert response.status_code == 409, path
        assert response.json()["code"] == "case_assigned_to_another"
    assert Case.objects.get(pk=case.pk).assignee_id == senior_analyst.pk


def test_borrower_and_service_cannot_act_on_cases(two_cases, borrower_user, service_user):
    case = two_cases["fraud"]
    for user in (borrower_user, service_user):
        client = _client(user)
        assert (
            client.post("/api/v1/cases/next/", {"queue": "fraud"}, format="json").status_code == 403
        )
        assert client.post(f"/api/v1/cases/{case.pk}/claim/", {}, format="json").status_code == 403
    assert Case.objects.get(pk=case.pk).assignee_id is None
