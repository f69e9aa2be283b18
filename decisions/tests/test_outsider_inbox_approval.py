"""What the approver's inbox lists, the approver can decide: a proposal shown there is never
refused for want of authority when they approve it."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from decisions.errors.overrides import NoAuthority
from decisions.models.overrides import OverrideStatus
from decisions.selectors.overrides import inbox_for
from decisions.services import override_approve
from decisions.services.override_defaults import ensure_override_defaults
from decisions.tests.test_overrides_review import NOW, _propose, _score
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _defaults(tmp_path, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_DIR = tmp_path / "evidence"
    ensure_override_defaults()
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_proposal_is_in_an_inbox_exactly_when_its_owner_may_approve_it(analyst, senior_analyst):
    line = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
    _score(line, 500)  # band E when proposed: beyond a senior analyst
    proposal = _propose(analyst, line, Decimal("21000"))
    _score(line, 700)  # band A now: within a senior analyst's authority

    # Approval judges both the band proposed in and today's; so does the inbox.
    assert inbox_for(senior_analyst) == []
    with pytest.raises(NoAuthority):
        override_approve(actor=senior_analyst, proposal=proposal, note="ok")
    proposal.refresh_from_db()
    assert proposal.status == OverrideStatus.PENDING
