"""Monitoring's own receivers: alerts raised become cases.

Connected in MonitoringConfig.ready().
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.dispatch import receiver

from monitoring.signals import alerts_raised

logger = logging.getLogger(__name__)


@receiver(alerts_raised, dispatch_uid="monitoring.group_alerts_into_cases")
def group_alerts_into_cases(sender: Any, alert_ids: list[int], **kwargs: Any) -> None:
    """Queue the grouping of the new alerts into cases once their transaction has committed.

    A worker groups them (monitoring.tasks.alerts_group_task), not the request that raised
    them: an event or a drawdown check referred for review answers without waiting for the
    case (grouping took ~15 ms of a ~25 ms check), and the case follows within seconds. The
    signal is sent after commit; on_commit also covers a sender still inside a transaction.
    If the task cannot be queued, that is logged, not raised into the sender: the alerts stay
    without a case until the sweep (alerts_group_pending_task) picks them up.
    """
    from monitoring.tasks import alerts_group_task

    ids = [int(pk) for pk in alert_ids]

    def queue() -> None:
        try:
            alerts_group_task.delay(alert_ids=ids)
        except Exception:
            logger.exception("queueing alerts %s for grouping into cases failed", ids[:20])

    transaction.on_commit(queue)
