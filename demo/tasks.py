"""Celery tasks of the demo: the synthetic lending-core feed that keeps the demo book moving."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


# Beat runs it every minute; a run takes well under a second, so a minute's limit is ample.
@shared_task(acks_late=True, time_limit=60, soft_time_limit=50)
def demo_event_feed_task() -> int:
    """Post a few synthetic lending-core events when RISKOPS_DEMO_FEED is on; returns how
    many were recorded.

    Each event goes through event_ingest on its own (actor None: the system), so a refusal
    by the book (say, a loan settled since it was picked) is logged and the others still go
    in; the worker never fails on one.
    """
    if not settings.RISKOPS_DEMO_FEED:
        return 0
    # Imported here to avoid an import cycle at worker start (tasks are autodiscovered).
    from demo.feed import demo_events_build
    from monitoring.errors import EventBatchError
    from monitoring.services import event_ingest

    now = timezone.now()
    events = demo_events_build(now=now, seed=int(timezone.localtime(now).strftime("%Y%m%d%H%M")))
    recorded = 0
    for event in events:
        try:
            results = event_ingest(actor=None, events=[event])
        except EventBatchError as exc:
            logger.info("demo feed: %s not recorded: %s", event["event_id"], exc.errors)
            continue
        recorded += sum(1 for result in results if result["status"] == "recorded")
    return recorded
