"""The timeline's cost: one key query for all the simple sources, the two computed ones beside
it, and full rows read only for the sources that make the page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.selectors.timeline import KINDS, Cursor, borrower_timeline
from monitoring.tests.test_timeline import history  # noqa: F401  (the shared fixture)

pytestmark = pytest.mark.django_db


def _page(user, borrower_id, **given):
    with CaptureQueriesContext(connection) as queries:
        page = borrower_timeline(user=user, borrower_id=borrower_id, **given)
    return page, len(queries.captured_queries)


def test_a_page_of_every_kind_reads_keys_once_and_details_per_kind_shown(analyst, history):  # noqa: F811
    page, count = _page(analyst, history.pk)

    shown_sources = {e.rank for e in page.entries} - {30, 80}  # missed, scores: read directly
    assert page.entries
    # the key union + missed due dates + scores + one details query per keyed source shown
    assert count <= 3 + len(shown_sources)
    assert count < 13  # the old one-query-per-source timeline


def test_one_kind_costs_two_queries(analyst, history):  # noqa: F811
    page, count = _page(analyst, history.pk, kinds=["drawdown"])
    assert {e.kind for e in page.entries} == {"drawdown"}
    assert count == 2  # keys, then the page's drawdowns


def test_small_pages_walk_every_entry_once_in_order(analyst, history):  # noqa: F811
    everything = borrower_timeline(user=analyst, borrower_id=history.pk, size=500).entries
    walked, cursor = [], None
    while True:
        page = borrower_timeline(user=analyst, borrower_id=history.pk, cursor=cursor, size=2)
        walked += page.entries
        if not page.next_cursor:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert [e.key for e in walked] == [e.key for e in everything]
    assert [e.key for e in everything] == sorted((e.key for e in everything), reverse=True)
    assert {e.kind for e in everything} >= {"drawdown", "repayment", "missed", "login"}
    assert set(KINDS) >= {e.kind for e in everything}


@pytest.mark.parametrize("kinds", [(), ("login", "repayment"), ("change", "reveal")])
def test_the_prepared_key_query_matches_the_orm_one(analyst, history, kinds):  # noqa: F811
    from monitoring.selectors import timeline

    selected = frozenset(timeline.parse_kinds(kinds) or KINDS)
    branches = timeline._branches(analyst, history.pk, selected)
    first = borrower_timeline(user=analyst, borrower_id=history.pk, kinds=kinds, size=3)
    cursors = [None, Cursor.decode(first.next_cursor)] if first.next_cursor else [None]
    for cursor in cursors:
        prepared = timeline._keys(analyst, branches, history.pk, selected, cursor, 4)
        orm = timeline._union(branches, cursor, 4)
        assert orm is not None
        assert prepared == list(orm)
        assert prepared
