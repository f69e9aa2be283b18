"""Two approvers deciding one proposal at the same moment, on PostgreSQL: exactly one
decision wins, the other is told what happened (AlreadyDecided), the line changes once.
SQLite serializes writers, so the race needs PostgreSQL's row locks and is skipped without."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from accounts.models import AuditEvent
from decisions.errors.overrides import AlreadyDecided
from decisions.models import OverrideProposal
from decisions.services import override_approve, override_propose, override_reject
from decisions.services.override_defaults import ensure_override_defaults
from lending.models import CreditLine, Notice
from lending.tests.factories import BorrowerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL's row locks")
    ensure_override_defaults()


def _race(*calls: Any) -> list[Any]:
    start = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        try:
            start.wait(timeout=10)
            outcomes[n] = calls[n]()
        except Exception as exc:  # reported by the assertions
            outcomes[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_two_approvers_at_once_exactly_one_decision_wins(analyst, manager, head_of_risk):
    borrower = BorrowerFactory(credit_limit=Decimal("10000.00"))
    line = CreditLine.objects.get(borrower=borrower)
    for _round in range(3):  # a few rounds: the race must hold every time, not by luck
        proposal = override_propose(
            actor=analyst,
            line=line,
            kind="limit",
            new_limit=line.credit_limit - Decimal("1000"),
            reason_code="hardship",
            justification="Borrower asked for a lower limit after a job loss.",
        )
        outcomes = _race(
            lambda p=proposal: override_approve(actor=manager, proposal=p, note="ok"),
            lambda p=proposal: override_reject(actor=head_of_risk, proposal=p, note="no"),
        )
        won = [o for o in outcomes if isinstance(o, OverrideProposal)]
        lost = [o for o in outcomes if isinstance(o, AlreadyDecided)]
        assert (len(won), len(lost)) == (1, 1), outcomes
        proposal.refresh_from_db()
        assert proposal.status == won[0].status
        assert str(proposal.get_status_display()) in lost[0].message
        decided = AuditEvent.objects.filter(
            object_id=str(proposal.pk), action__in=["override.approved", "override.rejected"]
        )
        assert decided.count() == 1
        line.refresh_from_db()
    approved = OverrideProposal.objects.filter(status="approved").count()
    assert line.credit_limit == Decimal("10000.00") - 1000 * approved
    assert Notice.objects.filter(borrower=borrower, kind="limit_changed").count() == approved
