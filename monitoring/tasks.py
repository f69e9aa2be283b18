"""Celery tasks of monitoring: thin wrappers that build their input and call a service."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, time_limit=1800, soft_time_limit=1700)
def linked_identities_check_task() -> dict[str, Any]:
    """Find rings of linked identities book-wide and alert their members (beat, and after the
    demo seeding). A re-run raises nothing twice (the service's dedupe keys)."""
    from accounts.audit import audit_context
    from accounts.choices import AuditSource
    from monitoring.services.graph import linked_identities_check
    from monitoring.services.shadow import shadow_rings_record

    with audit_context(source=AuditSource.TASK, reference="linked_identities_check"):
        result = linked_identities_check(actor=None)
    # A version of the ring rule in shadow is judged the same way; its hits are stored only.
    shadow_hits = shadow_rings_record()
    return {
        "shadow_hits": shadow_hits,
        "version_id": result.version_id,
        "rings": result.rings,
        "members": result.members,
        "alerts_raised": result.alerts_raised,
    }


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def backtest_run_task(*, backtest_id: int) -> str:
    """Run a queued backtest and store its figures (a redelivery finds it done)."""
    from accounts.audit import audit_context
    from accounts.choices import AuditSource
    from monitoring.services.backtest import backtest_run

    with audit_context(source=AuditSource.TASK, reference=f"backtest:{backtest_id}"):
        return str(backtest_run(backtest_id=backtest_id).status)


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def rule_live_lift_task() -> int:
    """Refresh the live lift of every active version (the rules list reads it from the
    cache); returns how many were computed."""
    from monitoring.choices import RuleVersionStatus
    from monitoring.models import RuleVersion
    from monitoring.selectors.rules import live_lift

    versions = RuleVersion.objects.select_related("rule").filter(status=RuleVersionStatus.ACTIVE)
    for version in versions:
        live_lift(version, refresh=True)
    return len(versions)


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def alerts_group_task(*, alert_ids: list[int]) -> None:
    """Group newly raised alerts into cases (queued by monitoring.receivers). Idempotent: an
    alert already in a case is left as it is, so a redelivered task changes nothing. A failure
    is logged; the sweep (alerts_group_pending_task) groups what it left."""
    from accounts.audit import audit_context
    from accounts.choices import AuditSource
    from monitoring.services.cases import alerts_group

    try:
        with audit_context(source=AuditSource.TASK, reference="alerts_group"):
            alerts_group(alert_ids=[int(pk) for pk in alert_ids])
    except Exception:
        logger.exception("grouping alerts %s into cases failed", list(alert_ids)[:20])


@shared_task(acks_late=True, time_limit=600, soft_time_limit=570)
def alerts_group_pending_task() -> int:
    """Group into cases the alerts a failed alerts_raised receiver left without one."""
    from accounts.audit import audit_context
    from accounts.choices import AuditSource
    from monitoring.services.cases import alerts_group_pending

    with audit_context(source=AuditSource.TASK, reference="alerts_group_pending"):
        return alerts_group_pending()
