"""The borrower pages: who may open them, masking, search and filters, pagination, reveals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from lending.models import Borrower, PiiAccess
from lending.selectors import pages as selectors
from lending.services import line_freeze
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Every test runs on 2026-06-15 (noon, Shanghai), so DPD and buckets are fixed.
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=SHANGHAI)
STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]


@pytest.fixture(autouse=True)
def frozen_clock_and_empty_cache():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


@pytest.fixture
def book():
    """Three borrowers: current with a loan, 35 days late (M2) and frozen, and no loan."""
    current = BorrowerFactory(
        customer_no="C10000001",
        name="李小龙",
        national_id="440301199001011111",
        mobile="13912345678",
        city="Shenzhen",
        credit_limit=Decimal("20000.00"),
    )
    DrawdownFactory(
        borrower=current,
        loan_no="L-CUR",
        amount=Decimal("10000.00"),
        disbursed_at=at(2026, 6, 1),
        card_no="6222020200112233445",
    )
    late = BorrowerFactory(
        customer_no="C10000002",
        name="王芳",
        national_id="310101198505052222",
        mobile="13698765432",
        city="Shanghai",
        credit_limit=Decimal("10000.00"),
    )
    # First instalment due 2026-05-11: 35 days past due on 2026-06-15 -> M2.
    DrawdownFactory(
        borrower=late,
        loan_no="L-LATE",
        amount=Decimal("4000.00"),
        disbursed_at=at(2026, 4, 11),
        card_no="6228480011223344556",
    )
    line_freeze(actor=None, line=late.line, reason="Arrears review")
    idle = BorrowerFactory(
        customer_no="C10000003",
        name="张伟",
        national_id="110101199203033333",
        mobile="13700001111",
        city="Beijing",
        credit_limit=Decimal("5000.00"),
    )
    return {"current": current, "late": late, "idle": idle}


def _rows(response) -> list[str]:
    return [b.customer_no for b in response.context["page"].rows]


# --- who may open which page ------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["lending:borrower-list", "lending:my-line"])
def test_anonymous_visitor_is_sent_to_login(client, url_name):
    response = client.get(reverse(url_name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_anonymous_visitor_cannot_open_a_borrower_page(client, borrower_record):
    response = client.get(reverse("lending:borrower-detail", args=[borrower_record.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_opens_the_list_and_a_borrower_page(client, request, role, book):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("lending:borrower-list")).status_code == 200
    detail = client.get(reverse("lending:borrower-detail", args=[book["late"].pk]))
    assert detail.status_code == 200
    assert "lending/borrower_detail.html" in [t.name for t in detail.templates]


def test_borrower_login_is_refused_the_staff_list(client, borrower_user):
    client.force_login(borrower_user)
    assert client.get(reverse("lending:borrower-list")).status_code == 403


def test_borrower_login_sees_only_its_own_page(client, borrower_user, book):
    client.force_login(borrower_user)
    own = client.get(reverse("lending:borrower-detail", args=[borrower_user.borrower_id]))
    assert own.status_code == 200
    assert "lending/my_line.html" in [t.name for t in own.templates]
    other = client.get(reverse("lending:borrower-detail", args=[book["late"].pk]))
    assert other.status_code == 404


def test_borrower_my_line_shows_own_data_with_the_national_id_masked(client, borrower_user):
    client.force_login(borrower_user)
    response = client.get(reverse("lending:my-line"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "张三" in html and "13800001234" in html
    assert "110101199003071234" not in html
    assert "110101********1234" in html
    assert "Audit trail" not in html and "Reveal" not in html


def test_staff_have_no_line_of_their_own(client, analyst):
    client.force_login(analyst)
    assert client.get(reverse("lending:my-line")).status_code == 404


def test_service_account_is_refused_the_pages(client, service_user):
    client.force_login(service_user)
    assert client.get(reverse("lending:borrower-list")).status_code == 403


# --- masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["lending:borrower-list", "lending:borrower-detail"])
def test_staff_pages_never_show_full_personal_data(client, senior_analyst, book, url_name):
    client.force_login(senior_analyst)
    args = [book["current"].pk] if url_name == "lending:borrower-detail" else []
    html = client.get(reverse(url_name, args=args)).content.decode()
    for full in ["440301199001011111", "13912345678", "李小龙", "6222020200112233445"]:
        assert full not in html
    assert "139****5678" in html
    assert "李**" in html
    if url_name == "lending:borrower-detail":
        assert "440301********1111" in html
        assert "622202*********3445" in html


# --- search, filters, pagination ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("王", ["C10000002"]),
        ("1111", ["C10000003", "C10000001"]),  # mobile last 4 of one, ID last 4 of the other
        ("5678", ["C10000001"]),
        ("c10000002", ["C10000002"]),
        ("nobody", []),
    ],
)
def test_search_matches_name_id_or_mobile_last4_and_customer_no(
    client, analyst, book, query, expected
):
    client.force_login(analyst)
    response = client.get(reverse("lending:borrower-list"), {"q": query})
    assert _rows(response) == expected


def test_search_by_borrower_id(client, analyst, book):
    client.force_login(analyst)
    response = client.get(reverse("lending:borrower-list"), {"q": str(book["idle"].pk)})
    assert "C10000003" in _rows(response)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "frozen"}, ["C10000002"]),
        ({"status": "active"}, ["C10000003", "C10000001"]),
        ({"bucket": "M2"}, ["C10000002"]),
        ({"bucket": "M0"}, ["C10000003", "C10000001"]),
        ({"bucket": "M1"}, []),
        ({"city": "Shenzhen"}, ["C10000001"]),
        ({"city": "Shanghai", "bucket": "M2"}, ["C10000002"]),
        ({"bucket": "M99"}, []),  # invalid: an error on the page, never the whole book
    ],
)
def test_filters_return_the_right_rows(client, analyst, book, params, expected):
    client.force_login(analyst)
    response = client.get(reverse("lending:borrower-list"), params)
    assert response.status_code == 200
    assert _rows(response) == expected


def test_list_shows_dpd_and_bucket_badges(client, analyst, book):
    client.force_login(analyst)
    html = client.get(reverse("lending:borrower-list"), {"q": "C10000002"}).content.decode()
    assert "bucket-M2" in html
    assert "line-frozen" in html
    assert ">35<" in html


def test_htmx_request_gets_only_the_table(client, analyst, book):
    client.force_login(analyst)
    response = client.get(reverse("lending:borrower-list"), {"q": "王"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="borrower-table"')
    assert "<html" not in html
    assert "C10000002" in html


def test_keyset_pagination_walks_forward_and_back(client, analyst, book, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    extra = BorrowerFactory(customer_no="C10000004")
    client.force_login(analyst)
    url = reverse("lending:borrower-list")
    first = client.get(url)
    assert _rows(first) == ["C10000004", "C10000003"]
    page = first.context["page"]
    assert not page.has_prev and page.has_next
    second = client.get(url, {"after": page.next_after})
    assert _rows(second) == ["C10000002", "C10000001"]
    assert second.context["page"].has_prev and not second.context["page"].has_next
    back = client.get(url, {"before": second.context["page"].prev_before})
    assert _rows(back) == ["C10000004", "C10000003"]
    assert not back.context["page"].has_prev
    assert extra.pk > book["idle"].pk


def test_pagination_keeps_the_filters(client, analyst, book, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 1)
    client.force_login(analyst)
    response = client.get(reverse("lending:borrower-list"), {"status": "active"})
    html = response.content.decode()
    assert f"status=active&amp;after={response.context['page'].next_after}" in html


def test_list_page_query_count_does_not_grow_with_rows(
    client, analyst, book, django_assert_max_num_queries
):
    for n in range(20):
        BorrowerFactory(customer_no=f"Q{n:08d}")
    client.force_login(analyst)
    url = reverse("lending:borrower-list")
    client.get(url)  # warms the city cache
    # Session read, user, the search's matching ids (at most 1,001, through the indexes), ONE
    # borrower-with-line query, the total (a COUNT over at most 1,001 rows), then the session
    # save that SESSION_SAVE_EVERY_REQUEST makes (savepoint, update, release): nothing per
    # row, and no COUNT(*) over the whole selection.
    with django_assert_max_num_queries(8) as captured:
        client.get(url, {"bucket": "M0", "q": "王"})
    counts = [q["sql"].upper() for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counts) == 1 and "LIMIT 1001" in counts[0]


def test_borrower_page_query_count_is_bounded(client, analyst, book, django_assert_max_num_queries):
    client.force_login(analyst)
    with django_assert_max_num_queries(16):
        response = client.get(reverse("lending:borrower-detail", args=[book["current"].pk]))
    assert response.status_code == 200


# --- the borrower page ----------------------------------------------------------------------------


def test_borrower_page_shows_line_schedule_apr_and_audit_trail(client, analyst, book):
    client.force_login(analyst)
    response = client.get(reverse("lending:borrower-detail", args=[book["late"].pk]))
    html = response.content.decode()
    assert "18.25%" in html  # 0.05%/day implies 18.25% a year, and the drawdown's IRR APR
    assert "0.0500%" in html
    assert "L-LATE" in html
    assert "Overdue 35 days" in html
    assert 'id="timeline"' in html  # the timeline (monitoring's fragment) tells the audit trail
    assert "Arrears review" in html  # the line's status reason
    assert response.context["borrower"].bucket == "M2"


def test_analyst_sees_no_reveal_control(client, analyst, book):
    client.force_login(analyst)
    html = client.get(
        reverse("lending:borrower-detail", args=[book["current"].pk])
    ).content.decode()
    assert 'class="reveal"' not in html


def test_senior_analyst_sees_reveal_controls(client, senior_analyst, book):
    client.force_login(senior_analyst)
    html = client.get(
        reverse("lending:borrower-detail", args=[book["current"].pk])
    ).content.decode()
    assert html.count('class="reveal"') == 4  # name, national ID, mobile, one bank card


# --- revealing personal data ------------------------------------------------------------


def _reveal(client, borrower, field, reason, object_ref="", htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(
        reverse("lending:pii-reveal", args=[borrower.pk]),
        {"field": field, "reason": reason, "object_ref": object_ref},
        **headers,
    )


def test_senior_analyst_reveals_a_mobile_with_a_reason(client, senior_analyst, book):
    client.force_login(senior_analyst)
    response = _reveal(client, book["current"], "mobile", "Dispute D-123: confirm the caller")
    html = response.content.decode()
    assert response.status_code == 200
    assert "13912345678" in html
    assert "<html" not in html
    access = PiiAccess.objects.get()
    assert (access.actor, access.field) == (senior_analyst, "mobile")


def test_reveal_of_a_bank_card_names_the_account(client, manager, book):
    client.force_login(manager)
    account = book["current"].bank_accounts.get()
    response = _reveal(
        client, book["current"], "bank_card", "Ticket T-77 card check", str(account.pk)
    )
    assert "6222020200112233445" in response.content.decode()
    assert PiiAccess.objects.get().object_ref == str(account.pk)


def test_reveal_with_a_short_reason_shows_the_refusal_in_place(client, senior_analyst, book):
    client.force_login(senior_analyst)
    response = _reveal(client, book["current"], "mobile", "why")
    html = response.content.decode()
    assert response.status_code == 200  # htmx swaps only 2xx; the refusal is the fragment
    assert "13912345678" not in html
    assert 'role="alert"' in html
    assert not PiiAccess.objects.exists()


def test_analyst_reveal_is_refused_and_the_attempt_is_recorded(client, analyst, book):
    client.force_login(analyst)
    response = _reveal(client, book["current"], "national_id", "Dispute D-123: identity check")
    assert "440301199001011111" not in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    attempt = PiiAccess.objects.get()
    assert (attempt.actor, attempt.granted) == (analyst, False)


def test_reveal_without_javascript_renders_the_whole_page(client, head_of_risk, book):
    client.force_login(head_of_risk)
    response = _reveal(
        client, book["current"], "national_id", "Dispute D-123: identity", htmx=False
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and "440301199001011111" in html
    assert "13912345678" not in html  # only the field asked for


def test_borrower_login_cannot_reveal(client, borrower_user):
    client.force_login(borrower_user)
    response = _reveal(
        client,
        Borrower.objects.get(pk=borrower_user.borrower_id),
        "national_id",
        "I want to see it please",
    )
    assert response.status_code == 403


def test_reveal_of_another_borrowers_card_is_404(client, senior_analyst, book):
    client.force_login(senior_analyst)
    other_account = book["late"].bank_accounts.get()
    response = _reveal(
        client, book["current"], "bank_card", "Ticket T-1 card check", str(other_account.pk)
    )
    assert response.status_code == 404
    assert not PiiAccess.objects.exists()


def test_reveal_is_post_only(client, senior_analyst, book):
    client.force_login(senior_analyst)
    response = client.get(reverse("lending:pii-reveal", args=[book["current"].pk]))
    assert response.status_code == 405


def test_overdue_instalments_show_penalty_accrued_up_to_today(analyst, book):
    """Penalty is booked only when money arrives; the schedule still shows what is owed today."""
    from lending import money

    borrower = selectors.borrower_detail(user=analyst, borrower_id=book["late"].pk)
    # Display attributes set by the selector, not model fields: typed as Any.
    overdue: list[Any] = [
        inst
        for drawdown in borrower.drawdowns.all()
        for inst in drawdown.instalments.all()
        if getattr(inst, "state", "") == "overdue"
    ]
    assert overdue
    for inst in overdue:
        penalty = money.penalty_interest(
            overdue_principal=inst.principal_due - inst.principal_paid,
            daily_rate=inst.drawdown.daily_rate,
            days=(NOW.date() - inst.due_date).days,
        )
        assert penalty > 0
        assert inst.fees_to_date == inst.fee_due + penalty
        assert inst.due_to_date == inst.principal_due + inst.interest_due + inst.fees_to_date
