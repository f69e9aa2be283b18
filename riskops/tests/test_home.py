"""The home page at `/`: who may open it, where a borrower lands, figures equal to hand-computed
sums; and the error pages a mistyped, refused or failing address shows (DEBUG off)."""

from __future__ import annotations

import io
import logging
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
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


def test_a_borrower_opening_the_home_address_lands_on_their_own_line(client, borrower_user):
    client.force_login(borrower_user)

    response = client.get(reverse("home"), follow=True)

    assert response.redirect_chain == [(reverse("lending:my-line"), 302)]
    assert response.status_code == 200
    assert "lending/my_line.html" in [t.name for t in response.templates]


def test_the_service_account_is_still_refused_the_home_page(client, service_user):
    client.force_login(service_user)  # signed in, but neither staff nor a borrower

    assert client.get(reverse("home")).status_code == 403


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


def test_the_refresh_task_puts_fresh_figures_in_the_cache(small_book):
    from lending.models import CreditLine
    from lending.tasks import book_summary_refresh_task

    before = book_summary()["total_limit"]
    line = CreditLine.objects.exclude(status="closed").order_by("pk")[0]
    CreditLine.objects.filter(pk=line.pk).update(credit_limit=line.credit_limit + 1000)
    assert book_summary()["total_limit"] == before  # the cached figures, until refreshed

    book_summary_refresh_task.delay()

    assert book_summary()["total_limit"] == before + 1000


def test_summary_takes_three_queries_however_large_the_book(small_book, django_assert_num_queries):
    # The borrower count, one pass over the lines by bucket, one over what is owed beyond
    # principal (interest and penalty due).
    with django_assert_num_queries(3):
        book_summary()


def test_home_page_shows_the_figures(client, analyst, small_book):
    client.force_login(analyst)
    html = client.get(reverse("home")).content.decode()
    assert "¥43,000.00" in html
    assert "¥20,000.00" in html
    assert "46.51%" in html  # utilisation 20,000 / 43,000
    assert "30.00%" in html  # M5 share
    assert "2026-06-15 12:00:00" in html  # as-of time


# The error pages, as the demo serves them with DEBUG off (test_run_script.py checks the default).


@pytest.fixture
def console_log():
    """What the console handler (the run script's web.log) writes while the test runs."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.StreamHandler) and h.get_name() == "console"
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


@pytest.fixture
def failing_home(monkeypatch):
    """The home page's figures fail: a bug, as a 500 would meet the user."""

    def broken(**kwargs):
        raise RuntimeError("figures unavailable")

    monkeypatch.setattr("riskops.views.book_summary", broken)


@pytest.mark.parametrize(
    ("language", "title", "lang"), [("en", "Not found", "en"), ("zh-hans", "未找到", "zh-Hans")]
)
def test_a_mistyped_address_shows_a_friendly_404_without_the_url_list(
    client, analyst, language, title, lang
):
    client.force_login(analyst)

    response = client.get("/borrowerz/?bucket=M1", HTTP_ACCEPT_LANGUAGE=language)

    html = response.content.decode()
    assert response.status_code == 404
    assert f'<html lang="{lang}">' in html
    assert f"<h1>{title}</h1>" in html
    assert "URLconf" not in html  # Django's debug page lists every URL pattern
    assert "api/schema/" not in html
    assert f'href="{reverse("home")}"' in html  # a way back


def test_a_borrowers_404_leads_back_to_their_line(client, borrower_user):
    client.force_login(borrower_user)

    html = client.get("/borrowers/me/nothing/").content.decode()

    assert reverse("lending:my-line") in html


@pytest.mark.parametrize(("language", "title"), [("en", "Not allowed"), ("zh-hans", "无权访问")])
def test_a_refused_page_is_friendly_in_both_languages(client, borrower_user, language, title):
    client.force_login(borrower_user)

    response = client.get(reverse("lending:borrower-list"), HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 403
    assert f"<h1>{title}</h1>" in response.content.decode()
    assert reverse("lending:my-line") in response.content.decode()


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "The request failed. Reload the page and try again."),
        ("zh-hans", "请求失败，请刷新页面后重试。"),
    ],
)
def test_a_server_error_shows_the_friendly_500_page(client, analyst, failing_home, language, text):
    client.raise_request_exception = False
    client.force_login(analyst)

    response = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE=language)

    html = response.content.decode()
    assert response.status_code == 500
    assert "500.html" in [t.name for t in response.templates]
    assert text in html
    assert "figures unavailable" not in html  # nothing of the error reaches the page
    assert "Traceback" not in html


def test_a_bad_host_gets_the_friendly_400_page(client):
    response = client.get(reverse("home"), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert "400.html" in [t.name for t in response.templates]
    assert "evil.example" not in response.content.decode()


def test_a_stale_form_gets_the_friendly_csrf_page(analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)

    response = client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})

    assert response.status_code == 403
    assert "403_csrf.html" in [t.name for t in response.templates]
    assert "This form has expired" in response.content.decode()


def test_a_refused_page_is_one_line_in_the_log_without_a_traceback(
    client, borrower_user, console_log
):
    client.force_login(borrower_user)

    client.get(reverse("lending:borrower-list"))
    client.get(reverse("home"), HTTP_HOST="evil.example")  # django.security: a 400

    log = console_log.getvalue()
    refusals = [line for line in log.splitlines() if " django.request " in line]
    refusals += [line for line in log.splitlines() if " django.security." in line]
    assert len(refusals) == 2
    assert "WARNING django.request Forbidden (Permission denied): /borrowers/" in refusals[0]
    assert "Invalid HTTP_HOST header: 'evil.example'" in refusals[1]
    assert "Traceback" not in log


def test_a_server_error_is_logged_with_its_traceback(client, analyst, failing_home, console_log):
    client.raise_request_exception = False
    client.force_login(analyst)

    client.get(reverse("home"))

    log = console_log.getvalue()
    assert "ERROR django.request Internal Server Error: /" in log
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: figures unavailable" in log


@pytest.mark.django_db
def test_an_unknown_api_url_answers_json_in_the_api_error_shape(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"
    # A page URL that does not exist is still the friendly HTML page.
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")
