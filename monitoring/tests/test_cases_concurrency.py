"""Cases under concurrency, on PostgreSQL with threads.

Two analysts pressing "next case" at once never get the same case (SELECT ... FOR UPDATE SKIP
LOCKED), and two alerts of one borrower and category grouped at once make one case (the
partial unique constraint, the loser joining the winner's case). SQLite serializes writers,
so these races need PostgreSQL and are skipped without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection

from monitoring.choices import CaseStatus, QueueKind
from monitoring.models import Alert, Case, Queue
from monitoring.services.cases import alerts_group, case_next
from monitoring.tests.cases_setup import make_alert, make_borrower

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL's row locks")


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call at once, one thread each; an exception is returned in place."""
    start = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        try:
            start.wait(timeout=10)
            outcomes[n] = calls[n]()
        except Exception as exc:
            outcomes[n] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_analysts_pressing_next_case_at_once_get_different_cases(django_user_model):
    analysts = [
        django_user_model.objects.create_user(username=f"a{n}", password="x" * 12, role="analyst")
        for n in range(6)
    ]
    for _ in range(4):
        alerts_group(alert_ids=[make_alert(make_borrower()).pk])
    queue = Queue.objects.get(kind=QueueKind.FRAUD)
    for _round in range(3):
        Case.objects.update(assignee=None, assigned_at=None, status=CaseStatus.OPEN)
        outcomes = _race([partial(case_next, actor=a, queue=queue) for a in analysts])
        got = [o.pk for o in outcomes if isinstance(o, Case)]
        errors = [o for o in outcomes if not isinstance(o, Case)]
        # Four cases for six analysts: four get one each, two hear the queue is empty.
        assert sorted(got) == sorted(Case.objects.values_list("pk", flat=True))
        assert len(set(got)) == 4
        assert [type(e).__name__ for e in errors] == ["QueueEmpty", "QueueEmpty"]
        holders = dict(Case.objects.values_list("pk", "assignee_id"))
        by_pk = {o.pk: o.assignee_id for o in outcomes if isinstance(o, Case)}
        assert holders == by_pk


def test_two_alerts_grouped_at_once_make_one_case():
    for _round in range(5):
        borrower = make_borrower()
        alerts = [make_alert(borrower) for _ in range(4)]
        outcomes = _race([partial(alerts_group, alert_ids=[a.pk]) for a in alerts])
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        cases = Case.objects.filter(borrower=borrower)
        assert cases.count() == 1
        case = cases.get()
        assert set(Alert.objects.filter(borrower=borrower).values_list("case_id", flat=True)) == {
            case.pk
        }
