"""Recorded drawdown checks for risk staff: GET /api/v1/drawdown-checks/ (and one by id) and the
page /monitoring/checks/, with one FilterSet between them and the pages' permissions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from lending.models import Borrower, CreditLine
from monitoring.models import DrawdownCheck

pytestmark = pytest.mark.django_db
URL = "/api/v1/drawdown-checks/"
TZ = ZoneInfo("Asia/Shanghai")


def _record(borrower, *, day: int, decision: str = "approve", purpose: str = "daily", **extra):
    return DrawdownCheck.objects.create(
        borrower=borrower,
        amount=Decimal(extra.pop("amount", "1000.00")),
        term_months=6,
        purpose=purpose,
        decision=decision,
        reasons=[{"code": "past_due", "decision": "decline", "detail": {}}]
        if decision == "decline"
        else [],
        line_status="active",
        available=Decimal("20000.00"),
        dpd=0,
        checked_at=datetime(2026, 3, day, 23, 30, tzinfo=TZ),
        **extra,
    )


@pytest.fixture
def other_borrower(borrower_record):
    other = Borrower.objects.create(
        customer_no="C00000002",
        name="李四",
        national_id="110101199003075678",
        national_id_last4="5678",
        mobile="13800005678",
        mobile_last4="5678",
        registered_at=datetime(2026, 1, 5, 10, 0, tzinfo=TZ),
    )
    CreditLine.objects.create(
        borrower=other,
        credit_limit=Decimal("5000.00"),
        daily_rate=Decimal("0.000500"),
        opened_at=datetime(2026, 1, 5, 10, 0, tzinfo=TZ),
    )
    return other


@pytest.fixture
def book(borrower_record, other_borrower):
    return {
        "approve_1": _record(borrower_record, day=1),
        "decline_2": _record(borrower_record, day=2, decision="decline", purpose="travel"),
        "review_3": _record(other_borrower, day=3, decision="review"),
        "approve_4": _record(other_borrower, day=4, purpose="travel"),
    }


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_staff_list_is_newest_first_with_the_borrower_masked(analyst, book):
    response = _api(analyst).get(URL)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [
        book[k].pk for k in ("approve_4", "review_3", "decline_2", "approve_1")
    ]
    assert rows[2]["customer_no"] == "C00000001"
    assert rows[2]["borrower_name"] == "张*"  # masked, never the full name
    assert "张三" not in response.content.decode()
    assert rows[2]["reasons"][0]["code"] == "past_due"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("decision=decline", ["decline_2"]),
        ("purpose=travel", ["approve_4", "decline_2"]),
        ("customer_no=C00000002", ["approve_4", "review_3"]),
        ("decision=approve&purpose=daily", ["approve_1"]),
        # Whole days in Shanghai, both ends included: 23:30 on the 2nd and the 3rd.
        ("checked_from=2026-03-02&checked_to=2026-03-03", ["review_3", "decline_2"]),
        ("checked_to=2026-03-01", ["approve_1"]),
    ],
)
def test_filters_pick_the_same_rows_on_the_api_and_the_page(
    analyst, book, query, expected, client: Client
):
    want = [book[k].pk for k in expected]
    assert _ids(_api(analyst).get(f"{URL}?{query}")) == want

    client.force_login(analyst)
    page = client.get(f"{reverse('monitoring:drawdown-check-list')}?{query}")
    assert page.status_code == 200
    shown = [check.pk for check, _name, _reasons in page.context["rows"]]
    assert shown == want


def test_filter_by_borrower_id(analyst, book, other_borrower):
    response = _api(analyst).get(f"{URL}?borrower={other_borrower.pk}")
    assert _ids(response) == [book["approve_4"].pk, book["review_3"].pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("decision=maybe", "decision"),
        ("purpose=yacht", "purpose"),
        ("checked_from=yesterday", "checked_from"),
        ("borrower=abc", "borrower"),
    ],
)
def test_an_invalid_filter_is_a_400_naming_it_never_the_whole_list(
    analyst, book, query, field, client: Client
):
    response = _api(analyst).get(f"{URL}?{query}")

    assert response.status_code == 400
    body = response.json()
    assert "results" not in body
    assert field in response.content.decode()

    client.force_login(analyst)
    page = client.get(f"{reverse('monitoring:drawdown-check-list')}?{query}")
    assert page.status_code == 400
    assert page.context["rows"] == []
    assert page.context["errors"]
    assert "C00000001" not in page.content.decode()


def test_cursor_pages_cover_every_check_once(analyst, borrower_record):
    made = [_record(borrower_record, day=1 + i % 20) for i in range(7)]
    client = _api(analyst)
    seen: list[int] = []
    url = f"{URL}?limit=3"
    pages = 0
    while url:
        body = client.get(url).json()
        assert len(body["results"]) <= 3
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(c.pk for c in made)
    assert len(seen) == len(set(seen))


def test_page_shows_older_link_and_next_page(analyst, borrower_record, client: Client):
    for i in range(55):
        _record(borrower_record, day=1 + i % 28, amount=f"{100 + i}.00")
    client.force_login(analyst)
    first = client.get(reverse("monitoring:drawdown-check-list"))
    assert len(first.context["rows"]) == 50
    older = first.context["page"].older
    assert older
    second = client.get(reverse("monitoring:drawdown-check-list") + f"?after={older}")
    assert len(second.context["rows"]) == 5
    assert not {r[0].pk for r in first.context["rows"]} & {r[0].pk for r in second.context["rows"]}


def test_detail_by_id(analyst, book):
    response = _api(analyst).get(f"{URL}{book['review_3'].pk}/")
    assert response.status_code == 200
    assert response.json()["decision"] == "review"


@pytest.mark.parametrize(
    "who", ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]
)
def test_risk_staff_may_list(request, who, book, client: Client):
    user = request.getfixturevalue(who)
    assert _api(user).get(URL).status_code == 200
    assert _api(user).get(f"{URL}{book['approve_1'].pk}/").status_code == 200
    client.force_login(user)
    assert client.get(reverse("monitoring:drawdown-check-list")).status_code == 200


@pytest.mark.parametrize("who", ["borrower_user", "service_user", "outsider"])
def test_borrowers_and_machines_are_refused(request, who, book, client: Client):
    user = request.getfixturevalue(who)
    response = _api(user).get(URL)
    assert response.status_code in (401, 403) if who == "outsider" else response.status_code == 403
    assert "results" not in response.json()
    detail = _api(user).get(f"{URL}{book['approve_1'].pk}/")
    assert detail.status_code in (401, 403, 404)
    if who != "outsider":
        client.force_login(user)
        page = client.get(reverse("monitoring:drawdown-check-list"))
        assert page.status_code in (302, 403)
        assert "C00000001" not in page.content.decode()


def test_anonymous_is_refused(book):
    assert APIClient().get(URL).status_code in (401, 403)


def test_the_service_account_still_posts_checks(service_user, borrower_record):
    from monitoring.services import rules_ensure_defaults

    rules_ensure_defaults()
    response = _api(service_user).post(
        URL,
        {"customer_no": "C00000001", "amount": "100.00", "term_months": 3, "purpose": "daily"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["decision"] in ("approve", "review", "decline")
    assert DrawdownCheck.objects.count() == 1


def test_timeline_links_a_check_to_the_list_of_the_borrowers_checks(analyst, book, client):
    client.force_login(analyst)
    from monitoring.selectors.timeline import borrower_timeline

    page = borrower_timeline(
        user=analyst, borrower_id=book["approve_1"].borrower_id, kinds=["check"]
    )
    urls = {e.url for e in page.entries}
    assert urls == {
        reverse("monitoring:drawdown-check-list") + f"?borrower={book['approve_1'].borrower_id}"
    }


def test_reasons_read_as_words_in_both_languages_and_the_answer_is_coloured(
    analyst, borrower_record, client: Client
):
    from django.utils import translation

    from monitoring.selectors.checks import reason_text

    reasons = [
        {"code": "line_frozen", "decision": "decline", "detail": {}},
        {"code": "past_due", "decision": "decline", "detail": {"dpd": 12}},
        {"code": "over_available", "decision": "decline", "detail": {"available": "800.00"}},
        {"code": "term_over_scenario", "decision": "decline", "detail": {"max": 6}},
        {"code": "share_over_scenario", "decision": "review", "detail": {"max_share": "0.5"}},
        {"code": "score_below_scenario", "decision": "review", "detail": {"min_score": 620}},
        {"code": "rule_utilisation_jump", "decision": "review", "detail": {"severity": 2}},
        {"code": "something_new", "decision": "review", "detail": {}},
    ]
    with translation.override("en"):
        assert [reason_text(r) for r in reasons] == [
            "Line status: Frozen",
            "Past due (12 days)",
            "Over the available ¥800.00",
            "Term over the purpose's 6 months",
            "Over the purpose's share of the limit (50%)",
            "Score under the purpose's floor (620)",
            "Rule: Utilisation jump",
            "something_new",  # an unknown code is shown as it is
        ]
    with translation.override("zh-hans"):
        texts = [reason_text(r) for r in reasons[:7]]
    assert all(t.isascii() is False for t in texts)  # every known reason has its Chinese words

    _record(borrower_record, day=3, decision="decline")
    DrawdownCheck.objects.filter(decision="decline").update(reasons=reasons[:2])
    client.force_login(analyst)
    html = client.get(reverse("monitoring:drawdown-check-list")).content.decode()
    assert "Past due (12 days)" in html and "past_due" not in html
    assert 'class="badge check-decline"' in html
