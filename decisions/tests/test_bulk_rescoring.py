"""The whole-book path in bulk: set-based features, COPY'd scores, the chunk review's writes.

On PostgreSQL the features come from SQL aggregates (lending.selectors.book_aggregates): they
must equal the pandas path over book_columns on a seeded book, at several dates. The chunk
review writes what the single-line services write (the line, a notice, an audit row, the
decision), skips a line that moved since it was read, and a redelivered chunk writes nothing
twice.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest
import time_machine

from accounts.models import AuditEvent
from decisions.choices import ModelStatus
from decisions.features import FEATURE_NAMES, book_frames, chunk_features, features_for_chunk
from decisions.models import LimitDecision, Score, ScoringChunk
from decisions.policy import DEFAULT_RULES
from decisions.services import (
    active_policy,
    policy_activate,
    policy_draft,
    scorecard_set_status,
    scorecard_store,
    scoring_chunk_run,
    scoring_run_start,
)
from decisions.services.reviews import chunk_review, chunk_state
from decisions.services.runs import chunk_rescore
from decisions.tests.test_scoring import _result
from lending.choices import LineStatus, NoticeKind
from lending.models import Borrower, CreditLine, Notice
from lending.selectors import book_columns
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db
AS_OF = date(2026, 10, 31)


@pytest.fixture
def champion_and_policy(manager, head_of_risk):
    """A champion scoring everyone 600 here (band C), and the default policy in force."""
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    policy_activate(actor=head_of_risk, policy=policy_draft(actor=manager, rules=DEFAULT_RULES))
    return model


@pytest.fixture
def seeded_book():
    from demo.seeding import SeedOptions, ensure_staff_logins, seed_book

    with time_machine.travel(at(2026, 11, 1, 8), tick=False):
        service, _ = ensure_staff_logins()
        seed_book(
            SeedOptions(borrowers=400, months=12, seed=11, as_of=AS_OF),
            service_user_id=service.pk,
        )
    return list(Borrower.objects.order_by("pk").values_list("pk", flat=True))


def test_the_set_based_features_equal_the_pandas_path_on_a_seeded_book(seeded_book):
    for as_of in (AS_OF, AS_OF - timedelta(days=95), AS_OF - timedelta(days=240)):
        fast = chunk_features(borrower_ids=seeded_book, as_of=as_of)
        reference = features_for_chunk(
            book_frames(book_columns(borrower_ids=seeded_book, as_of=as_of)), as_of=as_of
        ).sort_index()
        assert list(fast.index) == list(reference.index) == seeded_book
        for name in FEATURE_NAMES:
            assert np.allclose(fast[name], reference[name], rtol=1e-9, atol=1e-9), name
    # The book is not trivial: the features vary.
    frame = chunk_features(borrower_ids=seeded_book, as_of=AS_OF)
    for name in ("max_dpd_ever", "on_time_streak", "utilisation", "drawdowns_90d"):
        assert frame[name].nunique() > 2, name


def _previously_scored(model, borrowers, total=680):
    """An acting score from before the run: the run's 600 is a drop of 80, a cut (C01)."""
    Score.objects.bulk_create(
        Score(
            borrower=b,
            model=model,
            total=total,
            inputs={},
            reasons=[],
            as_of=date(2026, 11, 1),
            scored_at=at(2026, 11, 1),
        )
        for b in borrowers
    )


def test_a_whole_book_run_writes_scores_decisions_notices_and_audit_rows_in_bulk(
    champion_and_policy,
):
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrowers = [BorrowerFactory(credit_limit=Decimal("5000.00")) for _ in range(6)]
        _previously_scored(champion_and_policy, borrowers)
        CreditLine.objects.filter(borrower=borrowers[0]).update(status=LineStatus.FROZEN)
        run = scoring_run_start(as_of=date(2026, 11, 20), chunk_size=4, run_id="bulk-1")
        audits_before = AuditEvent.objects.count()
        for index in range(run.chunks_total):
            scoring_chunk_run(run_id="bulk-1", index=index)

    scores = Score.objects.filter(run_id="bulk-1")
    assert scores.count() == 6
    assert all(s.total == 600 and s.inputs["utilisation"]["points"] == 300 for s in scores)
    decisions = LimitDecision.objects.filter(run_id="bulk-1")
    # The frozen line holds (unfreezing is a person's decision); the five others are cut.
    assert sorted(d.borrower_id for d in decisions) == sorted(b.pk for b in borrowers[1:])
    for decision in decisions:
        assert (decision.action, decision.reasons, decision.applied) == ("cut", ["C01"], True)
        assert (decision.old_limit, decision.new_limit) == (Decimal("5000"), Decimal("3500"))
        assert decision.score is not None
        assert decision.score.run_id == "bulk-1" and decision.score.acting
        line = CreditLine.objects.get(borrower_id=decision.borrower_id)
        assert line.credit_limit == Decimal("3500.00")
        notice = Notice.objects.get(borrower_id=decision.borrower_id)
        assert (notice.kind, notice.params) == (
            NoticeKind.LIMIT_CHANGED,
            {"old": "5000.00", "new": "3500.00", "reason_code": "policy"},
        )
        row = AuditEvent.objects.get(action="line.limit_changed", borrower_id=line.borrower_id)
        assert (row.object_type, row.object_id, row.note) == (
            "lending.creditline",
            str(line.pk),
            "C01",
        )
        assert row.before == {"credit_limit": "5000.00", "locked_until": None}
        assert row.after == {
            "credit_limit": "3500.00",
            "locked_until": None,
            "reason_code": "policy",
            "automatic": True,
            "used": str(line.used),
        }
    # One audit row per change, one per chunk for its scores, one for the finished run.
    assert AuditEvent.objects.count() - audits_before == 5 + run.chunks_total + 1
    from accounts.audit import verify_chain

    assert verify_chain().ok


def test_a_line_that_moved_after_the_read_is_skipped_not_overwritten(champion_and_policy):
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrower = BorrowerFactory(credit_limit=Decimal("5000.00"))
        today = date(2026, 11, 20)
        features = chunk_features(borrower_ids=[borrower.pk], as_of=today)
        features.loc[borrower.pk, "lender_transfers_90d"] = 5  # a multi-lender spike: cut
        state = chunk_state(
            borrower_ids=[borrower.pk], today=today, features=features, current={}, previous={}
        )
        CreditLine.objects.filter(borrower=borrower).update(credit_limit=Decimal("7000.00"))
        rows = chunk_review(
            policy=active_policy(), state=state, score_ids={}, run_id="moved", today=today
        )
    assert rows == []
    assert CreditLine.objects.get(borrower=borrower).credit_limit == Decimal("7000.00")
    assert not Notice.objects.filter(borrower=borrower).exists()


def test_a_locked_line_is_held_with_its_reason_and_not_changed(champion_and_policy):
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrower = BorrowerFactory(credit_limit=Decimal("5000.00"))
        CreditLine.objects.filter(borrower=borrower).update(locked_until=date(2026, 12, 20))
        result = chunk_rescore(
            actor=None, run_id="", borrower_ids=[borrower.pk], as_of=date(2026, 11, 20)
        )
    assert [(d.action, d.reasons, d.applied) for d in result.decisions] == [
        ("hold", ["L01"], False)
    ]
    assert CreditLine.objects.get(borrower=borrower).credit_limit == Decimal("5000.00")


def test_a_redelivered_chunk_on_the_bulk_path_writes_nothing_twice(champion_and_policy):
    """On PostgreSQL the rows of a chunk this size go by COPY."""
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrowers = [BorrowerFactory(credit_limit=Decimal("5000.00")) for _ in range(250)]
        _previously_scored(champion_and_policy, borrowers)
        scoring_run_start(as_of=date(2026, 11, 20), chunk_size=1000, run_id="again")
        scoring_chunk_run(run_id="again", index=0)

        def counts():
            return (
                Score.objects.count(),
                LimitDecision.objects.count(),
                Notice.objects.count(),
                AuditEvent.objects.count(),
                sum(CreditLine.objects.values_list("credit_limit", flat=True)),
            )

        first = counts()
        assert first[:3] == (500, 250, 250)
        ScoringChunk.objects.filter(run__run_id="again").update(status="running")
        scoring_chunk_run(run_id="again", index=0)
        assert counts() == first


def test_a_confirmed_fraud_flag_freezes_the_line_with_its_code(champion_and_policy):
    from decisions.models.flags import RiskFlag, RiskFlagKind

    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        borrower = BorrowerFactory(credit_limit=Decimal("5000.00"))
        RiskFlag.objects.create(
            borrower=borrower,
            kind=RiskFlagKind.FRAUD_CONFIRMED,
            source="case:1",
            set_at=at(2026, 11, 19),
        )
        result = chunk_rescore(
            actor=None, run_id="", borrower_ids=[borrower.pk], as_of=date(2026, 11, 20)
        )
    assert [(d.action, d.reasons, d.applied) for d in result.decisions] == [
        ("freeze", ["F02"], True)
    ]
    line = CreditLine.objects.get(borrower=borrower)
    assert (line.status, line.status_code, line.status_reason) == ("frozen", "fraud", "F02")
    notice = Notice.objects.get(borrower=borrower)
    assert (notice.kind, notice.params) == (NoticeKind.LINE_FROZEN, {"reason_code": "fraud"})
    assert AuditEvent.objects.filter(action="line.frozen", borrower_id=borrower.pk).count() == 1


def test_a_large_run_refreshes_the_planner_statistics_of_what_it_wrote_when_it_ends(
    champion_and_policy, monkeypatch, django_capture_on_commit_callbacks
):
    """Right after a whole-book run the score table has doubled; stale statistics sent the
    borrower page's score history through a two-million-row bitmap on the million book."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from decisions.services import runs

    monkeypatch.setattr(runs, "ANALYZE_AFTER_BORROWERS", 3)
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        for _ in range(4):
            BorrowerFactory(credit_limit=Decimal("5000.00"))
        run = scoring_run_start(as_of=date(2026, 11, 20), chunk_size=2, run_id="stats")
        with CaptureQueriesContext(connection) as queries:
            with django_capture_on_commit_callbacks(execute=True):
                scoring_chunk_run(run_id="stats", index=0)
            first = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ANALYZE")]
            with django_capture_on_commit_callbacks(execute=True):
                scoring_chunk_run(run_id="stats", index=1)
        analyzed = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("ANALYZE")]

    assert run.chunks_total == 2
    assert first == []  # not before the run's last chunk
    if connection.vendor == "postgresql":
        assert any("decisions_score" in sql for sql in analyzed)
        assert any("lending_limitchange" in sql for sql in analyzed)
    else:
        assert analyzed == []  # SQLite keeps no such statistics
