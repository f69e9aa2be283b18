"""Evidence files on a case: checked by content and size, stored outside the web root,
served only to staff, each opening audited."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from monitoring.errors.cases import (
    EvidenceRefused,
)
from monitoring.models import Case, CaseEvidence

if TYPE_CHECKING:
    from accounts.models import User

from monitoring.services.cases import CASE_WORKER_ROLES, _lock, _require_can_act, _require_role

# Evidence files: what a case accepts, recognised by the first bytes, never by the name.
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024
EVIDENCE_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
)


def evidence_dir() -> Path:
    """Where evidence files live: outside the web root, never under STATIC or a served path."""
    configured = getattr(settings, "RISKOPS_EVIDENCE_DIR", None)
    return Path(configured) if configured else Path(settings.VAR_DIR) / "case-evidence"


def evidence_path(evidence: CaseEvidence) -> Path:
    return evidence_dir() / evidence.storage_key


def _sniff(head: bytes) -> tuple[str, str] | None:
    for signature, content_type, suffix in EVIDENCE_SIGNATURES:
        if head.startswith(signature):
            return content_type, suffix
    return None


def _display_name(name: str, suffix: str) -> str:
    """The uploaded name without any directory part or control character, for display."""
    base = Path((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*')[:100].strip()
    return base or f"evidence{suffix}"


@transaction.atomic(durable=True)
def case_evidence_attach(
    *, actor: User, case: Case, upload: IO[bytes], file_name: str
) -> CaseEvidence:
    """Attach a PDF, JPEG or PNG file (at most EVIDENCE_MAX_BYTES) to a case.

    The type is read from the file's first bytes, whatever its name says; the bytes are stored
    under a random key in evidence_dir(), outside the web root. The same file attached twice
    to one case is a replay (the first attachment is returned).

    Raises CaseNotAllowed, CaseResolved, CaseAssignedToAnother, EvidenceRefused.
    """
    case = _lock(case)
    _require_can_act(actor, case)
    written: list[Path] = []
    try:
        return case_file_store(
            actor=actor, case=case, upload=upload, file_name=file_name, written=written
        )
    except BaseException:
        discard_files(written)
        raise


def discard_files(paths: list[Path]) -> None:
    """Remove files stored by a transaction that did not commit."""
    for path in paths:
        path.unlink(missing_ok=True)


def case_file_store(
    *, actor: User, case: Case, upload: IO[bytes], file_name: str, written: list[Path]
) -> CaseEvidence:
    """Check and store one file as evidence of `case`, which the caller has locked and
    checked the actor may add to (staff working it: case_evidence_attach; its borrower sending
    requested documents: case_documents_upload). Writes "case.evidence_attached".

    The path of a file written is appended to `written`: if the caller's transaction fails, it
    removes them (discard_files). The same bytes already on the case: that attachment is
    returned, nothing stored. Raises EvidenceRefused (type, size, empty)."""
    refused = EvidenceRefused(max_mb=EVIDENCE_MAX_BYTES // (1024 * 1024))
    head = upload.read(16)
    sniffed = _sniff(head)
    if sniffed is None:
        raise refused
    content_type, suffix = sniffed
    folder = evidence_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key = f"{uuid.uuid4().hex}{suffix}"
    target = folder / key
    written.append(target)
    digest = hashlib.sha256(head)
    size = len(head)
    with target.open("xb") as out:
        out.write(head)
        while chunk := upload.read(64 * 1024):
            size += len(chunk)
            if size > EVIDENCE_MAX_BYTES:
                raise refused
            digest.update(chunk)
            out.write(chunk)
    sha256 = digest.hexdigest()
    existing = CaseEvidence.objects.filter(case=case, sha256=sha256).first()
    if existing is not None:
        written.remove(target)
        target.unlink(missing_ok=True)
        return existing
    evidence = CaseEvidence.objects.create(
        case=case,
        uploaded_by=actor,
        uploaded_at=timezone.now(),
        file_name=_display_name(file_name, suffix),
        content_type=content_type,
        size=size,
        sha256=sha256,
        storage_key=key,
    )
    audit(
        actor=actor,
        action="case.evidence_attached",
        obj=evidence,
        borrower_id=case.borrower_id,
        after={"case": case.pk, "content_type": content_type, "size": size, "sha256": sha256},
    )
    return evidence


@transaction.atomic(durable=True)
def case_evidence_served(*, actor: User, evidence: CaseEvidence) -> None:
    """Record that a staff member opened an evidence file (it may show personal data)."""
    _require_role(actor, CASE_WORKER_ROLES)
    audit(
        actor=actor,
        action="case.evidence_opened",
        obj=evidence,
        borrower_id=Case.objects.filter(pk=evidence.case_id)
        .values_list("borrower_id", flat=True)
        .first(),
        after={"case": evidence.case_id},
    )
