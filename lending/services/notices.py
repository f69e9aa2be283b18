"""Notices sent to a borrower by other apps (risk staff asking for documents, ...).

The line's own notices (limit changed, frozen, closed, written off) are written by the line
services themselves (lending.services.lines), in the same transaction as the change they
announce: they cannot be sent from here, so a notice never claims a change that did not
happen. This module sends only the kinds in SENDABLE_KINDS, each with its params checked,
because the portal fills the kind's translated sentence from them (templates/lending/partials/
notice.html) and shows the borrower nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from lending.choices import DocumentKind, NoticeKind
from lending.errors import InvalidChoice, InvalidData, UnknownBorrower
from lending.models import Borrower, Notice
from lending.services._common import _require_staff

if TYPE_CHECKING:
    from accounts.models import User

OTHER_DOCUMENT_MAX_LENGTH = 200


def _documents_params(params: dict[str, Any]) -> dict[str, Any]:
    """{"documents": [DocumentKind codes, at least one, each once], "other": text when
    "other" is asked (what the borrower should send, in words), nothing else."""
    unknown_keys = set(params) - {"documents", "other"}
    if unknown_keys:
        raise InvalidData(fields=", ".join(sorted(unknown_keys)))
    documents = params.get("documents")
    if not isinstance(documents, list | tuple) or not documents:
        raise InvalidData(fields="documents")
    allowed = set(DocumentKind.values)
    codes: list[str] = []
    for code in documents:
        if code not in allowed:
            raise InvalidChoice(field="document", value=code)
        if code not in codes:
            codes.append(code)
    # The borrower reads them in the list's order, whatever order they were ticked in.
    codes.sort(key=DocumentKind.values.index)
    other = " ".join(str(params.get("other") or "").split())
    if DocumentKind.OTHER in codes:
        if not other or len(other) > OTHER_DOCUMENT_MAX_LENGTH:
            raise InvalidData(fields="other")
        return {"documents": codes, "other": other}
    if other:
        raise InvalidData(fields="other")
    return {"documents": codes}


SENDABLE_KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    NoticeKind.DOCUMENTS_REQUESTED: _documents_params,
}


@transaction.atomic  # not durable: a case action composes it with its own writes
def notice_send(
    *, actor: User | None, borrower_id: int, kind: str, params: dict[str, Any]
) -> Notice:
    """Send the borrower a notice of `kind` (one of SENDABLE_KINDS) with `params`.

    Writes the Notice (shown in the portal, unread) and the audit row "notice.sent".
    Raises NotAllowed (not risk staff), InvalidChoice (a kind not sendable from here, a
    document code not in DocumentKind), InvalidData (missing or unexpected params),
    UnknownBorrower."""
    _require_staff(actor)
    check = SENDABLE_KINDS.get(kind)
    if check is None:
        raise InvalidChoice(field="notice kind", value=kind)
    clean = check(dict(params or {}))
    if not Borrower.objects.filter(pk=borrower_id).exists():
        raise UnknownBorrower(customer_no=f"#{borrower_id}")
    notice = Notice.objects.create(
        borrower_id=borrower_id, kind=kind, params=clean, created_at=timezone.now()
    )
    audit(
        actor=actor,
        action="notice.sent",
        obj=notice,
        borrower_id=borrower_id,
        after={"kind": kind, "params": clean},
    )
    return notice
