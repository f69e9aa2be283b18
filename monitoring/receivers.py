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
    """Group the new alerts into cases once the transaction that raised them has committed.

    The signal is sent after commit; on_commit also covers a sender still inside a
    transaction (it then runs when that commits, and at once when there is none). A failure
    is logged, not raised into the sender: the alerts stay without a case until the sweep
    (alerts_group_pending) picks them up.
    """
    from monitoring.services.cases import alerts_group

    ids = [int(pk) for pk in alert_ids]

    def group() -> None:
        try:
            alerts_group(alert_ids=ids)
        except Exception:
            logger.exception("grouping alerts %s into cases failed", ids[:20])

    transaction.on_commit(group)
