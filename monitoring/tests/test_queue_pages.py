"""Case pages: the role matrix, the lists' filters and badges, working a case in the browser's
forms, bulk actions on exactly the filtered rows, the CSV export (masked, audited), evidence
served only to staff."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from lending.choices import LineStatus
from monitoring.choices import AlertCategory, CaseStatus, Disposition, Severity
from monitoring.models import Case, CaseEvidence
from monitoring.services.cases import alerts_group, case_claim
from monitoring.tests.cases_setup import make_alert, make_borrower

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


def _body(response: Any) -> bytes:
    """A streamed response's bytes (a file, a CSV)."""
    return b"".join(response.streaming_content)


@pytest.fixture(autouse=True)
def _evidence_dir(settings, tmp_path):
    settings.RISKOPS_EVIDENCE_DIR = str(tmp_path / "evidence")


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _case(*, used: str = "1000.00", category: str = AlertCategory.FRAUD, severity=Severity.HIGH):
    borrower = make_borrower(used=used)
    return alerts_group(alert_ids=[make_alert(borrower, category=category, severity=severity).pk])[
        0
    ]


PAGES = [
    "/monitoring/cases/",
    "/monitoring/cases/mine/",
    "/monitoring/queues/fraud/",
    "/monitoring/cases/{case}/",
    "/monitoring/cases/pulse/",
    "/monitoring/cases/export.csv",
]


@pytest.mark.parametrize("path", PAGES)
def test_risk_staff_open_every_case_page_and_others_are_turned_away(
    path, analyst, borrower_user, service_user, outsider
):
    url = path.format(case=_case().pk)
    assert _login(analyst).get(url).status_code == 200
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    assert _login(borrower_user).get(url).status_code == 403
    client = Client()
    client.force_login(service_user)
    assert client.get(url).status_code == 403
    client.force_login(outsider)  # deactivated staff
    assert client.get(url).status_code in (302, 403)


def test_the_team_view_is_for_managers(analyst, senior_analyst, manager, head_of_risk):
    case = _case()
    case_claim(actor=analyst, case=case)
    assert _login(analyst).get("/monitoring/cases/team/").status_code == 403
    assert _login(senior_analyst).get("/monitoring/cases/team/").status_code == 403
    page = _login(manager).get("/monitoring/cases/team/")
    assert page.status_code == 200
    assert "alice" in page.content.decode()
    assert _login(head_of_risk).get("/monitoring/cases/team/").status_code == 200


def test_posts_are_refused_to_borrowers_and_anonymous(borrower_user):
    case = _case()
    for path in ("claim", "comment", "resolve", "line/freeze"):
        url = f"/monitoring/cases/{case.pk}/{path}/"
        assert Client().post(url, {"body": "x"}).status_code == 302
        assert _login(borrower_user).post(url, {"body": "x"}).status_code == 403
    case.refresh_from_db()
    assert case.assignee_id is None
    assert not case.comments.exists()


def test_overdue_and_near_breach_cases_carry_badges(analyst):
    overdue = _case()
    near = _case(category=AlertCategory.CREDIT)
    fine = _case(category=AlertCategory.CREDIT)
    Case.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(minutes=5))
    Case.objects.filter(pk=near.pk).update(due_at=timezone.now() + timedelta(minutes=30))
    page = _login(analyst).get("/monitoring/cases/").content.decode()
    assert page.count('class="badge sla-overdue"') == 1
    assert page.count('class="badge sla-near"') == 1
    only = _login(analyst).get("/monitoring/cases/", {"sla": "overdue"}).content.decode()
    assert f"#{overdue.pk}<" in only
    assert f"#{fine.pk}<" not in only


def test_an_invalid_filter_is_an_error_never_the_whole_list(analyst):
    case = _case()
    page = _login(analyst).get("/monitoring/cases/", {"amount_min": "lots"})
    assert page.status_code == 400
    assert f"#{case.pk}<" not in page.content.decode()


def test_an_analyst_works_a_case_to_the_end_through_the_pages(analyst):
    case = _case()
    client = _login(analyst)
    taken = client.post("/monitoring/queues/fraud/next/")
    assert taken.status_code == 302
    assert taken["Location"] == f"/monitoring/cases/{case.pk}/"
    client.post(f"/monitoring/cases/{case.pk}/comment/", {"body": "Called the borrower."})
    upload = SimpleUploadedFile("statement.pdf", PDF, content_type="application/pdf")
    client.post(f"/monitoring/cases/{case.pk}/evidence/", {"file": upload})
    frozen = client.post(
        f"/monitoring/cases/{case.pk}/line/freeze/", {"status_code": "fraud", "note": "mule"}
    )
    assert frozen.status_code == 302
    refused = client.post(f"/monitoring/cases/{case.pk}/resolve/", {"note": "done"})
    assert refused.status_code == 409
    assert "Choose a disposition." in refused.content.decode()
    client.post(
        f"/monitoring/cases/{case.pk}/resolve/",
        {"disposition": Disposition.CONFIRMED_FRAUD, "note": "Account used as a mule."},
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    assert case.borrower.line.status == LineStatus.FROZEN
    page = client.get(f"/monitoring/cases/{case.pk}/").content.decode()
    for text in ("Called the borrower.", "statement.pdf", "Resolved", "Line frozen from the case"):
        assert text in page


def test_an_analyst_sees_a_case_another_holds_but_cannot_act_on_it(analyst, senior_analyst):
    case = _case()
    case_claim(actor=senior_analyst, case=case)
    client = _login(analyst)
    page = client.get(f"/monitoring/cases/{case.pk}/").content.decode()
    assert "sam is working this case." in page
    refused = client.post(f"/monitoring/cases/{case.pk}/claim/")
    assert refused.status_code == 409
    case.refresh_from_db()
    assert case.assignee_id == senior_analyst.pk


def test_evidence_is_served_only_to_staff_as_a_download(analyst, borrower_user):
    case = _case()
    client = _login(analyst)
    client.post(
        f"/monitoring/cases/{case.pk}/evidence/",
        {"file": SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")},
    )
    evidence = CaseEvidence.objects.get()
    url = f"/monitoring/cases/{case.pk}/evidence/{evidence.pk}/"
    got = client.get(url)
    assert got.status_code == 200
    assert _body(got) == PDF
    assert got["Content-Disposition"].startswith("attachment")
    assert got["X-Content-Type-Options"] == "nosniff"
    assert AuditEvent.objects.filter(action="case.evidence_opened").count() == 1
    assert _login(borrower_user).get(url).status_code == 403
    assert Client().get(url).status_code == 302
    other = _case()
    assert client.get(f"/monitoring/cases/{other.pk}/evidence/{evidence.pk}/").status_code == 404


def test_a_refused_file_shows_why(analyst):
    case = _case()
    page = _login(analyst).post(
        f"/monitoring/cases/{case.pk}/evidence/",
        {"file": SimpleUploadedFile("x.pdf", b"<html></html>", content_type="application/pdf")},
    )
    assert page.status_code == 409
    assert "only PDF, JPEG or PNG" in page.content.decode()


# --- bulk actions -----------------------------------------------------------------------------


def test_bulk_assign_acts_on_exactly_the_filtered_rows(senior_analyst, analyst):
    big = [_case(used="15000.00") for _ in range(3)]
    small = [_case(used="500.00") for _ in range(2)]
    credit_big = _case(used="15000.00", category=AlertCategory.CREDIT)
    client = _login(senior_analyst)
    response = client.post(
        "/monitoring/cases/bulk/",
        {
            "status": "active",
            "queue": "fraud",
            "amount_min": "10000",
            "bulk_action": "assign",
            "bulk_assignee": analyst.pk,
            "bulk_expected": 3,
            "next_url": "/monitoring/cases/",
        },
    )
    assert response.status_code == 302
    assigned = set(Case.objects.filter(assignee=analyst).values_list("pk", flat=True))
    assert assigned == {c.pk for c in big}
    untouched = Case.objects.filter(pk__in=[c.pk for c in [*small, credit_big]])
    assert all(c.assignee_id is None and c.status == CaseStatus.OPEN for c in untouched)


def test_bulk_action_refuses_when_the_list_changed_since_it_was_seen(senior_analyst, analyst):
    _case(used="15000.00")
    _case(used="15000.00")
    client = _login(senior_analyst)
    response = client.post(
        "/monitoring/cases/bulk/",
        {
            "status": "active",
            "amount_min": "10000",
            "bulk_action": "assign",
            "bulk_assignee": analyst.pk,
            "bulk_expected": 1,  # the user saw one row; two match now
        },
        follow=True,
    )
    assert "not the 1 you saw" in response.content.decode()
    assert not Case.objects.filter(assignee__isnull=False).exists()


def test_bulk_close_is_for_managers_and_closes_only_the_filtered_rows(manager, senior_analyst):
    old = [_case() for _ in range(2)]
    new = _case()
    ids = {c.pk for c in old}
    Case.objects.filter(pk__in=ids).update(opened_at=timezone.now() - timedelta(hours=5))
    data = {
        "status": "active",
        "age_min_hours": "2",
        "bulk_action": "close",
        "bulk_disposition": Disposition.FALSE_POSITIVE,
        "bulk_note": "Rule misfired on payroll day",
        "bulk_expected": 2,
    }
    refused = _login(senior_analyst).post("/monitoring/cases/bulk/", data, follow=True)
    assert "Your role does not allow" in refused.content.decode()
    assert not Case.objects.filter(status=CaseStatus.RESOLVED).exists()
    closed = _login(manager).post("/monitoring/cases/bulk/", data, follow=True)
    assert "2 case(s) changed." in closed.content.decode()
    assert set(Case.objects.filter(status=CaseStatus.RESOLVED).values_list("pk", flat=True)) == ids
    new.refresh_from_db()
    assert new.status == CaseStatus.OPEN
    assert AuditEvent.objects.filter(action="case.resolved", note__startswith="bulk:").count() == 2


def test_a_bulk_action_with_an_invalid_filter_changes_nothing(manager):
    _case()
    response = _login(manager).post(
        "/monitoring/cases/bulk/",
        {
            "amount_min": "lots",
            "bulk_action": "close",
            "bulk_disposition": "other",
            "bulk_note": "x",
            "bulk_expected": 1,
        },
        follow=True,
    )
    assert "The filter is not valid" in response.content.decode()
    assert not Case.objects.filter(status=CaseStatus.RESOLVED).exists()


# --- CSV export ------------------------------------------------------------------------------


def test_csv_export_is_masked_filtered_and_audited(analyst):
    fraud = _case(used="8000.00")
    _case(category=AlertCategory.CREDIT)
    response = _login(analyst).get("/monitoring/cases/export.csv", {"queue": "fraud"})
    assert response.status_code == 200
    text = _body(response).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2  # header + the fraud case only
    row = rows[1]
    borrower = fraud.borrower
    assert row[0] == str(fraud.pk)
    assert borrower.mobile not in text
    assert borrower.name not in text
    assert "139****" in row[11]
    event = AuditEvent.objects.get(action="cases.exported")
    assert event.actor_id == analyst.pk
    assert event.after["rows"] == 1
    assert event.after["filters"]["queue"] == "fraud"


def test_the_pulse_fragment_counts_waiting_cases_and_recent_alerts(analyst):
    _case()
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        fragment = _login(analyst).get("/monitoring/cases/pulse/").content.decode()
    assert "1 alert in the last hour" in fragment
    assert "<script" not in fragment


def test_a_limit_cut_proposed_from_the_case_page_opens_the_proposal(analyst):
    from decisions.models.overrides import OverrideProposal, OverrideReason

    case = _case()
    reason = OverrideReason.objects.filter(active=True).first()
    assert reason is not None
    client = _login(analyst)
    assert "Propose a limit cut" in client.get(f"/monitoring/cases/{case.pk}/").content.decode()
    response = client.post(
        f"/monitoring/cases/{case.pk}/limit-cut/",
        {"new_limit": "3000.00", "reason_code": reason.code, "justification": "Mule pattern."},
    )
    proposal = OverrideProposal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/decisions/overrides/{proposal.pk}/"
    refused = client.post(
        f"/monitoring/cases/{case.pk}/limit-cut/",
        {"new_limit": "3000.00", "reason_code": reason.code, "justification": "Again, twice."},
    )
    assert refused.status_code == 409  # one proposal in flight per line (decisions' rule)
    assert OverrideProposal.objects.count() == 1


def _queries(client: Client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_case_list_makes_as_many_queries_for_two_cases_as_for_twelve(analyst):
    client = _login(analyst)
    for _ in range(2):
        _case()
    few = _queries(client, "/monitoring/cases/")
    for _ in range(10):
        _case(category=AlertCategory.CREDIT)
    assert _queries(client, "/monitoring/cases/") == few


def test_the_team_view_counts_resolved_per_analyst_and_overdue_per_queue(analyst, manager):
    from monitoring.services.cases import case_resolve

    for _ in range(2):
        case = _case()
        case_resolve(actor=analyst, case=case, disposition=Disposition.FALSE_POSITIVE, note="ok")
    late = _case()
    Case.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=1))
    from monitoring.selectors.cases import queue_stats, team_throughput

    fraud = next(row for row in queue_stats(user=manager) if row.queue.kind == "fraud")
    assert (fraud.open, fraud.overdue, fraud.unassigned) == (1, 1, 1)
    dates, analysts = team_throughput(user=manager)
    assert len(dates) == 7
    assert [(row.username, row.total, row.by_day[-1]) for row in analysts] == [("alice", 2, 2)]
    page = _login(manager).get("/monitoring/cases/team/").content.decode()
    assert 'class="badge sla-overdue">1<' in page


def test_htmx_filtering_swaps_only_the_table(analyst):
    case = _case()
    response = _login(analyst).get(
        "/monitoring/cases/",
        {"queue": "fraud"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="case-table",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="case-table"')
    assert f"#{case.pk}<" in body
    assert "<html" not in body


def test_an_invalid_filter_through_htmx_shows_its_message_in_the_table(analyst):
    case = _case()
    response = _login(analyst).get(
        "/monitoring/cases/",
        {"amount_min": "lots"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="case-table",
    )
    assert response.status_code == 200  # htmx swaps only 2xx
    body = response.content.decode()
    assert "The filter is not valid" in body
    assert f"#{case.pk}<" not in body
