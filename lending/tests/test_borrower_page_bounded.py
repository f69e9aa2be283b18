"""The borrower page stays bounded for a long-standing borrower, and the list's sorts page
correctly through ties (issue 8: p95 under 150 ms on a big book).

Settled loans show as one line each with their schedule loaded on demand; active loans keep
their schedule and the header figures; sorted lists walk (key, id) so equal keys never repeat
or drop a borrower between pages.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from lending.choices import DrawdownStatus
from lending.models import Borrower
from lending.selectors import pages as selectors
from lending.services import repayment_record
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def frozen_clock():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


def _settled_loan(borrower: Borrower, loan_no: str, month: int):
    loan = DrawdownFactory(
        borrower=borrower,
        loan_no=loan_no,
        amount=Decimal("1000.00"),
        disbursed_at=at(2026, month, 2),
    )
    repayment_record(
        actor=None,
        loan_no=loan_no,
        reference=f"R-{loan_no}",
        amount=Decimal("2000.00"),  # above the payoff: the loan settles
        paid_at=at(2026, month, 20),
    )
    loan.refresh_from_db()
    assert loan.status == DrawdownStatus.SETTLED
    return loan


@pytest.fixture
def veteran():
    """A borrower with one active loan (first instalment overdue) and settled ones."""
    borrower = BorrowerFactory(customer_no="C20000001", credit_limit=Decimal("50000.00"))
    DrawdownFactory(
        borrower=borrower, loan_no="L-OPEN", amount=Decimal("4000.00"), disbursed_at=at(2026, 4, 11)
    )
    settled = [_settled_loan(borrower, f"L-OLD{n}", n) for n in (1, 2)]
    return {"borrower": borrower, "settled": settled}


def _page(client, user, borrower):
    client.force_login(user)
    return client.get(reverse("lending:borrower-detail", args=[borrower.pk]))


def test_a_settled_loan_is_one_line_and_its_schedule_loads_on_demand(client, analyst, veteran):
    borrower, old = veteran["borrower"], veteran["settled"][0]
    response = _page(client, analyst, borrower)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Settled and written-off loans" in html and "L-OLD1" in html
    schedule_url = reverse("lending:drawdown-schedule", args=[borrower.pk, old.pk])
    assert schedule_url in html
    # The active loan's schedule is on the page, the settled loans' are not.
    shown = response.context["borrower"].drawdowns.all()
    assert {d.loan_no: len(d.instalments.all()) for d in shown} == {
        "L-OPEN": 12,
        "L-OLD1": 0,
        "L-OLD2": 0,
    }

    fragment = client.get(schedule_url, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert "<html" not in body  # a fragment for htmx to swap in
    assert body.count('class="inst-row inst-row-paid"') == 12  # all twelve instalments, paid


def test_collapsing_settled_loans_keeps_the_header_figures(analyst, veteran):
    pk = veteran["borrower"].pk
    # Display attributes set by the selector, not model fields: typed as Any.
    full: Any = selectors.borrower_detail(user=analyst, borrower_id=pk)
    collapsed: Any = selectors.borrower_detail(user=analyst, borrower_id=pk, collapse_settled=True)
    assert collapsed.payoff_today == full.payoff_today > 0
    assert collapsed.overdue_amount == full.overdue_amount > 0
    assert [d.loan_no for d in collapsed.collapsed_loans] == ["L-OLD2", "L-OLD1"]


def test_the_page_costs_the_same_queries_however_many_loans_are_settled(
    client, analyst, veteran, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _page(client, analyst, veteran["borrower"])  # the login's first request: session work
    with CaptureQueriesContext(connection) as before:
        _page(client, analyst, veteran["borrower"])
    for n in (3, 4, 5):
        _settled_loan(veteran["borrower"], f"L-OLD{n}", n)
    with django_assert_num_queries(len(before.captured_queries)):
        response = _page(client, analyst, veteran["borrower"])
    assert len(response.context["borrower"].collapsed_loans) == 5


def test_a_schedule_of_another_borrowers_loan_is_404(client, analyst, veteran):
    other = BorrowerFactory(customer_no="C20000002")
    client.force_login(analyst)
    url = reverse("lending:drawdown-schedule", args=[other.pk, veteran["settled"][0].pk])
    assert client.get(url).status_code == 404


def test_only_staff_load_a_schedule(client, veteran, borrower_user, service_user):
    url = reverse(
        "lending:drawdown-schedule", args=[veteran["borrower"].pk, veteran["settled"][0].pk]
    )
    assert client.get(url).status_code == 302  # anonymous: to the login page
    for user in (borrower_user, service_user):
        client.force_login(user)
        assert client.get(url).status_code == 403


def test_a_borrowers_own_page_still_shows_every_schedule(analyst, veteran):
    # The portal (my_line) calls the selector without collapsing.
    borrower = selectors.borrower_detail(user=analyst, borrower_id=veteran["borrower"].pk)
    assert all(len(d.instalments.all()) == 12 for d in borrower.drawdowns.all())


# --- sorted lists: ties page by id ---------------------------------------------------------


@pytest.fixture
def ties(monkeypatch) -> list[Borrower]:
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    limits = [5000, 8000, 5000, 5000, 8000, 5000, 3000, 5000]
    return [
        BorrowerFactory(customer_no=f"T{n:08d}", credit_limit=Decimal(limit))
        for n, limit in enumerate(limits)
    ]


def _walk(analyst, sort):
    seen: list[int] = []
    pages: list[list[int]] = []
    page = selectors.sorted_keyset_page(selectors.borrower_list(user=analyst, sort=sort), sort=sort)
    while True:
        pages.append([b.pk for b in page.rows])
        seen.extend(b.pk for b in page.rows)
        if not page.has_next:
            return seen, pages, page
        cursor = selectors.parse_sort_cursor(page.next_after, sort)
        page = selectors.sorted_keyset_page(
            selectors.borrower_list(user=analyst, sort=sort), sort=sort, after=cursor
        )


@pytest.mark.parametrize("sort", ["-limit", "limit"])
def test_equal_limits_page_by_id_without_repeats_or_gaps(analyst, ties, sort):
    sign = -1 if sort.startswith("-") else 1
    expected = [b.pk for b in sorted(ties, key=lambda b: (sign * b.line.credit_limit, sign * b.pk))]
    seen, pages, last = _walk(analyst, sort)
    assert seen == expected
    assert len(pages) == 3
    # Back one page from the last: the page before it, ties and all.
    back = selectors.sorted_keyset_page(
        selectors.borrower_list(user=analyst, sort=sort),
        sort=sort,
        before=selectors.parse_sort_cursor(last.prev_before, sort),
    )
    assert [b.pk for b in back.rows] == pages[-2]


def test_most_overdue_first_ties_on_never_due_page_by_id(analyst, ties):
    late = ties[3]
    DrawdownFactory(
        borrower=late, loan_no="L-LATE", amount=Decimal("1000.00"), disbursed_at=at(2026, 4, 11)
    )
    seen, _pages, _last = _walk(analyst, "-dpd")
    # The overdue borrower first, then everyone owing nothing (never due) by id.
    assert seen == [late.pk, *sorted(b.pk for b in ties if b.pk != late.pk)]


def test_the_page_shows_the_newest_repayments_and_says_the_timeline_has_the_rest(
    client, analyst, veteran, monkeypatch
):
    monkeypatch.setattr(selectors, "RECENT_REPAYMENTS", 1)
    response = _page(client, analyst, veteran["borrower"])
    html = response.content.decode()
    assert [r.reference for r in response.context["borrower"].recent_repayments] == ["R-L-OLD2"]
    assert "R-L-OLD1" not in html
    assert 'id="older-repayments"' in html
