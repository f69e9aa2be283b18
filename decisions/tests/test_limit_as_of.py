"""Point in time: features read the limit a line had at the observation date (not the one
the policy set since), and a run for a past as-of day reviews the lines on that day, not on the
wall-clock date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from decisions.features import chunk_features
from decisions.services.runs import chunk_rescore
from decisions.tests.test_bulk_rescoring import champion_and_policy  # noqa: F401 (fixture)
from lending.models import CreditLine
from lending.services import line_limit_set
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db
D = Decimal


def test_utilisation_at_a_past_date_uses_the_limit_in_force_then(manager):
    with time_machine.travel(at(2026, 1, 10, 12), tick=False):
        borrower = BorrowerFactory(credit_limit=D("10000.00"))
        DrawdownFactory(borrower=borrower, amount=D("5000.00"), disbursed_at=at(2026, 1, 10))
    with time_machine.travel(at(2026, 3, 1, 9), tick=False):
        line_limit_set(
            actor=manager, line=borrower.line, new_limit=D("20000"), reason_code="manual"
        )
    with time_machine.travel(at(2026, 3, 20, 9), tick=False):
        before = chunk_features(borrower_ids=[borrower.pk], as_of=date(2026, 2, 1))
        after = chunk_features(borrower_ids=[borrower.pk], as_of=date(2026, 3, 19))

    assert before.loc[borrower.pk, "utilisation"] == pytest.approx(0.5)  # 5,000 of 10,000
    assert after.loc[borrower.pk, "utilisation"] == pytest.approx(0.25)  # 5,000 of 20,000


def test_a_run_for_a_past_day_judges_days_past_due_on_that_day(champion_and_policy):  # noqa: F811
    """A loan whose first instalment (10 February) is unpaid: two days past due on the run's
    as-of day, months past due by the wall clock (which would freeze the line)."""
    with time_machine.travel(at(2026, 1, 10, 12), tick=False):
        past, today = (BorrowerFactory(credit_limit=D("10000.00")) for _ in range(2))
        for borrower in (past, today):
            DrawdownFactory(borrower=borrower, amount=D("5000.00"), disbursed_at=at(2026, 1, 10))
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        old = chunk_rescore(actor=None, run_id="", borrower_ids=[past.pk], as_of=date(2026, 2, 12))
        now = chunk_rescore(
            actor=None, run_id="", borrower_ids=[today.pk], as_of=date(2026, 11, 20)
        )

    assert "freeze" not in [d.action for d in old.decisions]
    assert CreditLine.objects.get(borrower=past).status == "active"
    assert [d.action for d in now.decisions] == ["freeze"]
    assert CreditLine.objects.get(borrower=today).status == "frozen"


def test_a_redelivered_chunk_writes_each_line_history_once(champion_and_policy):  # noqa: F811
    """250 cuts: on PostgreSQL the history rows go by COPY, in the chunk's transaction."""
    from decisions.models import ScoringChunk
    from decisions.services import scoring_chunk_run, scoring_run_start
    from decisions.tests.test_bulk_rescoring import _previously_scored
    from lending.models import LimitChange

    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrowers = [BorrowerFactory(credit_limit=D("5000.00")) for _ in range(250)]
        _previously_scored(champion_and_policy, borrowers)
        scoring_run_start(as_of=date(2026, 11, 20), chunk_size=1000, run_id="again")
        scoring_chunk_run(run_id="again", index=0)
        ScoringChunk.objects.filter(run__run_id="again").update(status="running")
        scoring_chunk_run(run_id="again", index=0)

    changes = LimitChange.objects.filter(kind="limit")
    assert changes.count() == 250
    assert set(changes.values_list("old_limit", "automatic", "reason_code")) == {
        (D("5000.00"), True, "policy")
    }
    line = CreditLine.objects.get(borrower=borrowers[0])
    assert changes.get(line=line).new_limit == line.credit_limit < D("5000.00")
