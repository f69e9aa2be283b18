"""Overrides under four eyes: proposing, the authority matrix at its boundaries, hard blocks,
approval applying the change, rejection, changes requested and resubmitted, expiry and the
return of a temporary limit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import override_settings

from accounts.models import AuditEvent
from conftest import PASSWORD
from decisions.errors import NotAllowed
from decisions.errors_overrides import (
    AlreadyDecided,
    EvidenceRefused,
    FourEyesOverride,
    HardBlock,
    NoAuthority,
    NotYourProposal,
    OverrideInvalid,
    OverrideOpenExists,
    StepUpFailed,
    StepUpRequired,
)
from decisions.models import AuthorityRule, OverrideProposal
from decisions.models.overrides import OverrideStatus
from decisions.selectors_overrides import inbox_for, pending_override_ids
from decisions.services import (
    authority_rule_save,
    fraud_flag_set,
    override_approve,
    override_propose,
    override_reject,
    override_request_changes,
    override_resubmit,
    override_withdraw,
    overrides_expire,
    temporary_limits_revert,
)
from lending.models import CreditLine, Notice
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 20)
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture(autouse=True)
def _evidence_dir(tmp_path, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_DIR = tmp_path / "evidence"


def _line(limit: str = "20000.00", **kw) -> CreditLine:
    borrower = BorrowerFactory(credit_limit=Decimal(limit), **kw)
    return CreditLine.objects.get(borrower=borrower)


def _propose(actor, line, new_limit=None, kind="limit", **kw):
    defaults = {
        "reason_code": "new_income",
        "justification": "Payslips for three months show a higher salary.",
    }
    return override_propose(
        actor=actor, line=line, kind=kind, new_limit=new_limit, **{**defaults, **kw}
    )


def test_a_proposal_is_pending_and_the_policy_leaves_the_line_alone(analyst):
    line = _line()
    other = _line()
    p = _propose(analyst, line, Decimal("22000"), evidence_files=[("payslip.pdf", PDF)])
    assert p.status == OverrideStatus.PENDING
    assert (p.old_limit, p.new_limit, p.direction) == (
        Decimal("20000.00"),
        Decimal("22000.00"),
        "increase",
    )
    assert p.evidence.get().content_type == "application/pdf"
    assert pending_override_ids([line.borrower_id, other.borrower_id]) == {line.borrower_id}
    assert AuditEvent.objects.filter(action="override.proposed", object_id=str(p.pk)).exists()
    with pytest.raises(OverrideOpenExists):
        _propose(analyst, line, Decimal("23000"))
