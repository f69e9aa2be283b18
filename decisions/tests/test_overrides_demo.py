"""The demo's override proposals (demo.overrides): each demo approver's queue holds exactly
what the matrix lets them decide, and never their own."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from decisions.choices import ModelStatus
from decisions.models import OverrideProposal, Score
from decisions.selectors.overrides import inbox_for
from decisions.services import scorecard_set_status, scorecard_store
from decisions.tests.test_scoring import _result
from demo.overrides import demo_overrides_seed
from lending.services import line_freeze
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_logins(django_user_model):
    return {
        name: django_user_model.objects.create_user(username=name, password="x", role=role)
        for name, role in [
            ("analyst", "analyst"),
            ("senior", "senior_analyst"),
            ("manager", "manager"),
            ("head", "head_of_risk"),
        ]
    }


@pytest.fixture
def small_book():
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    for total, limit in [(700, "40000"), (640, "30000"), (610, "9000"), (580, "6000")] * 3:
        b = BorrowerFactory(credit_limit=Decimal(limit))
        Score.objects.create(
            borrower=b,
            model=model,
            total=total,
            inputs={},
            reasons=[],
            as_of=timezone.localdate(),
            scored_at=timezone.now(),
        )
    frozen = BorrowerFactory(credit_limit=Decimal("5000"))
    line_freeze(actor=None, line=frozen.line, status_code="manual", note="bureau mix-up")


def test_each_demo_approver_sees_exactly_what_they_may_decide(demo_logins, small_book):
    made = demo_overrides_seed()
    assert len(made) == 8
    assert demo_overrides_seed() == []  # once only

    def queue(name):
        return {
            (p.kind, p.direction, p.proposed_by.username, p.new_limit and p.new_limit - p.old_limit)
            for p in (i.proposal for i in inbox_for(demo_logins[name]))
        }

    senior, manager, head = queue("senior"), queue("manager"), queue("head")
    up = Decimal
    assert senior == {
        ("limit", "decrease", "analyst", up("-2000.00")),
        ("freeze", "freeze", "analyst", None),
        ("limit", "increase", "manager", up("2000.00")),
    }
    assert manager == {
        ("limit", "decrease", "analyst", up("-2000.00")),
        ("freeze", "freeze", "analyst", None),
        ("temporary", "increase", "analyst", up("12000.00")),
        ("limit", "increase", "analyst", up("30000.00")),
        ("unfreeze", "unfreeze", "analyst", None),
    }
    assert head == manager | {
        ("limit", "increase", "analyst", up("60000.00")),
        ("limit", "increase", "manager", up("2000.00")),
    }
    assert inbox_for(demo_logins["analyst"]) == []
    sent_back = OverrideProposal.objects.get(status="changes")
    assert sent_back.proposed_by.username == "analyst"
