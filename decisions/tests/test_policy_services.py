"""Policy versions (drafted by a manager, approved by the head of risk) and line reviews that
apply the active policy through lending's services."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine

from accounts.models import AuditEvent
from decisions.choices import ModelStatus, PolicyStatus
from decisions.errors import FourEyes, InvalidPolicy, NoActivePolicy, NotAllowed
from decisions.models import LimitDecision, Score
from decisions.policy import DEFAULT_RULES
from decisions.services import (
    line_review,
    policy_activate,
    policy_draft,
    scorecard_set_status,
    scorecard_store,
)
from decisions.tests.test_scoring import _result
from lending.models import CreditLine, Notice
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 20)


@pytest.fixture
def active(manager, head_of_risk):
    draft = policy_draft(actor=manager, rules=DEFAULT_RULES, note="first")
    return policy_activate(actor=head_of_risk, policy=draft)


def _scored(borrower, *totals):
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    model = scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    for n, total in enumerate(totals):
        Score.objects.create(
            borrower=borrower,
            model=model,
            total=total,
            inputs={},
            reasons=[],
            as_of=date(2026, 11, 1),
            scored_at=at(2026, 11, 1 + n),
        )


def test_a_manager_drafts_and_the_head_of_risk_activates(manager, head_of_risk):
    draft = policy_draft(actor=manager, rules=DEFAULT_RULES, note="first")
    assert (draft.version, draft.status) == (1, PolicyStatus.DRAFT)
    active = policy_activate(actor=head_of_risk, policy=draft)
    assert (active.status, active.approved_by) == (PolicyStatus.ACTIVE, head_of_risk)

    second = policy_draft(actor=manager, rules={**DEFAULT_RULES, "freeze_dpd": 15})
    policy_activate(actor=head_of_risk, policy=second)
    draft.refresh_from_db()
    assert draft.status == PolicyStatus.RETIRED
    assert AuditEvent.objects.filter(action="policy.activated").count() == 2


def test_the_drafter_cannot_approve_and_an_analyst_cannot_draft(head_of_risk, analyst, manager):
    own = policy_draft(actor=head_of_risk, rules=DEFAULT_RULES)
    with pytest.raises(FourEyes):
        policy_activate(actor=head_of_risk, policy=own)
    with pytest.raises(NotAllowed):
        policy_activate(actor=manager, policy=own)
    with pytest.raises(NotAllowed):
        policy_draft(actor=analyst, rules=DEFAULT_RULES)


def test_an_unusable_draft_is_refused_with_the_reason(manager):
    from decisions.policy import PolicyInvalid

    with pytest.raises(InvalidPolicy) as refused:
        policy_draft(actor=manager, rules={**DEFAULT_RULES, "cut_share": "2"})
    # The reason, whatever the language the message was worded in:
    cause = refused.value.__cause__
    assert isinstance(cause, PolicyInvalid) and cause.codes == ["cut_share_range"]
    assert str(cause) in refused.value.message


def test_a_review_without_an_active_policy_is_refused():
    borrower = BorrowerFactory()
    with pytest.raises(NoActivePolicy):
        line_review(borrower_id=borrower.pk)


def test_a_score_drop_cuts_the_line_with_its_reason_and_tells_the_borrower(active):
    with time_machine.travel(NOW, tick=False):
        borrower = BorrowerFactory(credit_limit=Decimal("5000.00"))
        _scored(borrower, 680, 630)  # the newest, 630, is 50 below the one before

        decision = line_review(borrower_id=borrower.pk)

    assert decision is not None and decision.score is not None
    line = CreditLine.objects.get(borrower=borrower)
    assert line.credit_limit == Decimal("3500.00")
    assert (decision.action, decision.old_limit, decision.new_limit) == (
        "cut",
        Decimal("5000.00"),
        Decimal("3500.00"),
    )
    assert decision.reasons == ["C01"] and decision.policy == active
    assert decision.score.total == 630
    notice = Notice.objects.get(borrower=borrower)
    assert notice.params["new"] == "3500.00"


def test_a_locked_line_is_held_and_the_hold_is_recorded(active, manager):
    from lending.services import line_limit_set

    with time_machine.travel(NOW, tick=False):
        borrower = BorrowerFactory(credit_limit=Decimal("5000.00"))
        line_limit_set(
            actor=manager,
            line=borrower.line,
            new_limit=Decimal("6000"),
            reason_code="manual",
            lock_days=30,
        )
        _scored(borrower, 680, 600)
        decision = line_review(borrower_id=borrower.pk)

    assert decision is not None
    assert (decision.action, decision.reasons, decision.applied) == ("hold", ["L01"], False)
    assert CreditLine.objects.get(borrower=borrower).credit_limit == Decimal("6000.00")


def test_a_plain_hold_writes_nothing(active):
    with time_machine.travel(NOW, tick=False):
        borrower = BorrowerFactory()
        _scored(borrower, 640, 640)
        assert line_review(borrower_id=borrower.pk) is None
    assert not LimitDecision.objects.exists()


def test_a_simulation_counts_what_a_draft_would_do_and_applies_nothing(manager):
    from decisions.policy import policy_rules
    from decisions.selectors import policy_simulation

    with time_machine.travel(NOW, tick=False):
        dropping = BorrowerFactory(credit_limit=Decimal("5000.00"))
        _scored(dropping, 680, 630)
        steady = BorrowerFactory(credit_limit=Decimal("2000.00"))
        Score.objects.create(
            borrower=steady,
            model=Score.objects.get(borrower=dropping, total=630).model,
            total=640,
            inputs={},
            reasons=[],
            as_of=date(2026, 11, 1),
            scored_at=at(2026, 11, 3),
        )
        result = policy_simulation(rules=policy_rules(DEFAULT_RULES), as_of=date(2026, 11, 20))

    band_b = next(row for row in result["rows"] if row["band"] == "B")
    assert (band_b["cut"], band_b["hold"], band_b["lines"]) == (1, 1, 2)
    assert band_b["change"] == Decimal("-1500.00")
    assert result["totals"]["cut"] == 1 and result["totals"]["lines"] == 2
    assert CreditLine.objects.get(borrower=dropping).credit_limit == Decimal("5000.00")
    assert not LimitDecision.objects.exists()
    assert result["figure"]["data"][0]["type"] == "bar"


def test_the_review_reads_the_last_applied_cut_and_raise_of_each_line(active):
    from datetime import timedelta

    import pandas as pd

    from decisions.features import FEATURE_NAMES
    from decisions.services.reviews import chunk_state

    with time_machine.travel(NOW, tick=False):
        borrower = BorrowerFactory(credit_limit=Decimal("5000.00"))
        never = BorrowerFactory(credit_limit=Decimal("5000.00"))

        def decided(action, days_ago, applied=True):
            LimitDecision.objects.create(
                borrower=borrower,
                policy=active,
                action=action,
                old_limit=Decimal("4000.00"),
                new_limit=Decimal("5000.00"),
                band="B",
                reasons=[],
                applied=applied,
                decided_at=NOW - timedelta(days=days_ago),
            )

        decided("raise", 40)
        decided("raise", 10)  # the last applied raise
        decided("raise", 1, applied=False)  # refused: the line had moved
        decided("cut", 100)
        ids = sorted([borrower.pk, never.pk])
        state = chunk_state(
            borrower_ids=ids,
            today=NOW.date(),
            features=pd.DataFrame(0.0, index=pd.Index(ids), columns=list(FEATURE_NAMES)),
            current={},
            previous={},
        )
    by_id = dict(zip([row[0] for row in state.lines], range(len(ids)), strict=True))
    assert state.inputs.days_since_raise[by_id[borrower.pk]] == 10
    assert state.inputs.days_since_cut[by_id[borrower.pk]] == 100
    assert pd.isna(state.inputs.days_since_raise[by_id[never.pk]])


def test_a_simulation_freezes_a_confirmed_fraud_as_the_live_review_would(active):
    from decisions.policy import policy_rules
    from decisions.selectors import policy_simulation
    from decisions.services import fraud_flag_set

    with time_machine.travel(NOW, tick=False):
        flagged = BorrowerFactory(credit_limit=Decimal("5000.00"))
        _scored(flagged, 640, 640)  # band B, steady: the policy alone would hold
        fraud_flag_set(actor=None, borrower_id=flagged.pk, source="case:1")
        result = policy_simulation(rules=policy_rules(DEFAULT_RULES), as_of=NOW.date())
        decision = line_review(borrower_id=flagged.pk)

    assert decision is not None and decision.action == "freeze"
    totals = result["totals"]
    assert (totals["freeze"], totals["hold"], totals["lines"]) == (1, 0, 1)
