"""Cases: alerts grouped into cases, and what an analyst does to one (monitoring.services.cases)."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from decisions.models.flags import RiskFlag
from lending.choices import LineStatus
from lending.errors import AlreadyFrozen, InvalidChoice
from monitoring.choices import AlertCategory, CaseStatus, Disposition, QueueKind, Severity
from monitoring.errors.cases import (
    AssigneeInvalid,
    CaseAssignedToAnother,
    CaseNotAllowed,
    CaseReopenConflict,
    CaseResolved,
    CommentRequired,
    DispositionRequired,
    EvidenceRefused,
    InvalidDisposition,
    NoteRequired,
    QueueEmpty,
    SlaInvalid,
)
from monitoring.models import Case, CaseEvidence, Queue
from monitoring.services.case_evidence import (
    EVIDENCE_MAX_BYTES,
    case_evidence_attach,
    evidence_path,
)
from monitoring.services.cases import (
    DEFAULT_SLA_HOURS,
    alerts_group,
    case_assign,
    case_claim,
    case_comment,
    case_line_freeze,
    case_line_unfreeze,
    case_next,
    case_priority,
    case_reopen,
    case_resolve,
    queue_sla_set,
    queues_ensure,
)
from monitoring.tests.cases_setup import make_alert, make_borrower, raise_alerts

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _evidence_dir(settings, tmp_path):
    settings.RISKOPS_EVIDENCE_DIR = str(tmp_path / "evidence")


def _case_for(borrower, category=AlertCategory.FRAUD) -> Case:
    alert = make_alert(borrower, category=category)
    return alerts_group(alert_ids=[alert.pk])[0]


# --- grouping ---------------------------------------------------------------------------------


def test_alerts_of_one_borrower_and_category_join_one_case(django_capture_on_commit_callbacks):
    borrower = make_borrower(used="9000.00")
    first = make_alert(borrower, severity=Severity.MEDIUM)
    with django_capture_on_commit_callbacks(execute=True):
        raise_alerts(first)
    second = make_alert(borrower, severity=Severity.CRITICAL)
    with django_capture_on_commit_callbacks(execute=True):
        raise_alerts(second)
    case = Case.objects.get(borrower=borrower)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.case_id == second.case_id == case.pk
    assert case.queue.kind == QueueKind.FRAUD
    # Priority recomputed when the critical alert joined: 4 x 100 + ¥9,000 / ¥2,000.
    assert case.priority == 404 == case_priority(severity=4, exposure=Decimal("9000"))
    assert case.exposure == Decimal("9000.00")
    assert case.due_at == case.opened_at + timedelta(hours=4)
    actions = list(
        AuditEvent.objects.filter(object_type="monitoring.case", object_id=str(case.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["case.opened", "case.alerts_joined"]


def test_a_credit_alert_opens_a_case_in_the_credit_queue_apart_from_fraud():
    borrower = make_borrower()
    fraud = _case_for(borrower, AlertCategory.FRAUD)
    credit = _case_for(borrower, AlertCategory.CREDIT)
    assert fraud.pk != credit.pk
    assert credit.queue.kind == QueueKind.CREDIT
    assert credit.due_at - credit.opened_at == timedelta(hours=24)


def test_grouping_the_same_alerts_again_changes_nothing():
    borrower = make_borrower()
    alert = make_alert(borrower)
    alerts_group(alert_ids=[alert.pk])
    audit_rows = AuditEvent.objects.count()
    assert alerts_group(alert_ids=[alert.pk]) == []
    assert Case.objects.count() == 1
    assert AuditEvent.objects.count() == audit_rows


def test_an_alert_after_the_case_was_resolved_opens_a_new_case(manager):
    borrower = make_borrower()
    case = _case_for(borrower)
    case_resolve(actor=manager, case=case, disposition=Disposition.FALSE_POSITIVE, note="ok")
    again = _case_for(borrower)
    assert again.pk != case.pk
    assert again.status == CaseStatus.OPEN


def test_queues_are_created_once_with_their_default_slas():
    queues_ensure()
    queues_ensure()
    assert dict(Queue.objects.values_list("kind", "sla_hours")) == DEFAULT_SLA_HOURS


def test_a_manager_edits_a_queue_sla_and_new_cases_follow_it(manager, analyst):
    queue = queues_ensure()[QueueKind.FRAUD]
    with pytest.raises(CaseNotAllowed):
        queue_sla_set(actor=analyst, queue=queue, sla_hours=2)
    with pytest.raises(SlaInvalid):
        queue_sla_set(actor=manager, queue=queue, sla_hours=0)
    queue_sla_set(actor=manager, queue=queue, sla_hours=2)
    case = _case_for(make_borrower())
    assert case.due_at - case.opened_at == timedelta(hours=2)
    assert AuditEvent.objects.filter(action="queue.sla_set").count() == 1


# --- taking work ------------------------------------------------------------------------------


def test_next_case_gives_the_highest_priority_then_soonest_due(analyst):
    low = make_borrower(used="100.00")
    high = make_borrower(used="100.00")
    alerts_group(alert_ids=[make_alert(low, severity=Severity.LOW).pk])
    alerts_group(alert_ids=[make_alert(high, severity=Severity.CRITICAL).pk])
    queue = Queue.objects.get(kind=QueueKind.FRAUD)
    first = case_next(actor=analyst, queue=queue)
    assert first.borrower_id == high.pk
    assert first.assignee_id == analyst.pk
    assert first.status == CaseStatus.IN_PROGRESS
    second = case_next(actor=analyst, queue=queue)
    assert second.borrower_id == low.pk
    with pytest.raises(QueueEmpty):
        case_next(actor=analyst, queue=queue)


def test_an_analyst_cannot_act_on_a_case_another_analyst_holds(analyst, senior_analyst, manager):
    case = _case_for(make_borrower())
    case_claim(actor=senior_analyst, case=case)
    with pytest.raises(CaseAssignedToAnother):
        case_claim(actor=analyst, case=case)
    with pytest.raises(CaseAssignedToAnother):
        case_comment(actor=analyst, case=case, body="mine now")
    with pytest.raises(CaseAssignedToAnother):
        case_resolve(actor=analyst, case=case, disposition=Disposition.OTHER, note="x")
    with pytest.raises(CaseAssignedToAnother):
        case_line_freeze(actor=analyst, case=case, status_code="fraud")
    # A manager supervises: takes it over.
    assert case_claim(actor=manager, case=case).assignee_id == manager.pk


def test_claiming_your_own_case_again_is_a_replay(analyst):
    case = _case_for(make_borrower())
    case_claim(actor=analyst, case=case)
    rows = AuditEvent.objects.count()
    case_claim(actor=analyst, case=case)
    assert AuditEvent.objects.count() == rows


def test_only_senior_analysts_and_up_assign_to_others(analyst, senior_analyst, django_user_model):
    case = _case_for(make_borrower())
    with pytest.raises(CaseNotAllowed):
        case_assign(actor=analyst, case=case, assignee=senior_analyst)
    case = case_assign(actor=senior_analyst, case=case, assignee=analyst)
    assert case.assignee_id == analyst.pk
    borrower_login = django_user_model.objects.create_user(
        username="svc", password="x" * 12, role="service"
    )
    with pytest.raises(AssigneeInvalid):
        case_assign(actor=senior_analyst, case=case, assignee=borrower_login)


def test_a_service_account_or_inactive_login_cannot_work_cases(service_user, outsider):
    case = _case_for(make_borrower())
    queue = case.queue
    for who in (service_user, outsider):
        with pytest.raises(CaseNotAllowed):
            case_next(actor=who, queue=queue)
        with pytest.raises(CaseNotAllowed):
            case_claim(actor=who, case=case)


# --- resolving --------------------------------------------------------------------------------


def test_resolving_needs_a_disposition_and_a_note(analyst):
    case = _case_for(make_borrower())
    with pytest.raises(DispositionRequired):
        case_resolve(actor=analyst, case=case, disposition="", note="n")
    with pytest.raises(InvalidDisposition):
        case_resolve(actor=analyst, case=case, disposition="maybe", note="n")
    with pytest.raises(NoteRequired):
        case_resolve(actor=analyst, case=case, disposition=Disposition.OTHER, note="  ")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN


def test_confirmed_fraud_flags_the_borrower_and_a_false_positive_does_not(analyst):
    fraud = _case_for(make_borrower())
    benign = _case_for(make_borrower())
    case_resolve(actor=analyst, case=benign, disposition=Disposition.FALSE_POSITIVE, note="ok")
    case = case_resolve(
        actor=analyst, case=fraud, disposition=Disposition.CONFIRMED_FRAUD, note="mule"
    )
    assert case.status == CaseStatus.RESOLVED
    assert case.resolved_by_id == analyst.pk
    assert case.assignee_id == analyst.pk
    flags = RiskFlag.objects.filter(cleared_at=None)
    assert list(flags.values_list("borrower_id", "source")) == [
        (fraud.borrower_id, f"case:{fraud.pk}")
    ]
    with pytest.raises(CaseResolved):
        case_resolve(actor=analyst, case=case, disposition=Disposition.OTHER, note="again")


def test_a_manager_reopens_and_the_fraud_flag_of_the_case_is_cleared(analyst, manager):
    case = _case_for(make_borrower())
    case_resolve(actor=analyst, case=case, disposition=Disposition.CONFIRMED_FRAUD, note="x")
    with pytest.raises(CaseNotAllowed):
        case_reopen(actor=analyst, case=case, note="wrong")
    with pytest.raises(NoteRequired):
        case_reopen(actor=manager, case=case, note="")
    case = case_reopen(actor=manager, case=case, note="customer proved identity")
    assert case.status == CaseStatus.OPEN
    assert case.disposition == ""
    assert case.assignee_id is None
    assert not RiskFlag.objects.filter(cleared_at=None).exists()


def test_reopening_is_refused_when_a_newer_case_of_the_category_is_open(analyst, manager):
    borrower = make_borrower()
    case = _case_for(borrower)
    case_resolve(actor=analyst, case=case, disposition=Disposition.OTHER, note="x")
    newer = _case_for(borrower)
    with pytest.raises(CaseReopenConflict) as refusal:
        case_reopen(actor=manager, case=case, note="again")
    assert refusal.value.extra["open_case_id"] == newer.pk


# --- comments, evidence, the line -------------------------------------------------------------


def test_a_comment_is_stored_and_audited_without_its_words(analyst):
    case = _case_for(make_borrower())
    with pytest.raises(CommentRequired):
        case_comment(actor=analyst, case=case, body="  ")
    comment = case_comment(actor=analyst, case=case, body="called 138 0000 1234")
    event = AuditEvent.objects.get(action="case.commented")
    assert event.after == {"case": case.pk, "length": len(comment.body)}
    assert "138" not in str(event.after)


def test_evidence_is_checked_by_content_and_stored_outside_the_web_root(analyst, settings):
    case = _case_for(make_borrower())
    evidence = case_evidence_attach(
        actor=analyst, case=case, upload=io.BytesIO(PDF), file_name="../../etc/passwd.pdf"
    )
    assert evidence.content_type == "application/pdf"
    assert evidence.file_name == "passwd.pdf"
    path = evidence_path(evidence)
    assert path.read_bytes() == PDF
    assert str(path).startswith(settings.RISKOPS_EVIDENCE_DIR)
    # The same file again: a replay.
    again = case_evidence_attach(actor=analyst, case=case, upload=io.BytesIO(PDF), file_name="b")
    assert again.pk == evidence.pk
    png = case_evidence_attach(actor=analyst, case=case, upload=io.BytesIO(PNG), file_name="x.pdf")
    assert png.content_type == "image/png"  # the content decides, not the name


@pytest.mark.parametrize(
    "content",
    [
        b"<html><script>alert(1)</script></html>",  # named .pdf, is HTML
        b"MZ\x90\x00 executable",
        b"",
        b"%PDF-" + b"0" * EVIDENCE_MAX_BYTES,  # one PDF too large
    ],
    ids=["html", "exe", "empty", "too-large"],
)
def test_evidence_that_is_not_a_small_pdf_jpeg_or_png_is_refused(analyst, settings, content):
    case = _case_for(make_borrower())
    with pytest.raises(EvidenceRefused):
        case_evidence_attach(
            actor=analyst, case=case, upload=io.BytesIO(content), file_name="scan.pdf"
        )
    assert not CaseEvidence.objects.exists()
    from pathlib import Path

    folder = Path(settings.RISKOPS_EVIDENCE_DIR)
    assert not folder.exists() or not any(folder.iterdir())


def test_freezing_and_unfreezing_the_line_from_the_case(analyst):
    case = _case_for(make_borrower())
    with pytest.raises(InvalidChoice):
        case_line_freeze(actor=analyst, case=case, status_code="because")
    case_line_freeze(actor=analyst, case=case, status_code="fraud", note="mule account")
    line = case.borrower.line
    line.refresh_from_db()
    assert line.status == LineStatus.FROZEN
    with pytest.raises(AlreadyFrozen):
        case_line_freeze(actor=analyst, case=case, status_code="fraud")
    case_line_unfreeze(actor=analyst, case=case, status_code="manual", note="cleared")
    line.refresh_from_db()
    assert line.status == LineStatus.ACTIVE
    actions = set(
        AuditEvent.objects.filter(
            object_id=str(case.pk), object_type="monitoring.case"
        ).values_list("action", flat=True)
    )
    assert {"case.line_frozen", "case.line_unfrozen"} <= actions


# --- a limit cut through the override workflow ------------------------------------------------


def test_a_limit_cut_is_proposed_through_the_override_workflow_linked_to_the_case(analyst):
    from decisions.models.overrides import OverrideProposal, OverrideReason
    from monitoring.errors.cases import LimitCutNotACut
    from monitoring.services.cases import case_limit_cut_propose

    reason = OverrideReason.objects.filter(active=True).first()
    assert reason is not None  # seeded by decisions' migration
    case = _case_for(make_borrower(used="1000.00", limit="20000.00"))
    with pytest.raises(LimitCutNotACut):
        case_limit_cut_propose(
            actor=analyst,
            case=case,
            new_limit=Decimal("20000.00"),
            reason_code=reason.code,
            justification="Fraud signals on this line.",
        )
    proposal = case_limit_cut_propose(
        actor=analyst,
        case=case,
        new_limit=Decimal("5000.00"),
        reason_code=reason.code,
        justification="Fraud signals on this line.",
    )
    assert proposal.case_ref == f"case:{case.pk}"
    assert proposal.new_limit == Decimal("5000.00")
    assert OverrideProposal.objects.count() == 1
    # Monitoring changed no limit itself: the line waits for the approver.
    line = case.borrower.line
    line.refresh_from_db()
    assert line.credit_limit == Decimal("20000.00")
    event = AuditEvent.objects.get(action="case.limit_cut_proposed")
    assert event.after["proposal"] == proposal.pk


def test_alerts_a_failed_grouping_left_behind_are_swept_into_cases():
    from monitoring.services.cases import alerts_group_pending

    borrower = make_borrower()
    alerts = [make_alert(borrower), make_alert(borrower, category=AlertCategory.CREDIT)]
    # No alerts_raised was received for these (the receiver failed, or the engine crashed).
    assert alerts_group_pending() == 0  # just raised: left to the receiver for a minute
    assert alerts_group_pending(settle_seconds=0) == 2
    assert Case.objects.filter(borrower=borrower).count() == 2
    assert alerts_group_pending(settle_seconds=0) == 0
    assert all(a.case_id for a in type(alerts[0]).objects.filter(borrower=borrower))


def test_the_beat_sweep_task_groups_alerts_older_than_a_minute():
    import time_machine
    from django.utils import timezone

    from monitoring.tasks import alerts_group_pending_task

    borrower = make_borrower()
    make_alert(borrower)
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        assert alerts_group_pending_task() == 1
    assert Case.objects.filter(borrower=borrower).count() == 1
