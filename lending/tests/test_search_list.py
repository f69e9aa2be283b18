"""The borrower list as analysts asked: a full ID number through its keyed digest, a masked
number pasted from the screen, a customer-number prefix, errors instead of the whole book, a
pager that says where it is, an approximate total, sorting, and an audited masked CSV."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditEvent
from lending.models import Borrower
from lending.search_keys import national_id_hash
from lending.selectors import pages as selectors
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db

HAO_ID = "11010119900307123X"


@pytest.fixture
def people() -> dict[str, Borrower]:
    return {
        "hao": BorrowerFactory(
            customer_no="C20000001",
            name="张浩浩",
            national_id=HAO_ID,
            mobile="13800005678",
            credit_limit=Decimal("8000.00"),
        ),
        "wei": BorrowerFactory(
            customer_no="C20000002",
            name="张伟",
            national_id="110101198001019999",
            mobile="13900005678",
            credit_limit=Decimal("30000.00"),
        ),
        "long": BorrowerFactory(
            customer_no="D30000003",
            name="李小龙",
            national_id="440301199001015555",
            mobile="13800002222",
            credit_limit=Decimal("15000.00"),
        ),
    }


def _list(client, user, **params):
    client.force_login(user)
    return client.get(reverse("lending:borrower-list"), params)


def _found(response) -> list[str]:
    return [b.customer_no for b in response.context["page"].rows]


# --- search --------------------------------------------------------------------------------


def test_a_borrower_keeps_a_keyed_digest_of_the_id_number_not_a_plain_hash(people):
    import hashlib

    stored = Borrower.objects.get(pk=people["hao"].pk).national_id_hash
    assert stored == national_id_hash(HAO_ID) and len(stored) == 64
    assert stored != hashlib.sha256(HAO_ID.encode()).hexdigest()


@pytest.mark.parametrize("query", [HAO_ID, HAO_ID.lower(), " 110101 19900307 123x "])
def test_a_full_id_number_is_found_through_its_digest(client, senior_analyst, people, query):
    with CaptureQueriesContext(connection) as queries:
        response = _list(client, senior_analyst, q=query)

    assert _found(response) == ["C20000001"]
    # The plaintext column is never searched: the SQL holds the digest, not the number.
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert national_id_hash(HAO_ID) in sql
    assert not re.search(r'"national_id" *(=|LIKE|IN)', sql)


def test_an_analyst_still_cannot_confirm_a_full_id_number(client, analyst, people):
    assert _found(_list(client, analyst, q=HAO_ID)) == []


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("138****5678", ["C20000001"]),  # prefix and last four, as the screen shows it
        ("139****5678", ["C20000002"]),
        ("138 **** 5678", ["C20000001"]),
        ("138****2222", ["D30000003"]),
        ("110101********123X", ["C20000001"]),
        ("110101********123x", ["C20000001"]),
        ("137****5678", []),
    ],
)
def test_a_masked_number_pasted_from_the_screen_finds_its_borrower(
    client, analyst, people, query, expected
):
    assert _found(_list(client, analyst, q=query)) == expected


@pytest.mark.parametrize("query", ["C2000000", "c2000000", "C2"])
def test_a_customer_number_prefix_lists_every_match(client, analyst, people, query):
    assert _found(_list(client, analyst, q=query)) == ["C20000002", "C20000001"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "138****"}, "Paste a masked number"),
        ({"q": "*" * 8}, "Paste a masked number"),
        ({"q": "9" * 41}, "at most 40 characters"),
        ({"bucket": "M99"}, "Bucket"),
        ({"status": "sleeping"}, "Status"),
        ({"sort": "-name"}, "Sort by"),
    ],
)
def test_an_invalid_filter_is_an_error_and_lists_nothing(client, analyst, people, params, message):
    response = _list(client, analyst, **params)

    assert response.status_code == 200
    assert _found(response) == []
    html = response.content.decode()
    assert 'id="filter-errors"' in html and message in html
    assert 'id="export-csv"' not in html


def test_the_filter_error_reads_in_chinese_too(client, analyst, people):
    client.force_login(analyst)
    with translation.override("zh-hans"):
        response = client.get(
            reverse("lending:borrower-list"), {"bucket": "M99"}, HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
    assert response.status_code == 200 and _found(response) == []
    assert 'id="filter-errors"' in response.content.decode()


# --- pager, total, sort --------------------------------------------------------------------


@pytest.fixture
def many(people, monkeypatch) -> list[Borrower]:
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    extra = [
        BorrowerFactory(customer_no=f"E{n:08d}", credit_limit=Decimal(1000 + 1000 * n))
        for n in range(4)
    ]
    return [*people.values(), *extra]


def test_the_first_page_has_no_way_back_and_the_last_no_way_on(client, analyst, many):
    first = _list(client, analyst)
    assert not first.context["page"].has_prev
    assert first.context["page"].has_next

    last = _list(client, analyst, last="1")
    newest_first = sorted(b.pk for b in many)
    assert [b.pk for b in last.context["page"].rows] == newest_first[:2][::-1]
    assert not last.context["page"].has_next
    assert last.context["page"].has_prev
    assert "Last" in last.content.decode()


def test_a_cursor_past_the_end_says_so(client, analyst, many):
    response = _list(client, analyst, after=min(b.pk for b in many))

    assert response.status_code == 200
    assert _found(response) == []
    assert "There are no borrowers beyond this page" in response.content.decode()


def test_a_cursor_that_is_not_one_says_so_and_shows_the_first_page(client, analyst, many):
    response = _list(client, analyst, after="abc")

    assert response.status_code == 200
    assert "This page link is not valid" in response.content.decode()
    assert len(_found(response)) == 2


def test_the_total_is_exact_when_cheap(client, analyst, many):
    response = _list(client, analyst, q="C2")
    assert response.context["total"] == {"count": 2, "approximate": False, "more": False}
    assert "2 borrowers" in response.content.decode()


def test_the_total_says_more_than_past_the_exact_limit(analyst, many, monkeypatch):
    monkeypatch.setattr(selectors, "EXACT_COUNT_LIMIT", 3)
    total = selectors.borrower_list_total(selectors.borrower_list(user=analyst), filtered=True)
    assert total == {"count": 3, "approximate": False, "more": True}


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("-limit", lambda b: (-b.line.credit_limit, -b.pk)),
        ("limit", lambda b: (b.line.credit_limit, b.pk)),
        ("-opened", lambda b: (-b.line.opened_at.timestamp(), -b.pk)),
    ],
)
def test_a_sorted_list_walks_forward_and_back_by_cursor(client, analyst, many, sort, key):
    expected = [b.customer_no for b in sorted(Borrower.objects.select_related("line"), key=key)]
    walked: list[str] = []
    pages: list[list[str]] = []
    params: dict[str, str] = {"sort": sort}
    while True:
        page = _list(client, analyst, **params).context["page"]
        walked.extend(b.customer_no for b in page.rows)
        pages.append([b.customer_no for b in page.rows])
        if not page.has_next:
            break
        params = {"sort": sort, "after": page.next_after}
    assert walked == expected
    # And back from the last page to the first.
    back = _list(client, analyst, sort=sort, before=page.prev_before).context["page"]
    assert [b.customer_no for b in back.rows] == pages[-2]
    last = _list(client, analyst, sort=sort, last="1").context["page"]
    assert [b.customer_no for b in last.rows] == expected[-2:]


def test_most_overdue_first_puts_the_current_borrowers_last(analyst, people):
    rows = list(selectors.borrower_list(user=analyst, sort="-dpd"))
    assert len(rows) == 3  # none overdue: all tie on "never due", by id


# --- CSV export ----------------------------------------------------------------------------


def _csv(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_the_export_holds_the_filtered_rows_masked_and_is_audited(client, senior_analyst, people):
    client.force_login(senior_analyst)
    response = client.get(reverse("lending:borrower-export"), {"q": HAO_ID, "sort": "-limit"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = _csv(response)
    lines = body.strip().splitlines()
    assert len(lines) == 2 and "C20000001" in lines[1]
    assert "张**" in body and "138****5678" in body
    assert "13800005678" not in body and HAO_ID not in body and "张浩浩" not in body
    event = AuditEvent.objects.filter(action="borrower_list.exported").get()
    assert event.actor == senior_analyst
    assert event.after["rows"] == 1
    # The filter is on record, the ID number in it masked like everywhere else.
    assert event.after["filters"] == {"q": "110101********123X", "sort": "-limit"}


def test_an_export_with_an_invalid_filter_is_refused_not_the_whole_book(client, analyst, people):
    client.force_login(analyst)
    response = client.get(reverse("lending:borrower-export"), {"bucket": "M99"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action="borrower_list.exported").exists()


def test_a_formula_in_a_cell_is_written_as_text(client, analyst, people):
    BorrowerFactory(customer_no="C29999999", city="=HYPERLINK(1)")
    client.force_login(analyst)
    body = _csv(client.get(reverse("lending:borrower-export"), {"q": "C29999999"}))
    assert "'=HYPERLINK(1)" in body


def test_a_borrower_and_anonymous_visitor_cannot_export(client, borrower_user, people):
    url = reverse("lending:borrower-export")
    assert client.get(url).status_code == 302
    client.force_login(borrower_user)
    assert client.get(url).status_code == 403


def test_the_pager_links_of_a_sorted_list_carry_their_cursor_intact(client, analyst, many):
    # An opening time's cursor holds "+08:00": the link must survive the query string.
    html = _list(client, analyst, sort="-opened").content.decode()
    href = re.search(r'rel="next" href="\?([^"]+)"', html)
    assert href is not None
    response = client.get(
        reverse("lending:borrower-list") + "?" + href.group(1).replace("&amp;", "&")
    )
    assert "This page link is not valid" not in response.content.decode()
    assert len(_found(response)) == 2
