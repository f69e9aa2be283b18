"""An analyst works a case to the end in a real browser (Debian's chromium, Playwright): an
alert raised by the engine's signal becomes a case, the queue page shows it live (htmx pulse),
"Next case" takes it, and the analyst comments, freezes the line and resolves it as confirmed
fraud. Under the strict CSP, with no violation."""

from __future__ import annotations

import os

import pytest
from django.core.cache import cache

from conftest import PASSWORD
from decisions.models.flags import RiskFlag
from lending.choices import LineStatus
from monitoring.choices import CaseStatus, Severity
from monitoring.models import Case
from monitoring.tests.cases_setup import make_alert, make_borrower, raise_alerts

CHROMIUM = "/usr/bin/chromium"

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
def _clean(settings, tmp_path):
    settings.RISKOPS_EVIDENCE_DIR = str(tmp_path / "evidence")
    cache.clear()
    yield
    cache.clear()


def test_an_analyst_works_a_case_to_the_end_in_the_browser(browser, live_server, analyst):
    borrower = make_borrower(used="6000.00")
    raise_alerts(make_alert(borrower, severity=Severity.CRITICAL))  # after commit: grouped now
    case = Case.objects.get(borrower=borrower)

    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", analyst.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()

    page.click("nav.mainnav >> text=Cases")
    page.click(".case-tabs >> text=Fraud")
    page.wait_for_selector(f"text=#{case.pk}")
    # The live panel, loaded by htmx: one unassigned case waits in the fraud queue.
    page.wait_for_selector("#case-pulse .pulse-item")
    page.click("button:has-text('Next case')")
    page.wait_for_url(f"**/monitoring/cases/{case.pk}/")

    page.fill("textarea[name=body]", "Called the borrower; the phone is off.")
    page.click("button:has-text('Add comment')")
    page.wait_for_selector("text=Called the borrower; the phone is off.")

    page.select_option("#freeze-code", "fraud")
    page.fill("#freeze-note", "Mule pattern")
    page.click("button:has-text('Freeze the line')")
    page.wait_for_selector("text=Line frozen from the case")

    page.click("button:has-text('Resolve case')")  # no disposition: refused in place
    page.wait_for_selector("text=Choose a disposition.")
    page.select_option("select[name=disposition]", "confirmed_fraud")
    page.fill("textarea[name=note]", "Account used to move a ring's money.")
    page.click("button:has-text('Resolve case')")
    page.wait_for_selector(".badge.case-resolved")

    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    assert case.assignee_id == analyst.pk
    borrower.line.refresh_from_db()
    assert borrower.line.status == LineStatus.FROZEN
    assert RiskFlag.objects.filter(borrower_id=borrower.pk, cleared_at=None).exists()
    assert refused == []
    context.close()
