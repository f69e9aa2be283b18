"""The chunk's rows written by COPY (PostgreSQL) read back as the ORM would have written them:
score rows with their inputs and reasons, and decision rows, whatever the run id holds."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from decisions.models import LimitDecision, Score
from decisions.services import reviews
from decisions.services.runs import chunk_rescore
from decisions.tests.test_bulk_rescoring import _previously_scored, champion_and_policy  # noqa: F401
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory, at

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

RUN = "copy\\run\twith\nodd chars"  # COPY's text format escapes these


def test_scores_and_decisions_copied_in_bulk_read_back_exactly(
    champion_and_policy,  # noqa: F811
    monkeypatch,
):
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    monkeypatch.setattr(reviews, "COPY_FROM", 1)  # the decisions go by COPY too
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrowers = [BorrowerFactory(credit_limit=Decimal("5000.00")) for _ in range(4)]
        _previously_scored(champion_and_policy, borrowers)
        result = chunk_rescore(
            actor=None, run_id=RUN, borrower_ids=[b.pk for b in borrowers], as_of=date(2026, 11, 20)
        )

    scores = {s.borrower_id: s for s in Score.objects.filter(run_id=RUN)}
    assert sorted(scores) == sorted(b.pk for b in borrowers)
    for score in scores.values():
        assert (score.total, score.acting, score.as_of) == (600, True, date(2026, 11, 20))
        assert score.inputs["utilisation"] == {"value": 0.0, "points": 300.0}
        assert isinstance(score.reasons, list)
    stored = {d.borrower_id: d for d in LimitDecision.objects.filter(run_id=RUN)}
    assert sorted(stored) == sorted(b.pk for b in borrowers)
    assert len(result.decisions) == 4
    for row in result.decisions:  # what the chunk returned is what was stored
        decision = stored[row.borrower_id]
        assert (decision.action, decision.reasons, decision.applied) == ("cut", ["C01"], True)
        assert (decision.old_limit, decision.new_limit) == (Decimal("5000.00"), Decimal("3500.00"))
        assert (row.action, row.reasons, row.new_limit) == ("cut", ["C01"], Decimal("3500.00"))
        assert decision.score_id == scores[row.borrower_id].pk == row.score_id
        assert decision.band == row.band and decision.policy_id == row.policy_id
    assert set(CreditLine.objects.values_list("credit_limit", flat=True)) == {Decimal("3500.00")}
