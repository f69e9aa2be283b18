"""Setting and clearing a confirmed-fraud flag on a borrower.

A fraud case resolved as confirmed fraud sets it (monitoring calls fraud_flag_set); while it
is open, no limit increase may be approved for the borrower (a hard block in
decisions.services.overrides) and the limit policy's bulk review leaves the line alone
(decisions.selectors.overrides.fraud_confirmed_ids).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import Role
from decisions.errors import NotAllowed
from decisions.errors.overrides import FlagAlreadySet, FlagNotSet
from decisions.models.flags import RiskFlag, RiskFlagKind

if TYPE_CHECKING:
    from accounts.models import User

# Who may set or clear a fraud finding by hand; a case's resolution calls with its resolver.
FLAG_ROLES = frozenset(
    {Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN}
)
CLEAR_ROLES = FLAG_ROLES  # a case reopened by whoever works it clears the finding


def _require(actor: User | None, roles: frozenset[str]) -> None:
    if actor is not None and (not actor.is_active or actor.role not in roles):
        raise NotAllowed(role=actor.role)


@transaction.atomic
def fraud_flag_set(
    *, actor: User | None, borrower_id: int, source: str, note: str = ""
) -> RiskFlag:
    """Mark the borrower as a confirmed fraud, e.g. source="case:123".

    Setting it again from the same source is a replay (the open flag is returned, nothing is
    written); from another source while one is open: FlagAlreadySet. Writes the audit row
    "risk_flag.set". Raises NotAllowed (a login that is not risk staff)."""
    _require(actor, FLAG_ROLES)
    source = (source or "").strip()[:64]
    open_flag = (
        RiskFlag.objects.select_for_update()
        .filter(borrower_id=borrower_id, kind=RiskFlagKind.FRAUD_CONFIRMED, cleared_at=None)
        .first()
    )
    if open_flag is not None:
        if open_flag.source == source:
            return open_flag
        raise FlagAlreadySet(source=open_flag.source)
    flag = RiskFlag.objects.create(
        borrower_id=borrower_id,
        kind=RiskFlagKind.FRAUD_CONFIRMED,
        source=source,
        note=note,
        set_at=timezone.now(),
        set_by=actor,
    )
    audit(
        actor=actor,
        action="risk_flag.set",
        obj=flag,
        borrower_id=borrower_id,
        after={"kind": flag.kind, "source": source},
        note=note,
    )
    return flag


@transaction.atomic
def fraud_flag_clear(
    *, actor: User | None, borrower_id: int, source: str = "", note: str = ""
) -> RiskFlag:
    """Clear the borrower's open confirmed-fraud flag (the finding reversed, a case reopened).

    `source` names why (e.g. "case:123"). Writes the audit row "risk_flag.cleared". Raises
    NotAllowed (below manager, unless the system), FlagNotSet (no open flag)."""
    _require(actor, CLEAR_ROLES)
    flag = (
        RiskFlag.objects.select_for_update()
        .filter(borrower_id=borrower_id, kind=RiskFlagKind.FRAUD_CONFIRMED, cleared_at=None)
        .first()
    )
    if flag is None:
        raise FlagNotSet()
    flag.cleared_at = timezone.now()
    flag.cleared_by = actor
    flag.clear_note = note
    flag.save(update_fields=["cleared_at", "cleared_by", "clear_note"])
    audit(
        actor=actor,
        action="risk_flag.cleared",
        obj=flag,
        borrower_id=borrower_id,
        before={"source": flag.source},
        after={"cleared_at": flag.cleared_at, "source": (source or "").strip()[:64]},
        note=note,
    )
    return flag
