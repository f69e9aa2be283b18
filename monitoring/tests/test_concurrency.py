"""Concurrent posts to POST /api/v1/events/ on PostgreSQL, with threads.

Each once answered 500: two batches drawing on lines X,Y and Y,X deadlocked; parallel
line_opened for one customer, or bank_account_change for one card, hit a duplicate key. Now
every post is recorded, replayed, or answered 409 with code retry and a Retry-After header
(nothing recorded, post it again); never 500. SQLite serializes writers (IMMEDIATE
transactions), so these races need PostgreSQL's row locks and are skipped without it.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lending.models import BankAccount, Borrower, CreditLine, Drawdown
from monitoring.models import Event
from monitoring.tests.factories import (
    BankAccountChangeEventFactory,
    DrawdownEventFactory,
    LineOpenedEventFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/events/"


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL's row locks")


@pytest.fixture
def token(service_user) -> str:
    return Token.objects.get(user=service_user).key


def _race(token: str, bodies: list[Any]) -> list[Any]:
    """Post every body at once, one thread each; return the responses, in order.

    An error the API did not handle is what a client would see as a 500; the test client
    raises it in the posting thread, and it is returned in place of a response.
    """
    start = threading.Barrier(len(bodies))
    outcomes: list[Any] = [None] * len(bodies)

    def post(n: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        try:
            start.wait(timeout=10)
            outcomes[n] = client.post(URL, bodies[n], format="json")
        except Exception as exc:  # a would-be 500, reported by the assertions
            outcomes[n] = exc
        finally:
            connection.close()  # each thread has its own connection; the test's stays open

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _statuses(outcomes: list[Any]) -> list[int | str]:
    """Each outcome's status; an unhandled error as its class name (a would-be 500)."""
    return [getattr(o, "status_code", type(o).__name__) for o in outcomes]


def _assert_retry(response: Any) -> None:
    """A 409 for a lost race: the one error shape, code retry, a Retry-After header."""
    body = response.json()
    assert set(body) == {"message", "code", "extra", "errors"}
    assert body["code"] == "retry", body
    assert response["Retry-After"] == str(body["extra"]["retry_after"])


def test_batches_drawing_on_two_lines_in_opposite_orders_never_deadlock(
    borrower_record, service_user, token
):
    """Twenty posts, ten pairs at once: X then Y, and Y then X. Each batch locks all its
    lines in id order first, so one waits for the other instead of both waiting forever."""
    other = LineOpenedEventFactory()
    assert _race(token, [other])[0].status_code == 200
    x, y = borrower_record.customer_no, other["customer_no"]

    def draw(customer_no: str) -> dict[str, Any]:
        return DrawdownEventFactory(customer_no=customer_no, amount="100.00")

    outcomes = []
    for _ in range(10):
        xy = {"events": [draw(x), draw(y)]}
        yx = {"events": [draw(y), draw(x)]}
        outcomes += _race(token, [xy, yx])

    assert set(_statuses(outcomes)) <= {200, 409}, _statuses(outcomes)
    for response in outcomes:
        if response.status_code == 409:
            _assert_retry(response)
    recorded = sum(len(r.json()["results"]) for r in outcomes if r.status_code == 200)
    assert Drawdown.objects.count() == recorded
    # Every line's `used` is the sum of what was drawn on it: nothing half-applied.
    for line in CreditLine.objects.all():
        drawn = Drawdown.objects.filter(line=line).aggregate(total=Sum("amount"))["total"]
        assert line.used == (drawn or Decimal("0.00"))


def test_parallel_line_opened_for_one_customer_opens_one_line(service_user, token):
    """Under eight event ids at once: the first to insert the customer wins, the others wait
    on its key and are told to retry; a retry then records the line the winner opened."""
    opened = LineOpenedEventFactory()
    bodies = [{**opened, "event_id": f"open-{n}"} for n in range(8)]

    outcomes = _race(token, bodies)

    statuses = _statuses(outcomes)
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses
    retried = [body for body, r in zip(bodies, outcomes, strict=True) if r.status_code == 409]
    for response in outcomes:
        if response.status_code == 409:
            _assert_retry(response)
    assert Borrower.objects.filter(customer_no=opened["customer_no"]).count() == 1
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    for body in retried:
        assert client.post(URL, body, format="json").status_code == 200
    assert Event.objects.count() == len(bodies)


def test_parallel_bank_account_changes_for_one_card_record_one_card(
    borrower_record, service_user, token
):
    card = BankAccountChangeEventFactory()
    bodies = [{**card, "event_id": f"card-{n}"} for n in range(8)]

    outcomes = _race(token, bodies)

    statuses = _statuses(outcomes)
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses
    for response in outcomes:
        if response.status_code == 409:
            _assert_retry(response)
    assert BankAccount.objects.filter(card_no=card["card_no"]).count() == 1


@pytest.mark.parametrize("factory", [LineOpenedEventFactory, BankAccountChangeEventFactory])
def test_one_event_posted_eight_times_at_once_is_recorded_once(
    borrower_record, service_user, token, factory
):
    event = factory()

    outcomes = _race(token, [event] * 8)

    statuses = _statuses(outcomes)
    assert set(statuses) <= {200, 409}, statuses
    answers = [r.json()["results"][0]["status"] for r in outcomes if r.status_code == 200]
    assert answers.count("recorded") == 1, answers
    assert set(answers) <= {"recorded", "replayed"}
    for response in outcomes:
        if response.status_code == 409:
            _assert_retry(response)
    assert Event.objects.filter(event_id=event["event_id"]).count() == 1
