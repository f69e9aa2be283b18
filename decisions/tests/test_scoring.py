"""Scoring the book: champion and challenger, reasons, idempotent chunks."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from accounts.models import AuditEvent
from decisions.choices import ModelStatus
from decisions.models import Score
from decisions.scorecard import BIN_MISSING, PointsBin, PointsTable, TrainingResult
from decisions.services import (
    challenger_assigned,
    score_chunk,
    scorecard_set_status,
    scorecard_store,
)
from lending.tests.factories import BorrowerFactory, DrawdownFactory

pytestmark = pytest.mark.django_db


def _result(utilisation_points: tuple[float, float]) -> TrainingResult:
    low, high = utilisation_points
    table = PointsTable(
        bins=[
            PointsBin("utilisation", 0, "range", None, 0.5, points=low, count=5),
            PointsBin("utilisation", 1, "range", 0.5, None, points=high, count=5),
            PointsBin("utilisation", 2, BIN_MISSING, points=0),
            PointsBin("identity_mismatch", 0, "range", None, 0.5, points=300, count=5),
            PointsBin("identity_mismatch", 1, "range", 0.5, None, points=250, count=5),
            PointsBin("identity_mismatch", 2, BIN_MISSING, points=0),
        ]
    )
    return TrainingResult(
        table=table, auc=0.75, ks=0.4, gini=0.5, iv={}, train_rows=7, test_rows=3, bad_rate=0.1
    )


@pytest.fixture
def champion():
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    return scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)


def test_every_borrower_gets_a_score_with_inputs_and_reasons(champion):
    heavy = DrawdownFactory(amount=15000).borrower  # 75% of a ¥20,000 line
    light = BorrowerFactory()

    written = score_chunk(
        actor=None, run_id="run-1", borrower_ids=[heavy.pk, light.pk], as_of=date(2026, 2, 1)
    )

    assert written == 2
    heavy_score = Score.objects.get(borrower=heavy)
    assert heavy_score.total == 200 + 300
    assert heavy_score.inputs["utilisation"] == {"value": 0.75, "points": 200.0}
    assert heavy_score.reasons == ["R02"]  # utilisation lost 100 points
    light_score = Score.objects.get(borrower=light)
    assert (light_score.total, light_score.reasons, light_score.acting) == (600, [], True)
    assert AuditEvent.objects.filter(action="scores.computed").count() == 1


def test_a_redelivered_chunk_writes_nothing_twice(champion):
    borrower = BorrowerFactory()
    score_chunk(actor=None, run_id="run-1", borrower_ids=[borrower.pk], as_of=date(2026, 2, 1))
    again = score_chunk(
        actor=None, run_id="run-1", borrower_ids=[borrower.pk], as_of=date(2026, 2, 1)
    )
    assert Score.objects.count() == 1
    assert again == 0 or Score.objects.count() == 1


def test_without_a_champion_nothing_is_scored():
    borrower = BorrowerFactory()
    assert (
        score_chunk(actor=None, run_id="r", borrower_ids=[borrower.pk], as_of=date(2026, 2, 1)) == 0
    )
    assert not Score.objects.exists()


def test_the_challenger_is_scored_beside_the_champion_and_acts_for_its_share(champion, settings):
    settings.RISKOPS_CHALLENGER_SHARE = 0.5
    challenger = scorecard_store(actor=None, name="book", result=_result((310, 150)), target="x")
    scorecard_set_status(actor=None, model=challenger, status=ModelStatus.CHALLENGER)
    borrowers = [BorrowerFactory() for _ in range(6)]

    score_chunk(
        actor=None, run_id="run-2", borrower_ids=[b.pk for b in borrowers], as_of=date(2026, 2, 1)
    )

    for b in borrowers:
        rows = {s.model_id: s for s in Score.objects.filter(borrower=b)}
        assert set(rows) == {champion.pk, challenger.pk}
        on_challenger = challenger_assigned(borrower_id=b.pk)
        assert rows[challenger.pk].acting is on_challenger
        assert rows[champion.pk].acting is not on_challenger


def test_challenger_assignment_is_stable_and_near_its_share(settings):
    settings.RISKOPS_CHALLENGER_SHARE = 0.2
    first = [challenger_assigned(borrower_id=i) for i in range(1, 20001)]
    second = [challenger_assigned(borrower_id=i) for i in range(1, 20001)]
    assert first == second
    assert 0.18 < np.mean(first) < 0.22
