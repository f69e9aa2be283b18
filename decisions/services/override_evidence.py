"""Evidence files on an override proposal: PDF, JPEG or PNG by their first bytes, within a
size, kept by a random name under settings.RISKOPS_OVERRIDE_EVIDENCE_DIR (outside the web
root, default VAR_DIR/override-evidence) and served only by the proposal's page."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.choices import STAFF_ROLES
from decisions.errors import NotAllowed
from decisions.errors.overrides import AlreadyDecided, EvidenceRefused, NotYourProposal
from decisions.models.overrides import OPEN_STATUSES, OverrideEvidence, OverrideProposal

if TYPE_CHECKING:
    from accounts.models import User

MAX_EVIDENCE_FILES = 5
# First bytes of each file type taken, and the type it is stored as.
EVIDENCE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


# The name a file is downloaded under ends as its checked type: a PDF uploaded as "x.png" is
# served as "x.png.pdf", so the reader's computer opens it with the right program.
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
}


def download_name(evidence: OverrideEvidence) -> str:
    name = evidence.original_name or "file"
    suffixes = EXTENSIONS.get(evidence.content_type, ())
    if suffixes and not name.lower().endswith(suffixes):
        name += suffixes[0]
    return name


def evidence_path(evidence: OverrideEvidence) -> Path:
    return evidence_dir() / evidence.stored_name


def evidence_dir() -> Path:
    default = Path(getattr(settings, "VAR_DIR", settings.BASE_DIR / "var")) / "override-evidence"
    return Path(getattr(settings, "RISKOPS_OVERRIDE_EVIDENCE_DIR", default))


def evidence_max_bytes() -> int:
    return int(getattr(settings, "RISKOPS_OVERRIDE_EVIDENCE_MAX_BYTES", 5 * 1024 * 1024))


# --- evidence ---------------------------------------------------------------------------------


def _read_upload(item: Any) -> tuple[str, bytes]:
    """An UploadedFile (or any object with name and read()), or a (name, bytes) pair."""
    if isinstance(item, tuple):
        name, data = item
        return str(name), bytes(data)
    limit = evidence_max_bytes()
    size = getattr(item, "size", None)
    name = str(getattr(item, "name", "") or "file")
    if size is not None and size > limit:
        raise EvidenceRefused(name=name, problem=_("larger than the size allowed."))
    if hasattr(item, "seek"):
        item.seek(0)
    return name, item.read(limit + 1)


def _check_evidence(name: str, data: bytes) -> str:
    """The file's type by its first bytes; EvidenceRefused for anything else or too large."""
    if not data:
        raise EvidenceRefused(name=name, problem=_("the file is empty."))
    if len(data) > evidence_max_bytes():
        raise EvidenceRefused(name=name, problem=_("larger than the size allowed."))
    for magic, content_type in EVIDENCE_MAGIC:
        if data.startswith(magic):
            return content_type
    raise EvidenceRefused(name=name, problem=_("only PDF, JPEG and PNG files are taken."))


def store_evidence(
    *, actor: User, proposal: OverrideProposal, files: Iterable[Any], written: list[Path]
) -> list[OverrideEvidence]:
    items = [_read_upload(f) for f in files]
    if len(items) + proposal.evidence.count() > MAX_EVIDENCE_FILES:
        raise EvidenceRefused(
            name="", problem=_("at most %(n)s files per proposal.") % {"n": MAX_EVIDENCE_FILES}
        )
    checked = [(name, data, _check_evidence(name, data)) for name, data in items]
    folder = evidence_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for name, data, content_type in checked:
        stored_name = uuid.uuid4().hex
        path = folder / stored_name
        path.write_bytes(data)
        written.append(path)
        stored.append(
            OverrideEvidence.objects.create(
                proposal=proposal,
                original_name=Path(name).name[:200] or "file",
                stored_name=stored_name,
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                uploaded_at=timezone.now(),
                uploaded_by=actor,
            )
        )
    return stored


def discard_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


# --- adding evidence to a proposal in flight ----------------------------------------------------


def override_evidence_add(
    *, actor: User, proposal: OverrideProposal, files: Iterable[Any]
) -> list[OverrideEvidence]:
    """The proposer adds evidence files to their proposal while it is in flight (awaiting a
    decision, or sent back for changes): the same checks as the proposal form's files (type by
    the first bytes, size, at most MAX_EVIDENCE_FILES per proposal), all or nothing. Writes
    "override.evidence_added".

    Raises NotAllowed (not risk staff), NotYourProposal, AlreadyDecided (decided, withdrawn or
    expired), EvidenceRefused (no file, a refused one, too many). The same bytes sent again
    are a replay: not stored twice, not audited again."""
    written: list[Path] = []
    try:
        return _evidence_add(actor=actor, proposal=proposal, files=list(files), written=written)
    except BaseException:
        discard_files(written)
        raise


@transaction.atomic
def _evidence_add(
    *, actor: User, proposal: OverrideProposal, files: list[Any], written: list[Path]
) -> list[OverrideEvidence]:
    if actor is None or not actor.is_active or actor.role not in STAFF_ROLES:
        raise NotAllowed(role=getattr(actor, "role", None))
    proposal = OverrideProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.proposed_by_id != actor.pk:
        raise NotYourProposal()
    if proposal.status not in OPEN_STATUSES or proposal.expires_at <= timezone.now():
        raise AlreadyDecided(status=proposal.get_status_display())
    if not files:
        raise EvidenceRefused(name="", problem=_("choose at least one file."))
    # A file already on the proposal (a retried request, a double submit) is not added again.
    have = set(proposal.evidence.values_list("sha256", flat=True))
    fresh = []
    for name, data in (_read_upload(f) for f in files):
        digest = hashlib.sha256(data).hexdigest()
        if digest not in have:
            have.add(digest)
            fresh.append((name, data))
    if not fresh:
        return []
    stored = store_evidence(actor=actor, proposal=proposal, files=fresh, written=written)
    audit(
        actor=actor,
        action="override.evidence_added",
        obj=proposal,
        borrower_id=proposal.borrower_id,
        after={"evidence": [f.sha256 for f in stored]},
    )
    return stored
