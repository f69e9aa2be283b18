"""Override proposals and decisions over the API: the pages' rules, the one error shape."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from conftest import PASSWORD
from decisions.models import OverrideProposal
from decisions.services.override_defaults import ensure_override_defaults
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/overrides/"


@pytest.fixture(autouse=True)
def _defaults():
    ensure_override_defaults()


@pytest.fixture
def line():
    return CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _propose(client, line, **kw):
    body = {
        "borrower_id": line.borrower_id,
        "kind": "limit",
        "new_limit": "16000.00",
        "reason_code": "hardship",
        "justification": "Borrower asked for a lower limit after a job loss.",
        **kw,
    }
    return client.post(URL, body, format="json")


def test_propose_list_inbox_and_approve(analyst, senior_analyst, line):
    created = _propose(_client(analyst), line)
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["may_decide"] is False  # the proposer never decides
    listed = _client(analyst).get(URL + "?mine=1").json()
    assert [r["id"] for r in listed["results"]] == [pk]
    inbox = _client(senior_analyst).get(URL + "inbox/").json()
    assert [r["id"] for r in inbox["results"]] == [pk]
    detail = _client(senior_analyst).get(f"{URL}{pk}/").json()
    assert (detail["may_decide"], detail["needs_password"]) == (True, False)
    approved = _client(senior_analyst).post(f"{URL}{pk}/approve/", {"note": "ok"}, format="json")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    line.refresh_from_db()
    assert line.credit_limit == Decimal("16000.00")
    again = _client(senior_analyst).post(f"{URL}{pk}/reject/", {"note": "x"}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "already_decided")


def test_the_same_refusals_as_the_pages(analyst, senior_analyst, head_of_risk, line):
    pk = _propose(_client(analyst), line, new_limit="80000.00").json()["id"]
    own = _client(analyst).post(f"{URL}{pk}/approve/", {}, format="json")
    assert (own.status_code, own.json()["code"]) == (409, "four_eyes")
    low = _client(senior_analyst).post(f"{URL}{pk}/approve/", {}, format="json")
    assert low.json()["code"] == "no_authority"
    step = _client(head_of_risk).post(f"{URL}{pk}/approve/", {}, format="json")
    assert step.json()["code"] == "step_up_required"
    ok = _client(head_of_risk).post(f"{URL}{pk}/approve/", {"password": PASSWORD}, format="json")
    assert ok.json()["stepped_up"] is True
    capped = _propose(_client(analyst), line, new_limit="200000.01")
    assert (capped.status_code, capped.json()["code"]) == (409, "override_hard_block")
    bad = _propose(_client(analyst), line, kind="sideways")
    assert bad.status_code == 400


def test_request_changes_over_the_api(analyst, manager, line):
    pk = _propose(_client(analyst), line).json()["id"]
    r = _client(manager).post(f"{URL}{pk}/request-changes/", {"note": "letter?"}, format="json")
    assert r.json()["status"] == "changes"
    assert r.json()["review_note"] == "letter?"


def test_borrowers_the_service_account_and_anonymous_are_refused(
    borrower_user, service_user, analyst, line
):
    _propose(_client(analyst), line)
    pk = OverrideProposal.objects.get().pk
    for user in (borrower_user, service_user):
        client = _client(user)
        assert client.get(URL).status_code == 403
        assert client.get(f"{URL}{pk}/").status_code == 403
        assert _propose(client, line).status_code == 403
        assert client.post(f"{URL}{pk}/approve/", {}, format="json").status_code == 403
    anonymous = APIClient().get(URL)
    assert anonymous.status_code in (401, 403)
    assert _client(analyst).post(f"{URL}{pk}/sideways/", {}, format="json").status_code == 404
