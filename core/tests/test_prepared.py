"""core.prepared: a precompiled query gives exactly what its QuerySet gives, for new values,
on either profile (types too: Decimals, aware datetimes, None), and refuses what it cannot
place."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Q, Sum
from django.test.utils import CaptureQueriesContext

from core.prepared import Prepared
from lending.models import Borrower, Drawdown, Repayment
from lending.services import repayment_record
from lending.tests.factories import DrawdownFactory, at

pytestmark = pytest.mark.django_db

DRAWDOWNS = Prepared(
    lambda ids, since: (
        Drawdown.objects.filter(borrower_id__in=ids, disbursed_at__gte=since)
        .order_by("disbursed_at", "pk")
        .values("pk", "borrower_id", "amount", "disbursed_at", "device_id")
    ),
    {"ids": "ints", "since": "at"},
)
REPAID = Prepared(
    lambda ids, since: (
        Repayment.objects.filter(borrower_id__in=ids, paid_at__gte=since)
        .order_by("paid_at", "pk")
        .annotate(principal=Sum("allocations__principal"))
        .values("pk", "amount", "principal", "paid_at")
    ),
    {"ids": "ints", "since": "at"},
)
BY_IDENTITY = Prepared(
    lambda mobiles, customer: (
        Borrower.objects.filter(Q(mobile__in=mobiles) | Q(customer_no=customer))
        .order_by("pk")
        .values_list("pk", "customer_no")
    ),
    {"mobiles": "strs", "customer": "str"},
)


@pytest.fixture
def book():
    first = DrawdownFactory(amount=Decimal("1234.56"), disbursed_at=at(2026, 1, 10, 9, 30))
    DrawdownFactory(
        borrower=first.borrower, amount=Decimal("300.00"), disbursed_at=at(2026, 2, 1, 23, 59)
    )
    second = DrawdownFactory(amount=Decimal("5000.00"), disbursed_at=at(2026, 1, 20))
    repayment_record(
        actor=None,
        loan_no=first.loan_no,
        amount=Decimal("200.01"),
        paid_at=at(2026, 2, 10, 8, 0),
        reference="R-1",
    )
    return first.borrower, second.borrower


def test_rows_equal_the_queryset_for_every_new_value(book):
    first, second = book
    for ids in [(first.pk,), (second.pk,), (first.pk, second.pk), (first.pk, 10**9)]:
        for since in [at(2026, 1, 1), at(2026, 1, 15), at(2026, 2, 1, 23, 59), at(2027, 1, 1)]:
            assert DRAWDOWNS.rows(ids=ids, since=since) == list(DRAWDOWNS.build(ids, since))
            assert REPAID.rows(ids=ids, since=since) == list(REPAID.build(ids, since))


def test_types_are_the_orm_s_decimals_and_aware_datetimes(book):
    first, _ = book
    rows = DRAWDOWNS.rows(ids=(first.pk,), since=at(2026, 1, 1))
    assert [r["amount"] for r in rows] == [Decimal("1234.56"), Decimal("300.00")]
    assert rows[0]["disbursed_at"] == at(2026, 1, 10, 9, 30)
    assert rows[0]["disbursed_at"].utcoffset() == timedelta(0)
    assert rows[0]["device_id"] is None
    (paid,) = REPAID.rows(ids=(first.pk,), since=at(2026, 1, 1))
    assert isinstance(paid["principal"], Decimal)
    assert paid["amount"] == Decimal("200.01")


def test_strings_and_tuples_of_strings(book):
    first, second = book
    assert BY_IDENTITY.rows(mobiles=(first.mobile,), customer=second.customer_no) == [
        (first.pk, first.customer_no),
        (second.pk, second.customer_no),
    ]
    assert BY_IDENTITY.rows(mobiles=("nobody",), customer="nobody") == []


def test_compiled_once_then_one_statement_a_call(book):
    first, _ = book
    DRAWDOWNS.rows(ids=(first.pk,), since=at(2026, 1, 1))
    with CaptureQueriesContext(connection) as queries:
        DRAWDOWNS.rows(ids=(first.pk,), since=at(2026, 1, 1))
    assert len(queries.captured_queries) == 1


def test_an_argument_it_cannot_place_is_refused():
    # The same id twice in the parameters: which one would the argument replace?
    twice = Prepared(
        lambda n: Borrower.objects.filter(Q(pk=n) | Q(line__pk=n)).values_list("pk"),
        {"n": "int"},
    )
    with pytest.raises(ValueError, match="exactly one parameter"):
        twice.rows(n=1)
    with pytest.raises(ValueError, match="unknown argument kinds"):
        Prepared(lambda n: Borrower.objects.values_list("pk"), {"n": "float"})
    annotated = Prepared(
        lambda n: (
            Borrower.objects.filter(pk=n)
            .annotate(loans=Sum("drawdowns__amount"))
            .values_list("pk", "loans")
        ),
        {"n": "int"},
    )
    with pytest.raises(ValueError, match="without annotations"):
        annotated.rows(n=1)


def test_none_is_refused_rather_than_compared_with_equals(book):
    first, _ = book
    with pytest.raises(ValueError, match="is None"):
        BY_IDENTITY.rows(mobiles=(first.mobile,), customer=None)
    with pytest.raises(ValueError, match="is None"):
        DRAWDOWNS.rows(ids=(first.pk, None), since=at(2026, 1, 1))


def test_an_empty_tuple_gives_what_the_queryset_gives(book):
    first, _ = book
    assert DRAWDOWNS.rows(ids=(), since=at(2026, 1, 1)) == []
    # An empty branch of an OR drops out; the other still matches.
    assert BY_IDENTITY.rows(mobiles=(), customer=first.customer_no) == [
        (first.pk, first.customer_no)
    ]
