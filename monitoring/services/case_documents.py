"""Asking the borrower for documents from a case.

Kept apart from monitoring.services.cases (already long); the same rules apply (that module's
docstring): keyword-only, `actor` first, durable transaction, the case locked, an audit row.
The borrower is told through lending's public notice service (lending.services.notice_send):
monitoring never writes lending's tables itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.models import AuditEvent
from lending.choices import DocumentKind, NoticeKind
from lending.services import notice_send
from lending.services.notices import OTHER_DOCUMENT_MAX_LENGTH
from monitoring.choices import CaseStatus
from monitoring.errors.cases import (
    CaseNotWaiting,
    DocumentOtherRequired,
    DocumentsNoFiles,
    DocumentsRequired,
    DocumentsTooManyFiles,
)
from monitoring.models import Case, CaseEvidence
from monitoring.services.case_evidence import case_file_store, discard_files
from monitoring.services.cases import (
    SLA_CLOCK_FIELDS,
    _clean_note,
    _lock,
    _require_can_act,
    _state,
    sla_audit,
    sla_pause,
    sla_resume,
)

if TYPE_CHECKING:
    from accounts.models import User

DOCUMENTS_REQUESTED = "case.documents_requested"
DOCUMENTS_RECEIVED = "case.documents_received"
DOCUMENTS_WITHDRAWN = "case.documents_withdrawn"
# What a borrower sends at once from the portal (each file: case_evidence's type and size).
UPLOAD_MAX_FILES = 5


def _clean_documents(documents: Sequence[str] | None, other: str) -> tuple[list[str], str]:
    """The codes asked for, each once, in DocumentKind's order; the words for "other"."""
    codes = [str(c) for c in (documents or []) if str(c).strip()]
    if not codes:
        raise DocumentsRequired()
    allowed = DocumentKind.values
    unique = sorted({c for c in codes if c in allowed}, key=allowed.index)
    if len(unique) != len(set(codes)):
        raise DocumentsRequired()
    other = " ".join((other or "").split())
    if DocumentKind.OTHER in unique:
        if not other or len(other) > OTHER_DOCUMENT_MAX_LENGTH:
            raise DocumentOtherRequired(max=OTHER_DOCUMENT_MAX_LENGTH)
    else:
        other = ""  # words for "other" without ticking it: not sent
    return unique, other


def _same_request_pending(case: Case, documents: list[str], other: str) -> bool:
    """The case already waits for exactly these documents (a double submit, a replayed API
    call): the borrower is not told twice."""
    if case.status != CaseStatus.WAITING:
        return False
    last = (
        AuditEvent.objects.filter(
            object_type="monitoring.case", object_id=str(case.pk), action=DOCUMENTS_REQUESTED
        )
        .order_by("-at", "-pk")
        .values_list("after", flat=True)
        .first()
    )
    if not isinstance(last, dict):
        return False
    return last.get("documents") == documents and last.get("other", "") == other


@transaction.atomic(durable=True)
def case_documents_request(
    *, actor: User, case: Case, documents: Sequence[str], note: str = "", other: str = ""
) -> Case:
    """Ask the case's borrower for `documents` (DocumentKind codes; "other" with `other`, the
    words the borrower reads) and set the case to "waiting for the borrower".

    The borrower gets a notice in the portal (lending.services.notice_send, its own audit row
    "notice.sent"); the case's timeline gets "case.documents_requested" with the documents and
    the analyst's `note` (internal: the borrower never sees it). Asking again for the same
    documents while the case waits changes nothing.

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, DocumentsRequired (none, or a
    code not in the list), DocumentOtherRequired ("other" without words, or too many)."""
    case = _lock(case)
    _require_can_act(actor, case)
    codes, other = _clean_documents(documents, other)
    if _same_request_pending(case, codes, other):
        return case
    params: dict[str, object] = {"documents": codes}
    if other:
        params["other"] = other
    notice = notice_send(
        actor=actor,
        borrower_id=case.borrower_id,
        kind=NoticeKind.DOCUMENTS_REQUESTED,
        params=params,
    )
    before = _state(case) | {"due_at": case.due_at}
    now = timezone.now()
    case.status = CaseStatus.WAITING
    # Asking for documents is working the case: an unassigned case becomes the asker's.
    if case.assignee_id is None:
        case.assignee = actor
        case.assigned_at = now
    # The SLA clock stops until the documents come in or the request is withdrawn.
    sla_pause(case, now)
    case.documents_notice = notice
    case.save(
        update_fields=["status", "assignee", "assigned_at", *SLA_CLOCK_FIELDS, "documents_notice"]
    )
    audit(
        actor=actor,
        action=DOCUMENTS_REQUESTED,
        obj=case,
        borrower_id=case.borrower_id,
        before=before,
        after={
            **_state(case),
            "documents": codes,
            "other": other,
            "notice": notice.pk,
            "sla_paused_from": case.waiting_since,
        },
        note=_clean_note(note),
    )
    return case


def _stop_waiting(
    *, actor: User, case: Case, action: str, note: str, extra: dict[str, object]
) -> Case:
    """The case (locked, waiting) is back in progress, its SLA clock running again with the
    due time moved by the time waited; one audit row `action`."""
    before = _state(case) | {"due_at": case.due_at}
    case.status = CaseStatus.IN_PROGRESS
    waited = sla_resume(case, timezone.now())
    case.save(update_fields=["status", *SLA_CLOCK_FIELDS])
    audit(
        actor=actor,
        action=action,
        obj=case,
        borrower_id=case.borrower_id,
        before=before,
        after={**_state(case), **sla_audit(waited, case), **extra},
        note=_clean_note(note),
    )
    return case


@transaction.atomic(durable=True)
def case_documents_received(*, actor: User, case: Case, note: str = "") -> Case:
    """The borrower's documents came in (by whatever channel): the case stops waiting and is
    back in progress, recorded on its timeline with the analyst's note.

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, CaseNotWaiting."""
    case = _lock(case)
    _require_can_act(actor, case)
    if case.status != CaseStatus.WAITING:
        raise CaseNotWaiting(case_id=case.pk)
    return _stop_waiting(actor=actor, case=case, action=DOCUMENTS_RECEIVED, note=note, extra={})


@transaction.atomic(durable=True)
def case_documents_withdraw(*, actor: User, case: Case, note: str = "") -> Case:
    """The analyst no longer needs the documents: the case stops waiting and is back in
    progress, its SLA clock running again (due time moved by the time waited).

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, CaseNotWaiting."""
    case = _lock(case)
    _require_can_act(actor, case)
    if case.status != CaseStatus.WAITING:
        raise CaseNotWaiting(case_id=case.pk)
    return _stop_waiting(actor=actor, case=case, action=DOCUMENTS_WITHDRAWN, note=note, extra={})


# --- the borrower sends the documents from the portal -------------------------------------------


def documents_request_for_borrower(*, user: User, notice_id: int) -> Case | None:
    """The case that asked `user` (a borrower login) for documents with notice `notice_id`:
    None when the notice is not theirs or not a documents request (the portal answers 404).
    The case may no longer wait (documents sent, request withdrawn, case resolved)."""
    borrower_id = getattr(user, "borrower_id", None)
    if not getattr(user, "is_borrower", False) or not user.is_active or borrower_id is None:
        return None
    if not 0 < notice_id < 2**63:  # no such notice (and beyond what the database compares)
        return None
    case = Case.objects.filter(documents_notice_id=notice_id, borrower_id=borrower_id).first()
    if case is not None:
        return case
    # Answered or withdrawn since: the case that sent this notice, found by its audit row.
    from accounts.models import AuditEvent

    case_ids = AuditEvent.objects.filter(
        borrower_id=borrower_id,
        action=DOCUMENTS_REQUESTED,
        object_type="monitoring.case",
        after__notice=notice_id,
    ).values_list("object_id", flat=True)[:1]
    ids = [int(pk) for pk in case_ids if str(pk).isdigit()]
    return Case.objects.filter(pk__in=ids, borrower_id=borrower_id).first()


def documents_open(case: Case, notice_id: int) -> bool:
    """Whether the borrower may still send files for this request."""
    return case.status == CaseStatus.WAITING and case.documents_notice_id == notice_id


@transaction.atomic(durable=True)
def case_documents_upload(
    *, actor: User, case: Case, notice_id: int, files: Sequence[tuple[IO[bytes], str]]
) -> tuple[Case, list[CaseEvidence]]:
    """The borrower (`actor`, the case's own borrower login) sends the files a case asked for
    with notice `notice_id`: each a PDF, JPEG or PNG (case_evidence's checks), at most
    UPLOAD_MAX_FILES at once. They join the case's evidence, and the case stops waiting: back
    in progress with its analyst, the SLA clock running again, recorded as
    "case.documents_received" by the borrower.

    All or nothing: one refused file and none is kept. The request already answered (a
    replayed form, a second tab) changes nothing: ([], the case) is returned.

    Raises CaseNotAllowed (not this case's borrower), DocumentsNoFiles, DocumentsTooManyFiles,
    EvidenceRefused."""
    from monitoring.errors.cases import CaseNotAllowed

    if (
        not getattr(actor, "is_borrower", False)
        or not actor.is_active
        or getattr(actor, "borrower_id", None) != case.borrower_id
    ):
        raise CaseNotAllowed(role=getattr(actor, "role", ""))
    if not files:
        raise DocumentsNoFiles()
    if len(files) > UPLOAD_MAX_FILES:
        raise DocumentsTooManyFiles(max=UPLOAD_MAX_FILES)
    case = _lock(case)
    if not documents_open(case, notice_id):
        return case, []
    written: list[Path] = []
    try:
        stored: list[CaseEvidence] = []
        for upload, name in files:
            evidence = case_file_store(
                actor=actor, case=case, upload=upload, file_name=name, written=written
            )
            if evidence not in stored:
                stored.append(evidence)
        case = _stop_waiting(
            actor=actor,
            case=case,
            action=DOCUMENTS_RECEIVED,
            note="",
            extra={"by_borrower": True, "evidence": [e.pk for e in stored]},
        )
    except BaseException:
        discard_files(written)
        raise
    return case, stored
