"""Evidence files over the API: the proposer posts multipart files to their proposal in flight,
with the pages' checks (type by first bytes, size, count); anyone else, a decided proposal, or
a refused file is a 409 with its code and nothing stored."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from decisions.models import OverrideEvidence
from decisions.services import override_reject
from decisions.services.override_defaults import ensure_override_defaults
from decisions.tests.test_overrides_review import NOW, PDF, _propose
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.fixture(autouse=True)
def _defaults(tmp_path, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_DIR = tmp_path / "evidence"
    ensure_override_defaults()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def proposal(analyst):
    line = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
    return _propose(analyst, line, Decimal("21000"))


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _url(proposal) -> str:
    return f"/api/v1/overrides/{proposal.pk}/evidence/"


def _stored(settings) -> list[Path]:
    folder = Path(settings.RISKOPS_OVERRIDE_EVIDENCE_DIR)
    return list(folder.iterdir()) if folder.exists() else []


def test_the_proposer_adds_files_and_sees_them_on_the_proposal(analyst, proposal, settings):
    response = _api(analyst).post(
        _url(proposal),
        {"files": [SimpleUploadedFile("payslip.pdf", PDF), SimpleUploadedFile("id.png", PNG)]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert [(e["name"], e["type"]) for e in response.json()["evidence"]] == [
        ("payslip.pdf", "application/pdf"),
        ("id.png", "image/png"),
    ]
    assert len(_stored(settings)) == 2
    assert all("payslip" not in p.name for p in _stored(settings))  # random stored names
    row = AuditEvent.objects.get(action="override.evidence_added")
    assert row.actor_id == analyst.pk and len(row.after["evidence"]) == 2


def test_a_file_of_another_type_is_refused_and_nothing_kept(analyst, proposal, settings):
    response = _api(analyst).post(
        _url(proposal),
        {
            "files": [
                SimpleUploadedFile("ok.pdf", PDF),
                SimpleUploadedFile("evil.pdf", b"<html><script>x</script>"),
            ]
        },
        format="multipart",
    )
    assert response.status_code == 409 and response.json()["code"] == "evidence_refused"
    assert not OverrideEvidence.objects.exists() and _stored(settings) == []


def test_a_file_too_large_and_too_many_files_are_refused(analyst, proposal, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_MAX_BYTES = 64
    big = _api(analyst).post(
        _url(proposal), {"files": [SimpleUploadedFile("big.pdf", PDF * 10)]}, format="multipart"
    )
    assert big.status_code == 409 and big.json()["code"] == "evidence_refused"
    many = _api(analyst).post(
        _url(proposal),
        {"files": [SimpleUploadedFile(f"p{n}.pdf", PDF + bytes([n])) for n in range(6)]},
        format="multipart",
    )
    assert many.status_code == 409 and "at most 5" in many.json()["message"]
    none = _api(analyst).post(_url(proposal), {}, format="multipart")
    assert none.status_code in {400, 409}
    assert not OverrideEvidence.objects.exists() and _stored(settings) == []


def test_someone_else_may_not_add_evidence(senior_analyst, proposal, settings):
    response = _api(senior_analyst).post(
        _url(proposal), {"files": [SimpleUploadedFile("a.pdf", PDF)]}, format="multipart"
    )
    assert response.status_code == 409 and response.json()["code"] == "not_your_proposal"
    assert not OverrideEvidence.objects.exists() and _stored(settings) == []


def test_a_decided_proposal_takes_no_more_evidence(analyst, head_of_risk, proposal):
    override_reject(actor=head_of_risk, proposal=proposal, note="Not enough")
    response = _api(analyst).post(
        _url(proposal), {"files": [SimpleUploadedFile("a.pdf", PDF)]}, format="multipart"
    )
    assert response.status_code == 409 and response.json()["code"] == "already_decided"
    assert not OverrideEvidence.objects.exists()


def test_non_staff_and_json_are_refused(borrower_user, analyst, proposal):
    borrower = _api(borrower_user).post(
        _url(proposal), {"files": [SimpleUploadedFile("a.pdf", PDF)]}, format="multipart"
    )
    assert borrower.status_code == 403
    as_json = _api(analyst).post(_url(proposal), {"files": []}, format="json")
    assert as_json.status_code == 415
    assert not OverrideEvidence.objects.exists()
