"""The demo's alert backfill leaves every alert in its case itself: a seeded book has its
cases whether or not a worker has run the queued grouping tasks yet."""

from __future__ import annotations

import pytest

from demo.alerts import backfill_alerts
from monitoring.models import Alert, Case
from monitoring.tasks import alerts_group_task
from monitoring.tests.cases_setup import make_alert, make_borrower

pytestmark = pytest.mark.django_db


def test_alerts_left_without_a_case_are_grouped_by_the_backfill(monkeypatch):
    monkeypatch.setattr(alerts_group_task, "delay", lambda **_kwargs: None)  # no worker
    borrower = make_borrower()
    alert = make_alert(borrower)
    assert alert.case_id is None
    backfill_alerts()
    alert.refresh_from_db()
    assert alert.case_id == Case.objects.get(borrower=borrower).pk
    assert not Alert.objects.filter(case__isnull=True).exists()
