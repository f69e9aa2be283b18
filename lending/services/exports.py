"""Records of who took personal data out of the system in bulk (the borrower list's CSV)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from accounts.audit import audit
from accounts.masking import mask_mobile, mask_name, mask_national_id
from lending.errors import NotAllowed

if TYPE_CHECKING:
    from accounts.models import User


@transaction.atomic(durable=True)
def borrower_list_exported(*, actor: User, filters: dict[str, str], rows: int) -> None:
    """Record that `actor` exported `rows` borrowers selected by `filters`, before any row
    leaves: an export that fails midway is still on record.

    The filter is kept as the analyst set it, except that a search for a full ID or mobile
    number or a name is stored masked: personal data never enters the audit log in clear.
    The rows themselves are masked in the file. Raises NotAllowed for anyone but active risk
    staff.
    """
    if not actor.is_active or not actor.is_risk_staff:
        raise NotAllowed()
    kept = {name: value for name, value in filters.items() if value}
    if "q" in kept:
        kept["q"] = _masked_search(kept["q"])
    audit(
        actor=actor,
        action="borrower_list.exported",
        obj=actor,
        after={"filters": kept, "rows": rows},
    )


def _masked_search(term: str) -> str:
    """A search term as the screen would show it: long numbers and names masked."""
    compact = "".join(term.split())
    digits = compact.upper().rstrip("X")
    if digits.isdigit() and len(compact) >= 15:
        return mask_national_id(compact)
    if compact.isdigit() and len(compact) >= 11:
        return mask_mobile(compact)
    if not compact.isascii():
        return mask_name(compact)
    return compact
