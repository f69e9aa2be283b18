"""The drawdown check: approve, review or decline with reason codes, from the line, the
purpose's scenario in the limit policy and the real-time rules; every answer recorded; a
review opens a case."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from decisions.models import LimitPolicy
from decisions.policy import DEFAULT_RULES
from lending.models import CreditLine
from monitoring.choices import RuleKind
from monitoring.errors.rules import CheckNotAllowed
from monitoring.models import Alert, Case, DrawdownCheck
from monitoring.services import rules_ensure_defaults
from monitoring.services.checks import drawdown_check
from monitoring.tests.rules_helpers import drawdown, feb, post

pytestmark = pytest.mark.django_db
URL = "/api/v1/drawdown-checks/"


@pytest.fixture(autouse=True)
def _rules(borrower_record):  # ¥20,000 line, nothing drawn
    rules_ensure_defaults()


@pytest.fixture
def policy():
    policy = LimitPolicy.objects.filter(status="active").first()
    if policy is None:
        version = LimitPolicy.objects.order_by("-version").first() or None
        policy = LimitPolicy.objects.create(
            version=(version.version + 1) if version else 1,
            status="active",
            rules=DEFAULT_RULES,
            created_at=timezone.now(),
        )
    return policy


def _check(**given):
    return drawdown_check(
        actor=None,
        **{"customer_no": "C00000001", "term_months": 6, "purpose": "daily", **given},
    )


def test_a_drawdown_within_everything_is_approved_and_recorded():
    check = _check(amount="3000.00", card_no="6222020000001234", device_id="dev-aaaa")

    assert check.decision == "approve"
    assert check.reasons == []
    stored = DrawdownCheck.objects.get()
    assert (stored.amount, stored.card_last4, stored.available) == (
        Decimal("3000.00"),
        "1234",
        Decimal("20000.00"),
    )
    assert check.alert is None


def test_a_line_past_due_is_never_approved(borrower_record):
    CreditLine.objects.filter(borrower=borrower_record).update(oldest_unpaid_due=date(2026, 3, 14))

    check = _check(amount="100.00")

    assert check.decision == "decline"
    assert [r["code"] for r in check.reasons] == ["past_due"]
    assert check.dpd == 1


def test_a_frozen_line_and_more_than_available_are_declined(borrower_record):
    assert _check(amount="20000.01").reasons[0]["code"] == "over_available"
    CreditLine.objects.filter(borrower=borrower_record).update(status="frozen")

    check = _check(amount="100.00")

    assert check.decision == "decline"
    assert "line_frozen" in [r["code"] for r in check.reasons]


def test_the_purposes_scenario_sends_a_large_share_to_review_and_a_long_term_to_decline(policy):
    # "other": at most half the limit, 12 months, a score of 630 (there is none: review).
    check = _check(amount="10000.01", purpose="other")
    assert check.decision == "review"
    assert {r["code"] for r in check.reasons} == {"share_over_scenario", "score_below_scenario"}

    assert _check(amount="100.00", purpose="daily", term_months=13).decision == "decline"
    assert _check(amount="3000.00", purpose="daily", term_months=12).decision == "approve"


def test_a_rule_firing_on_the_hypothetical_drawdown_sends_it_to_review_and_opens_a_case(
    django_capture_on_commit_callbacks,
):
    post(drawdown(feb(20, 10)), drawdown(feb(20, 11)))  # weeks ago: outside the window
    now = timezone.now()
    post(*[drawdown(now.isoformat(), "100.00") for _ in range(3)])
    before = Alert.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        check = _check(amount="500.00")

    assert check.decision == "review"
    assert [r["code"] for r in check.reasons] == [f"rule_{RuleKind.SMALL_DRAWDOWN_VELOCITY}"]
    assert check.rule_hits[0]["evidence"]["count"] == 4
    alert = Alert.objects.get(pk=check.alert_id)
    assert alert.rule_version.rule.kind == RuleKind.DRAWDOWN_CHECK_REVIEW
    assert alert.category == "fraud"
    assert Alert.objects.count() == before + 1  # nothing else: the drawdown was not recorded
    assert Case.objects.filter(borrower_id=check.borrower_id, category="fraud").exists()


def test_an_analyst_may_not_ask_and_the_api_answers_the_lending_core(analyst, service_user):
    with pytest.raises(CheckNotAllowed):
        drawdown_check(
            actor=analyst, customer_no="C00000001", amount="1", term_months=1, purpose="daily"
        )

    client = APIClient()
    client.force_authenticate(service_user)
    answer = client.post(
        URL,
        {"customer_no": "C00000001", "amount": "800.00", "term_months": 3, "purpose": "travel"},
        format="json",
    )
    assert answer.status_code == 200
    assert answer.json()["decision"] == "approve"

    client.force_authenticate(analyst)
    assert client.post(URL, {}, format="json").status_code == 403
    client.force_authenticate(service_user)
    unknown = client.post(
        URL,
        {"customer_no": "C0", "amount": "800.00", "term_months": 3, "purpose": "travel"},
        format="json",
    )
    assert (unknown.status_code, unknown.json()["code"]) == (409, "unknown_borrower")
    assert client.post(URL, {"customer_no": "C00000001"}, format="json").status_code == 400
