"""Evidence over the API, posted twice (a client's retry after a lost answer, a double click):
the proposal keeps one copy of each file, one audit row, and its five-file quota untouched."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from decisions.models import OverrideEvidence
from decisions.tests.test_overrides_evidence_api import _api, _defaults, _url, proposal  # noqa: F401
from decisions.tests.test_overrides_review import PDF

pytestmark = pytest.mark.django_db


def test_the_same_file_posted_twice_is_kept_once(analyst, proposal):  # noqa: F811
    for _attempt in range(2):
        response = _api(analyst).post(
            _url(proposal),
            {"files": [SimpleUploadedFile("payslip.pdf", PDF)]},
            format="multipart",
        )
        assert response.status_code == 201, response.content
        assert [e["name"] for e in response.json()["evidence"]] == ["payslip.pdf"]

    assert OverrideEvidence.objects.filter(proposal=proposal).count() == 1
    assert AuditEvent.objects.filter(action="override.evidence_added").count() == 1


def test_one_file_twice_in_one_post_is_kept_once(analyst, proposal):  # noqa: F811
    response = _api(analyst).post(
        _url(proposal),
        {"files": [SimpleUploadedFile("a.pdf", PDF), SimpleUploadedFile("b.pdf", PDF)]},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert OverrideEvidence.objects.filter(proposal=proposal).count() == 1
