"""The SLA clock pauses while a case waits for the borrower's documents: the due time moves by
the time waited when they come in or the request is withdrawn, and a waiting case is never
counted or shown as overdue or near breach (badges, SLA filter, due sort, team view)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from monitoring.choices import CaseStatus
from monitoring.filters import CaseFilter
from monitoring.models import Case
from monitoring.selectors.cases import queue_stats, sla_state
from monitoring.services.case_documents import (
    case_documents_received,
    case_documents_request,
    case_documents_withdraw,
)
from monitoring.services.cases import alerts_group, case_release
from monitoring.tests.cases_setup import make_alert, make_borrower
from monitoring.tests.conftest import NOW

pytestmark = pytest.mark.django_db


def _case() -> Case:
    return alerts_group(alert_ids=[make_alert(make_borrower(used="1000.00")).pk])[0]


def _due_now(case: Case) -> Case:
    """The case falls due exactly now (the boundary)."""
    Case.objects.filter(pk=case.pk).update(due_at=NOW)
    case.refresh_from_db()
    return case


def test_due_exactly_at_the_pause_resumes_n_hours_later_due_plus_n_hours(analyst):
    case = _due_now(_case())
    case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    case.refresh_from_db()
    assert case.waiting_since == NOW
    assert sla_state(case, NOW) == "waiting"

    with time_machine.travel(NOW + timedelta(hours=30), tick=False):
        assert sla_state(case, NOW + timedelta(hours=30)) == "waiting"  # not overdue
        case_documents_received(actor=analyst, case=case, note="by mail")

    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS
    assert case.due_at == NOW + timedelta(hours=30)
    assert case.sla_paused == timedelta(hours=30)
    assert case.waiting_since is None
    row = AuditEvent.objects.get(action="case.documents_received")
    assert row.after["sla_paused_seconds"] == 30 * 3600
    assert datetime.fromisoformat(row.before["due_at"]) == NOW
    assert datetime.fromisoformat(row.after["due_at"]) == NOW + timedelta(hours=30)
    # Due now, not before: the first minute after the resume it is overdue again.
    assert sla_state(case, NOW + timedelta(hours=30, minutes=1)) == "overdue"


def test_two_waits_add_up_and_a_withdrawn_request_resumes_the_clock_too(analyst):
    case = _case()
    due = case.due_at
    case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        case_documents_withdraw(actor=analyst, case=case, note="not needed")
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        case_documents_request(actor=analyst, case=case, documents=["bank_statement"])
    with time_machine.travel(NOW + timedelta(hours=6), tick=False):
        case_release(actor=analyst, case=case)

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert case.sla_paused == timedelta(hours=3)
    assert case.due_at == due + timedelta(hours=3)
    assert AuditEvent.objects.get(action="case.documents_withdrawn").after[
        "sla_paused_seconds"
    ] == (2 * 3600)


def test_asking_again_while_waiting_keeps_the_first_pause(analyst):
    case = _case()
    case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        case_documents_request(actor=analyst, case=case, documents=["bank_statement"])
    case.refresh_from_db()
    assert case.waiting_since == NOW


def test_a_waiting_case_is_not_overdue_in_the_filter_the_team_view_or_the_due_sort(
    analyst, manager
):
    waiting = _due_now(_case())
    case_documents_request(actor=analyst, case=waiting, documents=["income_proof"])
    late = _case()
    Case.objects.filter(pk=late.pk).update(due_at=NOW - timedelta(hours=1))
    later = NOW + timedelta(hours=2)

    overdue = CaseFilter({"sla": "overdue"}, queryset=Case.objects.all(), user=analyst, now=later)
    assert list(overdue.qs) == [late]
    at_risk = CaseFilter({"sla": "at_risk"}, queryset=Case.objects.all(), user=analyst, now=later)
    assert waiting not in list(at_risk.qs)
    by_due = CaseFilter({"sort": "due"}, queryset=Case.objects.all(), user=analyst, now=later)
    assert list(by_due.qs)[-1] == waiting  # after every running clock

    with time_machine.travel(later, tick=False):
        fraud = next(s for s in queue_stats(user=manager) if s.queue.pk == waiting.queue_id)
    assert fraud.waiting == 1
    assert fraud.overdue == 1  # `late` only

    client = Client()
    client.force_login(analyst)
    with time_machine.travel(later, tick=False):
        page = client.get(
            reverse("monitoring:case-detail", args=[waiting.pk]), HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
    assert "SLA paused" in page
    assert "sla-overdue" not in page


def test_the_withdraw_button_resumes_the_clock_from_the_case_page(analyst):
    case = _case()
    due = case.due_at
    case_documents_request(actor=analyst, case=case, documents=["income_proof"])
    client = Client()
    client.force_login(analyst)
    with time_machine.travel(NOW + timedelta(hours=4), tick=False):
        response = client.post(
            reverse("monitoring:case-documents-received", args=[case.pk]),
            {"action": "withdraw", "note": "got it elsewhere"},
        )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.IN_PROGRESS
    assert case.due_at == due + timedelta(hours=4)
    assert AuditEvent.objects.filter(action="case.documents_withdrawn").count() == 1
