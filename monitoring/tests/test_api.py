from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lending.choices import LineStatus
from lending.models import Drawdown, Instalment, Repayment
from monitoring.models import Event
from monitoring.tests.factories import (
    DrawdownEventFactory,
    LineOpenedEventFactory,
    LoginEventFactory,
    RepaymentEventFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def lending_core(service_user) -> APIClient:
    return _client(service_user)


def test_the_url_is_named_event_ingest():
    assert reverse("event-ingest") == URL


def test_one_event_is_recorded_and_updates_the_book(borrower_record, lending_core):
    event = DrawdownEventFactory(term_months=3)

    response = lending_core.post(URL, event, format="json")

    assert response.status_code == 200, response.json()
    [result] = response.json()["results"]
    drawdown = Drawdown.objects.get(loan_no=event["loan_no"])
    assert result == {
        "index": 0,
        "event_id": event["event_id"],
        "kind": "drawdown",
        "status": "recorded",
        "borrower_id": borrower_record.pk,
        "drawdown_id": drawdown.pk,
    }
    assert Instalment.objects.filter(drawdown=drawdown).count() == 3


def test_a_batch_is_recorded_in_order_and_the_repayment_allocated(lending_core):
    opened = LineOpenedEventFactory()
    drawdown = DrawdownEventFactory(customer_no=opened["customer_no"])
    repayment = RepaymentEventFactory(
        customer_no=opened["customer_no"], loan_no=drawdown["loan_no"]
    )

    response = lending_core.post(URL, {"events": [opened, drawdown, repayment]}, format="json")

    assert response.status_code == 200, response.json()
    assert [r["status"] for r in response.json()["results"]] == ["recorded"] * 3
    paid = Repayment.objects.get(reference=repayment["event_id"])
    assert paid.allocations.get().instalment.seq == 1
    assert Event.objects.count() == 3


def test_a_replay_answers_the_same_body_and_records_once(borrower_record, lending_core):
    events = [DrawdownEventFactory(), LoginEventFactory()]
    first = lending_core.post(URL, {"events": events}, format="json").json()

    again = lending_core.post(URL, {"events": events}, format="json")

    assert again.status_code == 200
    assert again.json() == {
        "results": [{**result, "status": "replayed"} for result in first["results"]]
    }
    assert Event.objects.count() == 2
    assert Drawdown.objects.count() == 1


def test_a_replay_inside_one_batch_is_answered_from_its_first_occurrence(
    borrower_record, lending_core
):
    login = LoginEventFactory()

    response = lending_core.post(URL, {"events": [login, login]}, format="json")

    first, second = response.json()["results"]
    assert second == {**first, "index": 1, "status": "replayed"}
    assert Event.objects.count() == 1


def test_the_same_event_id_with_other_data_is_refused_with_its_index(borrower_record, lending_core):
    login = LoginEventFactory()
    lending_core.post(URL, login, format="json")

    response = lending_core.post(
        URL, {"events": [LoginEventFactory(), {**login, "platform": "ios"}]}, format="json"
    )

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "events_refused"
    assert body["errors"] == [
        {
            "index": 1,
            "event_id": login["event_id"],
            "field": "event_id",
            "code": "event_id_reused",
            "message": body["errors"][0]["message"],
        }
    ]
    assert login["event_id"] in body["errors"][0]["message"]
    assert Event.objects.count() == 1


def test_a_batch_over_1000_events_is_refused(borrower_record, lending_core):
    events = [LoginEventFactory() for _ in range(1001)]

    response = lending_core.post(URL, {"events": events}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "events"
    assert Event.objects.count() == 0


def test_a_batch_of_1000_events_is_accepted(borrower_record, lending_core):
    events = [LoginEventFactory(device_id=f"dev-{n % 7}") for n in range(1000)]

    response = lending_core.post(URL, {"events": events}, format="json")

    assert response.status_code == 200
    assert Event.objects.count() == 1000


def test_every_validation_error_is_reported_and_nothing_recorded(borrower_record, lending_core):
    events = [
        LoginEventFactory(),
        DrawdownEventFactory(amount="0", repayment_mode="balloon"),
        LoginEventFactory(occurred_at="2026-02-02 23:10"),
        LoginEventFactory(),
        RepaymentEventFactory(amount=12.345),
    ]
    before = (Event.objects.count(), Drawdown.objects.count())

    response = lending_core.post(URL, {"events": events}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_events"
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (1, "amount"),
        (1, "repayment_mode"),
        (2, "occurred_at"),
        (4, "amount"),
    }
    assert all(e["message"] for e in body["errors"])
    assert (Event.objects.count(), Drawdown.objects.count()) == before


@pytest.mark.parametrize("body", [[{"kind": "login"}], {"events": []}, {"events": "x"}, 42])
def test_a_body_that_is_neither_an_event_nor_a_batch_is_refused(lending_core, body):
    response = lending_core.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_body_that_is_not_json_is_refused(lending_core):
    response = lending_core.post(
        URL, "event_id=1", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415


def test_a_business_refusal_rolls_back_the_whole_batch(borrower_record, lending_core):
    line = borrower_record.line
    line.status = LineStatus.FROZEN
    line.save(update_fields=["status"])
    events = [LoginEventFactory(), DrawdownEventFactory(), LoginEventFactory()]

    response = lending_core.post(URL, {"events": events}, format="json")

    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert (error["index"], error["field"], error["code"]) == (1, "customer_no", "line_not_active")
    assert Event.objects.count() == 0
    assert borrower_record.devices.count() == 0


def test_anonymous_posts_are_refused_with_401(borrower_record):
    response = APIClient().post(URL, LoginEventFactory(), format="json")

    assert response.status_code == 401
    assert Event.objects.count() == 0


def test_a_bad_token_or_an_inactive_service_account_is_refused_with_401(
    borrower_record, service_user
):
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    token = service_user.auth_token
    service_user.is_active = False
    service_user.save(update_fields=["is_active"])

    assert bad.post(URL, LoginEventFactory(), format="json").status_code == 401
    assert _client(service_user).post(URL, LoginEventFactory(), format="json").status_code == 401
    assert token.key


@pytest.mark.parametrize(
    "who", ["analyst", "senior_analyst", "manager", "head_of_risk", "borrower_user"]
)
def test_staff_and_borrower_tokens_are_refused_with_403(request, borrower_record, who):
    user = request.getfixturevalue(who)

    response = _client(user).post(URL, LoginEventFactory(), format="json")

    assert response.status_code == 403
    assert Event.objects.count() == 0


@pytest.mark.parametrize("who", ["analyst", "manager", "borrower_user"])
def test_staff_and_borrower_sessions_are_refused_with_403(request, client, borrower_record, who):
    user = request.getfixturevalue(who)
    client.force_login(user)  # a session login, as the pages make one

    response = client.post(URL, LoginEventFactory(), content_type="application/json")

    assert response.status_code == 403
    assert Event.objects.count() == 0


def test_an_admin_token_may_post(borrower_record, admin_user):
    response = _client(admin_user).post(URL, LoginEventFactory(), format="json")

    assert response.status_code == 200
    assert Event.objects.get().posted_by == admin_user


def test_a_batch_runs_a_bounded_number_of_queries_per_event(
    borrower_record, lending_core, django_assert_max_num_queries
):
    events = [LoginEventFactory(device_id="dev-1") for _ in range(50)]

    # Auth and the batch's fixed cost (the stored ids, read again once the lines are locked;
    # the borrowers and each line locked once; the claim; the batch's audit rows appended in
    # one go on the chain; the answers stored together), then per event of a known device:
    # its look-up and its last-seen update: nothing grows with what is already stored.
    with django_assert_max_num_queries(25 + 2 * 50):
        response = lending_core.post(URL, {"events": events}, format="json")

    assert response.status_code == 200


def test_the_schema_is_generated_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    text = out.read_text()
    assert "/api/v1/events/" in text
    assert "discriminator" in text  # one event: a oneOf told apart by `kind`


def test_the_schema_is_served(client):
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/v1/events/" in response.content


def test_the_doc_page_loads_only_local_assets(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    # (Only in addresses: the page's random CSRF token may contain any three letters.)
    assert not [
        url
        for url in re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", html)
        if "cdn" in url.lower()
    ]
