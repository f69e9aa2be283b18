"""The borrower reads a request for documents on a phone (a real browser, Debian's chromium,
Playwright, at 390x844): the list is visible and readable without scrolling sideways, under
the strict CSP; another borrower on the same site sees none of it."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache
from django.urls import reverse

from conftest import PASSWORD
from monitoring.services.case_documents import case_documents_request
from monitoring.services.cases import alerts_group
from monitoring.tests.cases_setup import make_alert, make_borrower

CHROMIUM = "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()
    yield
    cache.clear()


def _portal(browser, live_server, username: str):
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    page.goto(f"{live_server.url}{reverse('lending:my-line')}")
    return page, refused


def test_the_borrower_reads_the_documents_asked_on_a_phone_and_no_one_else_does(
    browser, live_server, analyst, borrower_user, borrower_record, django_user_model
):
    (case,) = alerts_group(alert_ids=[make_alert(borrower_record).pk])
    case_documents_request(
        actor=analyst,
        case=case,
        documents=["income_proof", "bank_statement", "other"],
        other="Rental contract for the flat in Pudong, signed this year",
        note="Staff-only remark",
    )
    stranger = make_borrower()
    django_user_model.objects.create_user(
        username="stranger", password=PASSWORD, role="borrower", borrower_id=stranger.pk
    )

    page, refused = _portal(browser, live_server, borrower_user.username)
    notice = page.locator(".notice-docs_requested")
    notice.wait_for()
    assert "To review your credit line we need the documents below." in notice.inner_text()
    items = notice.locator(".notice-documents li")
    assert items.all_inner_texts() == [
        "Proof of income",
        "Bank statement",
        "Other document: Rental contract for the flat in Pudong, signed this year",
    ]
    for i in range(items.count()):
        assert items.nth(i).is_visible()
    # Readable on the phone: nothing runs off the side of the screen.
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    box = notice.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert "Staff-only remark" not in page.content()
    assert refused == []

    other_page, _refused = _portal(browser, live_server, "stranger")
    other_page.wait_for_selector("#h-my-line")
    assert other_page.locator(".notice-docs_requested").count() == 0
    assert "Rental contract" not in other_page.content()
