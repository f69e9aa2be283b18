"""Searching never confirms what the screen masks: staff who may not reveal personal data match
a name by its surname only, and full ID or mobile numbers not at all; a refused reveal from the
page leaves its records."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import AuditEvent
from lending.filters import SEARCH_HINT_FULL, SEARCH_HINT_SURNAME_ONLY, BorrowerFilter
from lending.models import Borrower, PiiAccess
from lending.selectors import search_q
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db

HAOHAO_ID = "110101199003071234"
HAOHAO_MOBILE = "13800005678"


@pytest.fixture
def people() -> dict[str, Borrower]:
    return {
        "haohao": BorrowerFactory(
            customer_no="C20000001", name="张浩浩", national_id=HAOHAO_ID, mobile=HAOHAO_MOBILE
        ),
        "wei": BorrowerFactory(
            customer_no="C20000002",
            name="张伟",
            national_id="110101198001019999",
            mobile="13900001111",
        ),
        "long": BorrowerFactory(
            customer_no="C20000003",
            name="李小龙",
            national_id="440301199001015555",
            mobile="13700002222",
        ),
    }


def _found(client, user, query: str) -> set[str]:
    client.force_login(user)
    response = client.get(reverse("lending:borrower-list"), {"q": query})
    assert response.status_code == 200
    return {b.customer_no for b in response.context["page"].rows}


@pytest.mark.parametrize("query", ["张浩浩", "张浩", "张伟", "张"])
def test_an_analysts_name_search_matches_the_surname_only(client, analyst, people, query):
    # 张** on screen: searching 张浩浩 lists every 张, so a guessed full name is not confirmed.
    assert _found(client, analyst, query) == {"C20000001", "C20000002"}


@pytest.mark.parametrize("role", ["senior_analyst", "manager", "head_of_risk", "admin_user"])
def test_staff_who_may_reveal_keep_full_name_prefix_search(client, request, people, role):
    user = request.getfixturevalue(role)

    assert _found(client, user, "张浩浩") == {"C20000001"}
    assert _found(client, user, "张浩") == {"C20000001"}


@pytest.mark.parametrize("query", [HAOHAO_ID, HAOHAO_ID.lower(), HAOHAO_MOBILE])
def test_an_analyst_cannot_confirm_a_full_id_or_mobile_number(client, analyst, people, query):
    assert _found(client, analyst, query) == set()


@pytest.mark.parametrize("query", [HAOHAO_ID, HAOHAO_MOBILE])
def test_staff_who_may_reveal_find_a_full_id_or_mobile_number(
    client, senior_analyst, people, query
):
    assert _found(client, senior_analyst, query) == {"C20000001"}


def test_everyone_finds_by_last_four_digits_and_customer_number(
    client, analyst, senior_analyst, people
):
    for user in (analyst, senior_analyst):
        assert _found(client, user, "1234") == {"C20000001"}  # ID last 4
        assert _found(client, user, "5678") == {"C20000001"}  # mobile last 4
        assert _found(client, user, "c20000003") == {"C20000003"}


def test_a_search_without_a_user_is_as_narrow_as_an_analysts(people):
    matched = Borrower.objects.filter(search_q("张浩浩"))
    assert {b.customer_no for b in matched} == {"C20000001", "C20000002"}
    assert not Borrower.objects.filter(search_q(HAOHAO_ID)).exists()


def _hint(user=None) -> str:
    request = RequestFactory().get("/borrowers/")
    if user is not None:
        request.user = user
    form = BorrowerFilter({}, queryset=Borrower.objects.none(), request=request).form
    return str(form.fields["q"].widget.attrs["placeholder"])


def test_the_search_box_tells_an_analyst_that_only_the_surname_counts(analyst, senior_analyst):
    assert _hint(analyst) == str(SEARCH_HINT_SURNAME_ONLY)
    assert _hint() == str(SEARCH_HINT_SURNAME_ONLY)
    assert _hint(senior_analyst) == str(SEARCH_HINT_FULL)
    assert _hint(analyst) == str(SEARCH_HINT_SURNAME_ONLY)  # no leak between instances


# A refused reveal from the page ---------------------------------------------------------------


def test_a_refused_reveal_on_the_page_leaves_an_access_record_and_an_audit_row(
    client, analyst, people
):
    client.force_login(analyst)
    borrower = people["haohao"]

    response = client.post(
        reverse("lending:pii-reveal", args=[borrower.pk]),
        {"field": "national_id", "reason": "Dispute D-123: identity check"},
        HTTP_HX_REQUEST="true",
        REMOTE_ADDR="192.0.2.44",
    )

    assert HAOHAO_ID not in response.content.decode()
    access = PiiAccess.objects.get()
    assert (access.actor, access.granted, access.field) == (analyst, False, "national_id")
    row = AuditEvent.objects.get(action="pii.reveal_refused")
    assert (row.actor, row.borrower_id, row.ip_address) == (analyst, borrower.pk, "192.0.2.44")
    assert row.after == {"field": "national_id", "object_ref": "", "granted": False}
    assert HAOHAO_ID not in f"{row.before} {row.after} {row.note}"
