"""The approver's inbox lists a proposal exactly when its owner may approve it: authority in
the band it was proposed in and in the borrower's CURRENT band, as approval judges. A borrower
re-scored into a worse band leaves the inbox of those whose authority stops short of it; a
better band does not bring in what was proposed on the worse one. A bounded number of
queries."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

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


def _line() -> CreditLine:
    return CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))


def test_a_borrower_rescored_into_a_worse_band_leaves_the_seniors_inbox(
    analyst, senior_analyst, head_of_risk
):
    line = _line()
    _score(line, 700)  # band A: a senior analyst may approve ¥1,000 more
    proposal = _propose(analyst, line, Decimal("21000"))
    assert [i.proposal.pk for i in inbox_for(senior_analyst)] == [proposal.pk]

    _score(line, 500)  # re-scored into band E: the head of risk's alone

    assert inbox_for(senior_analyst) == []
    assert [i.proposal.pk for i in inbox_for(head_of_risk)] == [proposal.pk]


def test_a_borrower_rescored_into_a_better_band_stays_out_of_the_seniors_inbox(
    analyst, senior_analyst, head_of_risk
):
    """What was proposed was judged in band E: approval asks for authority there too, so the
    inbox does not list what its owner could not approve."""
    line = _line()
    _score(line, 500)  # band E when proposed
    proposal = _propose(analyst, line, Decimal("21000"))
    assert inbox_for(senior_analyst) == []
    _score(line, 700)  # band A now
    assert inbox_for(senior_analyst) == []
    with pytest.raises(NoAuthority):  # approval agrees with the inbox
        override_approve(actor=senior_analyst, proposal=proposal, note="ok")
    proposal.refresh_from_db()
    assert proposal.status == OverrideStatus.PENDING
    assert [i.proposal.pk for i in inbox_for(head_of_risk)] == [proposal.pk]  # any band


def test_the_inbox_reads_a_fixed_number_of_queries_whatever_its_size(analyst, head_of_risk):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            inbox_for(head_of_risk)
        return len(queries)

    line = _line()
    _score(line, 700)
    _propose(analyst, line, Decimal("21000"))
    one = count()
    for _n in range(4):
        other = _line()
        _score(other, 600)
        _propose(analyst, other, Decimal("21000"))
    assert len(inbox_for(head_of_risk)) == 5
    assert count() == one
