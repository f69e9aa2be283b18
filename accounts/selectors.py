"""Reads of the audit trail, scoped by who is asking."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import AuditEvent, User


def audit_trail_for_borrower(*, user: User, borrower_id: int) -> QuerySet[AuditEvent]:
    """Every audit row about one borrower, newest first, for risk staff only.

    Anyone else (a borrower login, a service account, an inactive login) gets an empty set.
    """
    if not user.is_authenticated or not user.is_risk_staff:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(borrower_id=borrower_id).select_related("actor")
