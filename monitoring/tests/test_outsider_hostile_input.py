"""Hostile input on the drawdown-check list (page and API) and the borrower's documents page:
ids beyond any database integer, digits that are not ASCII, the calendar's first and last
days. Each is an answer a person can read (404 or 400, or the rows), never a server error."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from monitoring.tests.test_case_documents_portal import _asked

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


def _clients(user) -> tuple[Client, APIClient]:
    page, api = Client(), APIClient()
    page.force_login(user)
    api.force_authenticate(user)
    return page, api


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (f"borrower={HUGE}", 400),  # beyond a bigint: refused, not an overflow
        ("borrower=1.5", 400),  # not an id: refused, not read as borrower 1
        ("checked_to=9999-12-31", 200),  # the last day: no upper bound
        ("checked_from=0001-01-01", 200),  # the first day: no lower bound
    ],
)
def test_check_filters_at_the_limits_answer_without_error(analyst, query, expected):
    page, api = _clients(analyst)
    assert page.get(f"/monitoring/checks/?{query}").status_code == expected
    assert api.get(f"/api/v1/drawdown-checks/?{query}").status_code == expected


@pytest.mark.parametrize("cursor", ["%C2%B2.1", "1.%C2%B2"])  # "²": a digit int() refuses
def test_a_tampered_page_cursor_with_a_superscript_digit_gives_the_first_page(analyst, cursor):
    page, _api = _clients(analyst)
    response = page.get(f"/monitoring/checks/?after={cursor}")
    assert response.status_code == 200
    assert response.context["page"].bad_cursor is True


def test_a_documents_page_with_an_id_beyond_any_integer_is_not_found(
    analyst, borrower_user, borrower_record
):
    _asked(analyst, borrower_record)
    client = Client()
    client.force_login(borrower_user)
    url = f"/monitoring/my-documents/{HUGE}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404
