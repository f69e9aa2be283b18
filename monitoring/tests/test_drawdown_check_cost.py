"""The drawdown check on the payout path: a bounded number of queries whatever the history,
and a policy change seen by the very next check (the parsed policy is kept per process)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions.models import LimitPolicy
from decisions.policy import DEFAULT_RULES
from monitoring.services import rules_ensure_defaults
from monitoring.services.checks import drawdown_check
from monitoring.tests.rules_helpers import drawdown, feb, post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rules(borrower_record):
    rules_ensure_defaults()


def _check(**given):
    return drawdown_check(
        actor=None,
        **{"customer_no": "C00000001", "term_months": 6, "purpose": "daily", **given},
    )


def _queries(**given):
    with CaptureQueriesContext(connection) as queries:
        check = _check(**given)
    return check, len(queries.captured_queries)


def test_an_approved_check_costs_the_same_few_queries_however_long_the_history():
    _check(amount="100.00")  # warm: the live rule versions are kept per process
    check, short = _queries(amount="100.00", device_id="dev-a", card_no="6222020000001234")
    assert check.decision == "approve"
    post(*[drawdown(feb(d, 10), amount="100.00") for d in range(1, 20)])

    check, long = _queries(amount="100.00", device_id="dev-a", card_no="6222020000001234")

    assert check.decision != "review"  # a review also raises its alert: more writes
    assert long <= short
    # borrower + line + score in one read, the policy, the rules' signature and lists, the
    # history reads, the insert, and the transaction's own statements
    assert short <= 16


def test_a_new_policy_version_is_applied_by_the_next_check():
    rules = {**DEFAULT_RULES}
    first = LimitPolicy.objects.create(
        version=90, status="active", rules=rules, created_at=timezone.now()
    )
    assert _check(amount="100.00", term_months=12).decision == "approve"

    first.status = "retired"
    first.save(update_fields=["status"])
    stricter = {
        **rules,
        "scenarios": {
            **rules["scenarios"],
            "daily": {"min_score": 0, "max_share_of_limit": "1.0", "max_term_months": 6},
        },
    }
    LimitPolicy.objects.create(
        version=91, status="active", rules=stricter, created_at=timezone.now()
    )

    check = _check(amount="100.00", term_months=12)
    assert check.decision == "decline"
    assert "term_over_scenario" in [r["code"] for r in check.reasons]
