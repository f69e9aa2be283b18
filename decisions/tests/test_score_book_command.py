"""manage.py score_book runs what the nightly task runs: scores and the limit review."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from decisions.choices import RunStatus
from decisions.models import LimitDecision, Score, ScoringRun
from decisions.tests.test_bulk_rescoring import _previously_scored, champion_and_policy  # noqa: F401
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db


def test_score_book_scores_and_reviews_limits_as_the_nightly_run(champion_and_policy):  # noqa: F811
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrowers = [BorrowerFactory(credit_limit=Decimal("5000.00")) for _ in range(5)]
        _previously_scored(champion_and_policy, borrowers)  # 680 before; 600 now: a cut (C01)
        out = StringIO()
        call_command("score_book", "--chunk-size", "2", "--run-id", "cmd-t1", stdout=out)

    run = ScoringRun.objects.get(run_id="cmd-t1")
    assert (run.status, run.chunks_total, run.borrowers) == (RunStatus.DONE, 3, 5)
    assert Score.objects.filter(run_id="cmd-t1").count() == 5
    decisions = LimitDecision.objects.filter(run_id="cmd-t1")
    assert sorted(d.borrower_id for d in decisions) == sorted(b.pk for b in borrowers)
    assert {(d.action, d.applied) for d in decisions} == {("cut", True)}
    assert set(CreditLine.objects.values_list("credit_limit", flat=True)) == {Decimal("3500.00")}
    assert "limit decisions: cut 5" in out.getvalue()

    # Resuming the same run id writes nothing twice.
    with time_machine.travel(at(2026, 11, 20, 10), tick=False):
        call_command("score_book", "--run-id", "cmd-t1", stdout=StringIO())
    assert Score.objects.filter(run_id="cmd-t1").count() == 5
    assert LimitDecision.objects.filter(run_id="cmd-t1").count() == 5
    assert run.as_of == date(2026, 11, 20)
