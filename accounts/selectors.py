"""Reads of the audit trail, scoped by who is asking."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from accounts.models import AuditEvent, User


def pii_reveal_allowed(user: Any) -> bool:
    """Whether `user` may see a borrower's full personal data (with a reason, recorded).

    Active risk staff in settings.RISKOPS_PII_REVEAL_ROLES; nobody else (analysts, borrowers,
    machines, anonymous visitors). Searches follow it too: who may not reveal a value may not
    confirm a guess of it by searching (lending.selectors.search_q).
    """
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_risk_staff", False)
        and user.role in settings.RISKOPS_PII_REVEAL_ROLES
    )


def audit_trail_for_borrower(*, user: User, borrower_id: int) -> QuerySet[AuditEvent]:
    """Every audit row about one borrower, newest first, for risk staff only.

    Anyone else (a borrower login, a service account, an inactive login) gets an empty set.
    """
    if not user.is_authenticated or not user.is_risk_staff:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(borrower_id=borrower_id).select_related("actor")
