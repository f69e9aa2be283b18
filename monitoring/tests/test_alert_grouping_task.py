"""Raised alerts are grouped into cases by a worker (monitoring.tasks.alerts_group_task),
queued after commit, not inside the request that raised them."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from monitoring.models import Case
from monitoring.tasks import alerts_group_task
from monitoring.tests.cases_setup import make_alert, make_borrower, raise_alerts

pytestmark = pytest.mark.django_db


def test_raising_alerts_queues_one_task_after_commit_and_opens_no_case_in_the_request(
    monkeypatch, django_capture_on_commit_callbacks
):
    queued: list[list[int]] = []
    monkeypatch.setattr(alerts_group_task, "delay", lambda *, alert_ids: queued.append(alert_ids))
    borrower = make_borrower()
    alert = make_alert(borrower)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        raise_alerts(alert)
    assert queued == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert queued == [[alert.pk]]
    assert not Case.objects.filter(borrower=borrower).exists()


def test_the_task_groups_once_and_a_redelivery_changes_nothing():
    borrower = make_borrower()
    alert = make_alert(borrower)
    alerts_group_task(alert_ids=[alert.pk])
    case = Case.objects.get(borrower=borrower)
    audited = AuditEvent.objects.count()
    alerts_group_task(alert_ids=[alert.pk])
    assert list(Case.objects.filter(borrower=borrower)) == [case]
    assert AuditEvent.objects.count() == audited
    alert.refresh_from_db()
    assert alert.case_id == case.pk


def test_a_broker_that_refuses_the_task_is_logged_and_the_sweep_groups_later(
    monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def refuse(**_kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(alerts_group_task, "delay", refuse)
    borrower = make_borrower()
    alert = make_alert(borrower)
    with django_capture_on_commit_callbacks(execute=True):
        raise_alerts(alert)  # the sender is not troubled
    assert "queueing alerts" in caplog.text
    from monitoring.services.cases import alerts_group_pending

    assert alerts_group_pending(settle_seconds=0) == 1
    assert Case.objects.filter(borrower=borrower).count() == 1
