"""Reads of the audit trail and the personal-data access log, scoped by who is asking."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import AuditEvent, PiiAccess, User
from lending.models import Borrower


def audit_trail_for_borrower(*, user: User, borrower: Borrower) -> QuerySet[AuditEvent]:
    """Every audit row about one borrower, newest first, for risk staff only.

    Anyone else (a borrower login, a service account, an inactive login) gets an empty set.
    """
    if not user.is_authenticated or not user.is_risk_staff:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(borrower_id=borrower.pk).select_related("actor")


def pii_accesses_for_borrower(*, user: User, borrower: Borrower) -> QuerySet[PiiAccess]:
    """Who revealed which of a borrower's personal data, and why; risk staff only."""
    if not user.is_authenticated or not user.is_risk_staff:
        return PiiAccess.objects.none()
    return PiiAccess.objects.filter(borrower_id=borrower.pk).select_related("actor")
