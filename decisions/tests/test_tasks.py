"""Re-scoring in Celery: after the book moves, and the whole book in idempotent chunks."""

from __future__ import annotations

from decimal import Decimal

import pytest
import time_machine

from decisions.choices import ModelStatus
from decisions.models import LimitDecision, Score, ScoringChunk, ScoringRun
from decisions.policy import DEFAULT_RULES
from decisions.services import (
    policy_activate,
    policy_draft,
    scorecard_set_status,
    scorecard_store,
    scoring_chunk_run,
)
from decisions.tasks import book_rescore_task
from decisions.tests.test_scoring import _result
from lending.services import repayment_record
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 20)


@pytest.fixture
def champion_and_policy(manager, head_of_risk):
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    draft = policy_draft(actor=manager, rules=DEFAULT_RULES)
    policy_activate(actor=head_of_risk, policy=draft)
    return model


def test_a_repayment_rescores_the_borrower_once_it_commits(
    champion_and_policy, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        loan = DrawdownFactory(amount=Decimal("1000.00"), disbursed_at=at(2026, 10, 1))
        Score.objects.all().delete()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            repayment_record(
                actor=None,
                loan_no=loan.loan_no,
                reference="R-1",
                amount=Decimal("100.00"),
                paid_at=at(2026, 11, 20, 9),
            )
    assert len(callbacks) == 1
    score = Score.objects.get(borrower=loan.borrower)
    assert score.run_id == "" and score.acting


def test_the_nightly_run_scores_the_whole_book_in_chunks_with_a_job_record(
    champion_and_policy, settings
):
    settings.RISKOPS_SCORING_CHUNK = 2
    with time_machine.travel(NOW, tick=False):
        borrowers = [BorrowerFactory() for _ in range(5)]
        run_id = book_rescore_task.delay(run_id="night-1").get()

    run = ScoringRun.objects.get(run_id=run_id)
    assert (run.status, run.chunks_total, run.borrowers) == ("done", 3, 5)
    assert list(run.chunks.values_list("status", flat=True)) == ["done"] * 3
    assert Score.objects.filter(run_id="night-1").count() == 5
    assert {s.borrower_id for s in Score.objects.all()} == {b.pk for b in borrowers}


def test_a_redelivered_chunk_applies_nothing_twice(champion_and_policy, settings):
    settings.RISKOPS_SCORING_CHUNK = 10
    with time_machine.travel(NOW, tick=False):
        BorrowerFactory(credit_limit=Decimal("5000.00"))
        book_rescore_task.delay(run_id="night-2").get()
        scores, decisions = Score.objects.count(), LimitDecision.objects.count()
        ScoringChunk.objects.filter(run__run_id="night-2").update(status="running")
        scoring_chunk_run(run_id="night-2", index=0)

    assert (Score.objects.count(), LimitDecision.objects.count()) == (scores, decisions)
    assert ScoringChunk.objects.get(run__run_id="night-2").attempts == 2


def test_what_one_batch_moves_is_rescored_by_one_task_per_chunk(champion_and_policy, monkeypatch):
    from decisions import tasks

    with time_machine.travel(NOW, tick=False):
        borrowers = [
            DrawdownFactory(amount=Decimal("1000.00"), disbursed_at=at(2026, 10, 1)).borrower
            for _ in range(3)
        ]
        Score.objects.all().delete()
        sent: list[list[int]] = []
        delay = tasks.borrowers_rescore_task.delay

        def counted(**kwargs):
            sent.append(kwargs["borrower_ids"])
            return delay(**kwargs)

        monkeypatch.setattr(tasks, "RESCORE_CHUNK", 2)
        monkeypatch.setattr(tasks.borrowers_rescore_task, "delay", counted)
        tasks.borrowers_rescore_queue([b.pk for b in borrowers])

    assert sent == [[borrowers[0].pk, borrowers[1].pk], [borrowers[2].pk]]
    assert set(Score.objects.values_list("borrower_id", flat=True)) == {b.pk for b in borrowers}
