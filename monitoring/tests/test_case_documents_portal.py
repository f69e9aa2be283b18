"""The borrower sends the documents a case asked for, from the portal: the notice links to the
upload page, the files join the case's evidence, and the case is back with its analyst with
its SLA clock running again. Only the borrower the request was sent to may see or use it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from monitoring.choices import CaseStatus
from monitoring.models import Case, CaseEvidence
from monitoring.services import case_evidence
from monitoring.services.case_documents import case_documents_request
from monitoring.services.cases import alerts_group
from monitoring.tests.cases_setup import make_alert, make_borrower
from monitoring.tests.conftest import NOW

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n% payslip\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _evidence_dir(settings, tmp_path):
    settings.RISKOPS_EVIDENCE_DIR = str(tmp_path / "evidence")


def _asked(analyst, borrower) -> tuple[Case, int]:
    case = alerts_group(alert_ids=[make_alert(borrower).pk])[0]
    case = case_documents_request(
        actor=analyst, case=case, documents=["income_proof", "bank_statement"]
    )
    assert case.documents_notice_id is not None
    return case, case.documents_notice_id


def _login(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _post(client: Client, url: str, files: list[SimpleUploadedFile]):
    client.get(url)  # the form's CSRF cookie
    token = client.cookies["csrftoken"].value
    return client.post(
        url, {"files": files, "csrfmiddlewaretoken": token}, HTTP_ACCEPT_LANGUAGE="en"
    )


def _files_on_disk(settings) -> list[Path]:
    folder = Path(settings.RISKOPS_EVIDENCE_DIR)
    return sorted(folder.iterdir()) if folder.exists() else []


def test_the_borrower_follows_the_notice_and_sends_the_files(
    analyst, borrower_user, borrower_record, settings
):
    case, notice_id = _asked(analyst, borrower_record)
    client = _login(borrower_user)
    portal = client.get(reverse("lending:my-line"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    url = reverse("monitoring:my-documents", args=[notice_id])
    assert url in portal and "Send the documents" in portal

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Proof of income" in page and "Bank statement" in page
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        response = _post(
            client,
            url,
            [
                SimpleUploadedFile("payslip.pdf", PDF, "application/pdf"),
                SimpleUploadedFile("../../statement.png", PNG, "image/png"),
            ],
        )
    assert response.status_code == 302
    after = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "we received 2 files" in after and "This request is closed" in after

    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS and case.assignee_id == analyst.pk
    assert case.sla_paused == timedelta(hours=5)
    evidence = list(CaseEvidence.objects.filter(case=case).order_by("pk"))
    assert [e.file_name for e in evidence] == ["payslip.pdf", "statement.png"]
    assert all(e.uploaded_by_id == borrower_user.pk for e in evidence)
    assert {p.name for p in _files_on_disk(settings)} == {e.storage_key for e in evidence}
    assert all("payslip" not in e.storage_key for e in evidence)  # random stored names
    row = AuditEvent.objects.get(action="case.documents_received")
    assert row.actor_id == borrower_user.pk and row.after["evidence"] == [e.pk for e in evidence]
    assert AuditEvent.objects.filter(action="case.evidence_attached").count() == 2
    # The analyst sees them on the case's timeline.
    staff = Client()
    staff.force_login(analyst)
    detail = staff.get(reverse("monitoring:case-detail", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "payslip.pdf" in detail.content.decode()


def test_a_file_that_is_not_pdf_jpeg_or_png_is_refused_and_nothing_is_kept(
    analyst, borrower_user, borrower_record, settings
):
    case, notice_id = _asked(analyst, borrower_record)
    response = _post(
        _login(borrower_user),
        reverse("monitoring:my-documents", args=[notice_id]),
        [
            SimpleUploadedFile("payslip.pdf", PDF, "application/pdf"),
            SimpleUploadedFile("payslip2.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"),
        ],
    )
    assert response.status_code == 400
    assert "only PDF, JPEG or PNG files" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.WAITING
    assert not CaseEvidence.objects.exists() and _files_on_disk(settings) == []


def test_a_file_too_large_or_too_many_files_are_refused(
    analyst, borrower_user, borrower_record, settings, monkeypatch
):
    case, notice_id = _asked(analyst, borrower_record)
    monkeypatch.setattr(case_evidence, "EVIDENCE_MAX_BYTES", 1024)
    client = _login(borrower_user)
    url = reverse("monitoring:my-documents", args=[notice_id])
    big = _post(client, url, [SimpleUploadedFile("big.pdf", PDF + b"x" * 2000)])
    assert big.status_code == 400 and "The file was not attached" in big.content.decode()
    many = _post(client, url, [SimpleUploadedFile(f"p{n}.pdf", PDF + bytes([n])) for n in range(6)])
    assert many.status_code == 400 and "at most 5 files" in many.content.decode()
    none = _post(client, url, [])
    assert none.status_code == 400
    case.refresh_from_db()
    assert case.status == CaseStatus.WAITING
    assert not CaseEvidence.objects.exists() and _files_on_disk(settings) == []


def test_another_borrowers_request_is_404(analyst, borrower_user, django_user_model):
    stranger = make_borrower()
    case, notice_id = _asked(analyst, stranger)
    client = _login(borrower_user)
    url = reverse("monitoring:my-documents", args=[notice_id])
    assert client.get(url).status_code == 404
    client.get(reverse("lending:my-line"))
    token = client.cookies["csrftoken"].value
    response = client.post(
        url, {"files": [SimpleUploadedFile("a.pdf", PDF)], "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 404
    assert not CaseEvidence.objects.exists()
    assert client.get(reverse("monitoring:my-documents", args=[999999])).status_code == 404


def test_staff_cannot_upload_as_the_borrower(analyst, manager, borrower_record):
    case, notice_id = _asked(analyst, borrower_record)
    url = reverse("monitoring:my-documents", args=[notice_id])
    for user in (analyst, manager):
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == 404
        assert client.post(url, {"files": [SimpleUploadedFile("a.pdf", PDF)]}).status_code == 404
    assert not CaseEvidence.objects.exists()
    case.refresh_from_db()
    assert case.status == CaseStatus.WAITING


def test_the_form_without_its_csrf_token_is_refused(analyst, borrower_user, borrower_record):
    case, notice_id = _asked(analyst, borrower_record)
    response = _login(borrower_user).post(
        reverse("monitoring:my-documents", args=[notice_id]),
        {"files": [SimpleUploadedFile("a.pdf", PDF)]},
    )
    assert response.status_code == 403
    assert not CaseEvidence.objects.exists()


def test_replaying_the_form_does_not_attach_twice(analyst, borrower_user, borrower_record):
    case, notice_id = _asked(analyst, borrower_record)
    client = _login(borrower_user)
    url = reverse("monitoring:my-documents", args=[notice_id])
    first = _post(client, url, [SimpleUploadedFile("a.pdf", PDF)])
    again = _post(client, url, [SimpleUploadedFile("b.pdf", PDF + b"more")])
    assert first.status_code == again.status_code == 302
    assert CaseEvidence.objects.filter(case=case).count() == 1
    assert AuditEvent.objects.filter(action="case.documents_received").count() == 1
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "already answered" in page


def test_anonymous_is_sent_to_sign_in(analyst, borrower_record):
    _case, notice_id = _asked(analyst, borrower_record)
    response = Client().get(reverse("monitoring:my-documents", args=[notice_id]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
