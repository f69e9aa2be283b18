"""In a real browser, the pages work under the strict Content Security Policy: no violation is
reported, htmx still swaps, and the Swagger UI (its own policy) still renders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from conftest import PASSWORD
from lending.tests.factories import BorrowerFactory

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    cache.clear()
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    # Every CSP violation, as the page reports it to itself:
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e => "
        "window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    yield page
    context.close()
    cache.clear()


def _violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__cspViolations"))


def test_the_staff_pages_run_under_the_strict_policy(page, live_server, analyst):
    BorrowerFactory(customer_no="C66600001", name="王五")
    BorrowerFactory(customer_no="C66600002", name="李四")
    page.goto(f"{live_server.url}/accounts/login/")
    assert _violations(page) == []
    page.fill("input[name=username]", analyst.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert _violations(page) == []

    page.goto(f"{live_server.url}/borrowers/")
    page.fill("input[name=q]", "王")
    page.wait_for_function(
        "() => !document.querySelector('#borrower-table').innerText.includes('C66600002')"
    )
    assert _violations(page) == []
    page.click("#borrower-table >> text=C66600001")
    page.wait_for_load_state("load")
    assert _violations(page) == []


def test_the_swagger_ui_renders_under_its_own_policy(page, live_server, analyst):
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info")

    assert "RiskOps API" in page.inner_text(".swagger-ui .info")
    assert _violations(page) == []
