"""drawdown_create's money-leaves checks: a line past due lends nothing, the APR ceiling, and
available = max(limit - used, 0) after a limit cut."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.errors import DomainError
from lending.errors import AprAboveCeiling, InsufficientAvailable, LineOverdue
from lending.models import CreditLine, Drawdown
from lending.services import line_limit_set, repayment_record
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at, borrower_with_drawdown
from monitoring.tests.factories import DrawdownEventFactory

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(at(2026, 6, 1), tick=False):
        yield


def line_of(borrower) -> CreditLine:
    return CreditLine.objects.get(borrower=borrower)


def test_a_line_past_due_refuses_a_drawdown_until_it_is_current():
    borrower, loan = borrower_with_drawdown(credit_limit=D("50000"))  # first due 2026-02-10

    with pytest.raises(LineOverdue) as exc:
        DrawdownFactory(borrower=borrower, amount=D("3000"), disbursed_at=at(2026, 2, 11))
    assert isinstance(exc.value, DomainError)  # the API answers 409
    assert exc.value.code == "line_overdue"
    assert exc.value.extra == {"oldest_unpaid_due": date(2026, 2, 10), "dpd": 1}
    assert Drawdown.objects.filter(borrower=borrower).count() == 1
    assert line_of(borrower).used == D("10000.00")

    # Paid up (the first instalment, with its penalty): current again, it lends again.
    repayment_record(
        actor=None, loan_no=loan.loan_no, reference="R-1", amount=D("1000"), paid_at=at(2026, 2, 12)
    )
    assert line_of(borrower).oldest_unpaid_due == date(2026, 3, 10)
    DrawdownFactory(borrower=borrower, amount=D("3000"), disbursed_at=at(2026, 2, 12))
    assert line_of(borrower).used > D("10000.00")


def test_an_instalment_due_on_the_drawdown_day_is_not_yet_overdue():
    borrower, _loan = borrower_with_drawdown(credit_limit=D("50000"))
    DrawdownFactory(borrower=borrower, amount=D("3000"), disbursed_at=at(2026, 2, 10, 23, 0))
    assert Drawdown.objects.filter(borrower=borrower).count() == 2


def test_a_drawdown_whose_irr_apr_rounds_above_the_ceiling_is_refused():
    # ¥1 over 12 months, equal principal, at 0.0657%/day (23.98% a year): the fen rounding
    # of each instalment's interest makes the IRR APR 25.08%.
    borrower = BorrowerFactory(daily_rate=D("0.000657"))
    with pytest.raises(AprAboveCeiling) as exc:
        DrawdownFactory(borrower=borrower, amount=D("1"), repayment_mode="equal_principal")
    assert exc.value.extra == {"apr": "25.08%", "ceiling": "24.00%"}
    assert not Drawdown.objects.exists()
    assert line_of(borrower).used == 0

    # The same rate on an ordinary amount stays under the ceiling.
    loan = DrawdownFactory(borrower=borrower, amount=D("10000"), repayment_mode="equal_principal")
    assert loan.apr <= D("0.24")


def test_the_apr_ceiling_is_the_configured_one(settings):
    settings.RISKOPS_APR_CEILING = "0.18"
    borrower = BorrowerFactory(daily_rate=D("0.000500"))  # 18.25% a year
    with pytest.raises(AprAboveCeiling):
        DrawdownFactory(borrower=borrower)


def test_after_a_cut_below_the_balance_nothing_is_available_until_repaid(manager):
    borrower, loan = borrower_with_drawdown(credit_limit=D("20000"))
    line_limit_set(actor=manager, line=line_of(borrower), new_limit=D("5000"), reason_code="manual")

    line = line_of(borrower)
    assert line.available == 0
    with pytest.raises(InsufficientAvailable) as exc:
        DrawdownFactory(borrower=borrower, amount=D("0.01"), disbursed_at=at(2026, 1, 20))
    assert exc.value.extra["available"] == 0


def test_the_event_api_answers_409_to_a_drawdown_on_a_line_past_due(borrower_record, service_user):
    # The lending core once paid out ¥3,000 to a borrower 328 days past due through this API.
    token, _created = Token.objects.get_or_create(user=service_user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    first = DrawdownEventFactory(occurred_at="2026-01-10T10:00:00+08:00")  # due 2026-02-10
    assert api.post("/api/v1/events/", first, format="json").status_code == 200

    late = DrawdownEventFactory(occurred_at="2027-01-04T10:00:00+08:00", amount="3000.00")
    with time_machine.travel(at(2027, 1, 5), tick=False):
        response = api.post("/api/v1/events/", late, format="json")

    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert error["code"] == "line_overdue"
    assert "328 days past due" in error["message"]
    assert Drawdown.objects.filter(borrower=borrower_record).count() == 1
