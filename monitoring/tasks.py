"""Celery tasks of monitoring: thin wrappers that build their input and call a service."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1700)
def linked_identities_check_task() -> dict[str, Any]:
    """Find rings of linked identities book-wide and alert their members (beat, and after the
    demo seeding). A re-run raises nothing twice (the service's dedupe keys)."""
    from accounts.audit import audit_context
    from accounts.choices import AuditSource
    from monitoring.services.graph import linked_identities_check

    with audit_context(source=AuditSource.TASK, reference="linked_identities_check"):
        result = linked_identities_check(actor=None)
    return {
        "version_id": result.version_id,
        "rings": result.rings,
        "members": result.members,
        "alerts_raised": result.alerts_raised,
    }
