"""The staff home page: who may open it, and figures equal to hand-computed sums."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from lending.selectors import book_summary
from lending.services import line_freeze, repayment_record
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]


@pytest.fixture(autouse=True)
def frozen_clock_and_empty_cache():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


@pytest.fixture
def small_book():
    """Four borrowers built through the services, on 2026-06-15:

    A: limit 20,000, drew 10,000 on 06-01 (first due 07-01): M0, balance 10,000.
    B: limit 10,000, drew 4,000 on 04-11 (first due 05-11, unpaid): 35 DPD, M2, frozen.
    C: limit 8,000, drew 6,000 on 01-10 (first due 02-10, unpaid): 125 DPD, M5.
    D: limit 5,000, nothing drawn.
    """
    a = BorrowerFactory(credit_limit=Decimal("20000.00"))
    DrawdownFactory(borrower=a, amount=Decimal("10000.00"), disbursed_at=at(2026, 6, 1))
    b = BorrowerFactory(credit_limit=Decimal("10000.00"))
    DrawdownFactory(borrower=b, amount=Decimal("4000.00"), disbursed_at=at(2026, 4, 11))
    line_freeze(actor=None, line=b.line, reason="Arrears review")
    c = BorrowerFactory(credit_limit=Decimal("8000.00"))
    DrawdownFactory(borrower=c, amount=Decimal("6000.00"), disbursed_at=at(2026, 1, 10))
    BorrowerFactory(credit_limit=Decimal("5000.00"))
    return {"a": a, "b": b, "c": c}


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_opens_the_home_page(client, request, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "riskops/home.html" in [t.name for t in response.templates]


def test_borrower_login_is_refused_the_home_page(client, borrower_user):
    client.force_login(borrower_user)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert reverse("lending:my-line") in response.content.decode()  # the way to their own page


def test_summary_equals_hand_computed_sums(small_book):
    summary = book_summary()
    assert summary["borrowers"] == 4
    assert summary["open_lines"] == 4  # a frozen line is still open
    assert summary["total_limit"] == Decimal("43000.00")
    assert summary["outstanding"] == Decimal("20000.00")
    assert summary["utilisation"] == Decimal("20000") / Decimal("43000")
    by_code = {b["code"]: b for b in summary["buckets"]}
    assert by_code["M0"]["balance"] == Decimal("10000.00")
    assert by_code["M2"]["balance"] == Decimal("4000.00")
    assert by_code["M5"]["balance"] == Decimal("6000.00")
    assert sum(b["balance"] for b in summary["buckets"]) == summary["outstanding"]
    assert by_code["M0"]["lines"] == 1  # the idle line holds no balance
    assert by_code["M5"]["share"] == Decimal("0.3")
    assert summary["dpd1"] == Decimal("0.5")  # B and C
    assert summary["dpd30"] == Decimal("0.5")
    assert summary["dpd90"] == Decimal("0.3")  # C only


def test_summary_follows_a_repayment_that_cures_arrears(small_book):
    b = small_book["b"]
    loan = b.drawdowns.get()
    first = loan.instalments.get(seq=1)
    repayment_record(
        actor=None,
        loan_no=loan.loan_no,
        reference="R-CURE",
        amount=first.remaining + Decimal("50"),
        paid_at=NOW,
    )
    cache.clear()
    by_code = {x["code"]: x for x in book_summary()["buckets"]}
    assert by_code["M2"]["balance"] == Decimal("0.00")
    # B's next instalment (06-11) is also unpaid, so B is 4 days late: M1 now.
    b.line.refresh_from_db()
    assert b.line.oldest_unpaid_due == date(2026, 6, 11)
    assert by_code["M1"]["lines"] == 1


def test_summary_of_an_empty_book_has_no_ratios():
    summary = book_summary()
    assert summary["borrowers"] == 0
    assert summary["outstanding"] == Decimal("0.00")
    assert summary["utilisation"] is None
    assert all(b["share"] is None for b in summary["buckets"])


def test_summary_is_cached_for_a_minute(small_book, django_assert_num_queries):
    book_summary()
    with django_assert_num_queries(0):
        book_summary()


def test_summary_takes_two_queries_however_large_the_book(small_book, django_assert_num_queries):
    with django_assert_num_queries(2):
        book_summary()


def test_home_page_shows_the_figures(client, analyst, small_book):
    client.force_login(analyst)
    html = client.get(reverse("home")).content.decode()
    assert "¥43,000.00" in html
    assert "¥20,000.00" in html
    assert "46.51%" in html  # utilisation 20,000 / 43,000
    assert "30.00%" in html  # M5 share
    assert "2026-06-15 12:00:00" in html  # as-of time
