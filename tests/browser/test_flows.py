"""End-to-end flows in a real browser: Debian's chromium driven by Playwright's sync API."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from conftest import PASSWORD
from lending.models import PiiAccess
from lending.tests.factories import BorrowerFactory, DrawdownFactory

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def book():
    """Two borrowers through the services: one current with a loan, one with nothing drawn."""
    now = timezone.now()
    wang = BorrowerFactory(
        customer_no="C55500001",
        name="王小明",
        mobile="13912345678",
        city="Shanghai",
        credit_limit=Decimal("20000.00"),
    )
    DrawdownFactory(borrower=wang, amount=Decimal("5000.00"), disbursed_at=now - timedelta(days=3))
    BorrowerFactory(customer_no="C55500002", name="李四", credit_limit=Decimal("10000.00"))
    return {"wang": wang}


def _login(page, live_server, username, password=PASSWORD):
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def test_analyst_sees_home_figures_searches_opens_a_borrower_and_switches_language(
    page, live_server, analyst, book
):
    _login(page, live_server, analyst.username)
    assert page.url == f"{live_server.url}/"
    assert page.inner_text("#kpi-borrowers") == "2"
    assert page.inner_text("#kpi-total-limit") == "¥30,000.00"
    assert page.inner_text("#kpi-outstanding") == "¥5,000.00"

    page.click("nav.mainnav >> text=Borrowers")
    page.fill("input[name=q]", "王")
    # htmx swaps the table after the debounce; the other borrower disappears.
    page.wait_for_function(
        "() => !document.querySelector('#borrower-table').innerText.includes('C55500002')"
    )
    assert "q=" in page.url  # the search is in the address bar, so it can be shared
    page.click("#borrower-table >> text=C55500001")
    page.wait_for_load_state()
    assert page.inner_text("#pii-mobile .pii-value") == "139****5678"
    assert page.locator("details.reveal").count() == 0  # analysts cannot reveal
    assert "13912345678" not in page.content()

    page.click("button[name=language][value=zh-hans]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.get_attribute("button[name=language][value=zh-hans]", "aria-pressed") == "true"
    assert page.url.endswith(f"/borrowers/{book['wang'].pk}/")  # back on the same page


def test_senior_analyst_reveals_a_mobile_with_a_reason(page, live_server, senior_analyst, book):
    _login(page, live_server, senior_analyst.username)
    page.goto(f"{live_server.url}/borrowers/{book['wang'].pk}/")
    page.click("#pii-mobile summary")
    page.fill("#reason-mobile", "short")
    page.click("#pii-mobile button[type=submit]")
    page.wait_for_selector("#pii-mobile .error")  # refused in place: the reason is too short
    assert not PiiAccess.objects.exists()

    page.fill("#reason-mobile", "Dispute D-2026-001: call the borrower back")
    page.click("#pii-mobile button[type=submit]")
    page.wait_for_selector("#pii-mobile .is-revealed")
    assert page.inner_text("#pii-mobile .is-revealed") == "13912345678"
    access = PiiAccess.objects.get()
    assert (access.actor_id, access.field) == (senior_analyst.pk, "mobile")


def test_five_bad_passwords_lock_out_the_right_one(page, live_server, analyst):
    for _ in range(5):
        _login(page, live_server, analyst.username, "wrong-password-123")
        assert page.locator(".alert-error").count() == 1
    _login(page, live_server, analyst.username)
    assert "Account locked" in page.inner_text("h1")
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url  # still not logged in


def test_borrower_sees_their_own_line_on_a_phone(browser, live_server, borrower_user):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    page = context.new_page()
    try:
        _login(page, live_server, borrower_user.username)
        assert page.url.endswith("/borrowers/me/")
        assert page.inner_text("#my-available") == "¥20,000.00"
        # Nothing is wider than the phone's screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.goto(f"{live_server.url}/")
        assert page.url.endswith("/borrowers/me/")  # `/` is their own line, not a refusal
        assert page.inner_text("#my-available") == "¥20,000.00"
    finally:
        context.close()


def test_language_switch_keeps_the_filter_and_the_page_being_read(
    page, live_server, analyst, monkeypatch
):
    # Two borrowers a page, five in M1 (their first instalment ten days late): three pages.
    monkeypatch.setattr("lending.selectors.pages.PAGE_SIZE", 2)
    for _ in range(5):
        DrawdownFactory(disbursed_at=timezone.now() - timedelta(days=40))
    BorrowerFactory()  # M0, filtered out
    _login(page, live_server, analyst.username)
    page.goto(f"{live_server.url}/borrowers/")

    page.select_option("select[name=bucket]", "M1")  # htmx swaps the table, pushes the URL
    page.wait_for_url("**bucket=M1**")
    page.click("a[rel=next]")
    page.wait_for_url("**after=**")
    reading = page.url
    customers = page.locator("#borrower-table tbody tr td:first-child").all_inner_texts()

    page.click("button[name=language][value=zh-hans]")
    page.wait_for_load_state()

    assert page.url == reading  # same path, same ?q=&status=&bucket=M1&city=&after=…
    assert page.get_attribute("html", "lang") == "zh-Hans"
    assert page.input_value("select[name=bucket]") == "M1"
    assert page.locator("#borrower-table tbody tr td:first-child").all_inner_texts() == customers


def test_a_mistyped_address_shows_a_friendly_page_without_the_url_list(page, live_server, analyst):
    _login(page, live_server, analyst.username)

    response = page.goto(f"{live_server.url}/borrowerz/")

    assert response is not None and response.status == 404
    assert page.inner_text("h1") == "Not found"
    assert "URLconf" not in page.content()
    page.click("main >> text=Go to the home page")
    assert page.url == f"{live_server.url}/"
