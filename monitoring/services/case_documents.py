"""Asking the borrower for documents from a case.

Kept apart from monitoring.services.cases (already long); the same rules apply (that module's
docstring): keyword-only, `actor` first, durable transaction, the case locked, an audit row.
The borrower is told through lending's public notice service (lending.services.notice_send):
monitoring never writes lending's tables itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.models import AuditEvent
from lending.choices import DocumentKind, NoticeKind
from lending.services import notice_send
from lending.services.notices import OTHER_DOCUMENT_MAX_LENGTH
from monitoring.choices import CaseStatus
from monitoring.errors.cases import CaseNotWaiting, DocumentOtherRequired, DocumentsRequired
from monitoring.models import Case
from monitoring.services.cases import _clean_note, _lock, _require_can_act, _state

if TYPE_CHECKING:
    from accounts.models import User

DOCUMENTS_REQUESTED = "case.documents_requested"
DOCUMENTS_RECEIVED = "case.documents_received"


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
    before = _state(case)
    case.status = CaseStatus.WAITING
    # Asking for documents is working the case: an unassigned case becomes the asker's.
    if case.assignee_id is None:
        case.assignee = actor
        case.assigned_at = timezone.now()
    case.save(update_fields=["status", "assignee", "assigned_at"])
    audit(
        actor=actor,
        action=DOCUMENTS_REQUESTED,
        obj=case,
        borrower_id=case.borrower_id,
        before=before,
        after={**_state(case), "documents": codes, "other": other, "notice": notice.pk},
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
    before = _state(case)
    case.status = CaseStatus.IN_PROGRESS
    case.save(update_fields=["status"])
    audit(
        actor=actor,
        action=DOCUMENTS_RECEIVED,
        obj=case,
        borrower_id=case.borrower_id,
        before=before,
        after=_state(case),
        note=_clean_note(note),
    )
    return case
