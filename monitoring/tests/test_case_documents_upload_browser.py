"""The borrower sends the requested documents from a phone (a real browser, Debian's chromium,
Playwright, at 390x844): from the notice to the upload form, a PDF picked and sent, the thanks
shown, under the strict CSP and without scrolling sideways; the case is back in progress."""

from __future__ import annotations

import os

import pytest

from monitoring.choices import CaseStatus
from monitoring.models import CaseEvidence
from monitoring.services.case_documents import case_documents_request
from monitoring.services.cases import alerts_group
from monitoring.tests.cases_setup import make_alert
from monitoring.tests.test_case_documents_browser import CHROMIUM, _portal, browser

__all__ = ["browser"]  # the fixture, shared with the reading test

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture(autouse=True)
def _evidence_dir(settings, tmp_path):
    settings.RISKOPS_EVIDENCE_DIR = str(tmp_path / "evidence")


def test_the_borrower_sends_a_document_from_a_phone(
    browser, live_server, analyst, borrower_user, borrower_record, tmp_path
):
    (case,) = alerts_group(alert_ids=[make_alert(borrower_record).pk])
    case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    payslip = tmp_path / "payslip.pdf"
    payslip.write_bytes(b"%PDF-1.4\n% payslip\n")

    page, refused = _portal(browser, live_server, borrower_user.username)
    page.locator(".notice-docs_requested a.notice-upload").click()
    page.wait_for_selector("#documents-upload-form")
    assert "Proof of income" in page.locator("#requested-documents").inner_text()
    page.set_input_files("#documents-files", str(payslip))
    page.locator("#documents-upload-form button[type=submit]").click()
    page.wait_for_selector("#documents-closed")

    assert "we received 1 file" in page.content()
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    assert refused == []
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS
    assert list(CaseEvidence.objects.filter(case=case).values_list("file_name", flat=True)) == [
        "payslip.pdf"
    ]
