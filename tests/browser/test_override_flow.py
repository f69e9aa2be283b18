"""A limit override end to end in a real browser (Debian's chromium, Playwright's sync API):
an analyst proposes a raise from the borrower page with a payslip attached, a senior analyst
finds it on their home page, opens it with the borrower's score beside it and approves, and
the borrower sees the new limit and why in the portal."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from conftest import PASSWORD
from decisions.choices import ModelStatus
from decisions.models import OverrideProposal, Score
from decisions.services import scorecard_set_status, scorecard_store
from decisions.services.override_defaults import ensure_override_defaults
from decisions.tests.test_views import _result
from lending.tests.factories import BorrowerFactory
from tests.browser.test_policy_flow import CHROMIUM, Session
from tests.browser.test_policy_flow import browser as browser  # noqa: F401  (the fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture(autouse=True)
def setup(tmp_path, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_DIR = tmp_path / "evidence"
    cache.clear()
    ensure_override_defaults()  # a transaction test empties the tables the migration seeded
    yield
    cache.clear()


@pytest.fixture
def borrower(django_user_model):
    """A borrower in band B with a ¥5,000 line, and their portal login."""
    borrower = BorrowerFactory(name="林芳", credit_limit=Decimal("5000.00"))
    model = scorecard_store(actor=None, name="book", result=_result(), target="90+")
    model = scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    Score.objects.create(
        borrower=borrower,
        model=model,
        total=645,  # band B
        inputs={"utilisation": {"value": 0.2, "points": 300.0}},
        reasons=["R05"],
        as_of=timezone.localdate(),
        scored_at=timezone.now(),
    )
    django_user_model.objects.create_user(
        username="lin", password=PASSWORD, role="borrower", borrower_id=borrower.pk
    )
    return borrower


def test_propose_approve_and_the_borrower_sees_the_new_limit(
    browser,  # noqa: F811
    live_server,
    analyst,
    senior_analyst,
    borrower,
    tmp_path,
):
    payslip = tmp_path / "payslip.pdf"
    payslip.write_bytes(b"%PDF-1.4\n% three payslips\n")

    # The analyst proposes +¥2,000 from the borrower page, with the payslips attached.
    alice = Session(browser, live_server, analyst.username)
    page = alice.page
    page.goto(f"{live_server.url}/borrowers/{borrower.pk}/")
    page.click("#propose-override")  # the panel decisions puts on the page
    page.wait_for_selector("#propose-form")
    page.select_option("select[name=kind]", "limit")
    page.fill("input[name=new_limit]", "7000")
    page.select_option("select[name=reason]", "new_income")
    page.fill("textarea[name=justification]", "Payslips show a salary of ¥12,000 a month.")
    page.set_input_files("input[name=evidence]", str(payslip))
    page.click("#submit-proposal")
    page.wait_for_url("**/decisions/overrides/*/")
    assert "awaiting another person" in page.inner_text("#decision-panel").lower()
    assert page.locator("#approve").count() == 0  # never their own
    alice.close()
    proposal = OverrideProposal.objects.get()
    assert proposal.evidence.count() == 1

    # The senior analyst's home opens on the queue; the next item is this proposal.
    sam = Session(browser, live_server, senior_analyst.username)
    page = sam.page
    page.wait_for_selector("#home-queue-count")
    assert page.inner_text("#home-queue-count") == "1"
    page.click("#override-queue-panel >> text=Open the next item")
    page.wait_for_url(f"**/decisions/overrides/{proposal.pk}/")
    page.wait_for_selector("#score-total")  # the borrower's score beside the proposal
    assert page.inner_text("#score-total") == "645"
    assert "¥5,000.00" in page.inner_text("#proposal-change")
    page.fill("textarea[name=note]", "Payslips checked against the employer's letter.")
    page.click("#approve")
    page.wait_for_url("**/decisions/overrides/")  # the queue: nothing left
    assert "approved and applied" in page.inner_text(".messages")
    sam.close()
    proposal.refresh_from_db()
    assert (proposal.status, proposal.decided_by_id) == ("approved", senior_analyst.pk)

    # The borrower, on a phone, sees the new limit and the reason.
    lin = Session(browser, live_server, "lin", width=390, height=844)
    page = lin.page
    assert page.url.endswith("/borrowers/me/")
    assert "¥7,000.00" in page.inner_text(".portal-hero")
    notices = page.inner_text("#my-notices")
    assert "changed from ¥5,000.00 to ¥7,000.00" in notices
    assert "Approved override" in notices
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    lin.close()

    assert alice.refused == [] and sam.refused == [] and lin.refused == []
