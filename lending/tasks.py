"""Celery tasks of the lending book: thin wrappers that parse their input and call a service."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


# Aggregate SQL over the whole book: seconds on a million lines, so a few minutes is ample.
@shared_task(acks_late=True, time_limit=10 * 60, soft_time_limit=9 * 60)
def book_snapshot_task(day: str | None = None) -> str:
    """Store the book's closing figures for `day` (ISO date), by default yesterday.

    Beat runs it at 00:10 Shanghai time, just after the day it records has closed. Replaying
    it for a day replaces that day's row (the service is update-or-create by day).
    """
    from lending.services import book_snapshot_take  # imported here to avoid an import cycle

    target = date.fromisoformat(day) if day else timezone.localdate() - timedelta(days=1)
    snapshot = book_snapshot_take(day=target)
    return snapshot.day.isoformat()


# The figures take about a second on a million lines; a late refresh is replaced by the next.
@shared_task(time_limit=120, soft_time_limit=100, expires=60)
def book_summary_refresh_task() -> str:
    """Recompute the home page's headline figures into the cache (beat: every minute)."""
    from lending.selectors import book_summary

    summary = book_summary(refresh=True)
    return summary["as_of"].isoformat()


# A day close of a million-line book takes minutes; catching up a few missed days, more. The
# claim a dead run leaves goes stale after lending.services.day_close.CLAIM_STALE_AFTER,
# which is longer than this limit.
DAY_CLOSE_TIME_LIMIT = 60 * 60


@shared_task(
    acks_late=True, time_limit=DAY_CLOSE_TIME_LIMIT, soft_time_limit=DAY_CLOSE_TIME_LIMIT - 120
)
def day_close_task(day: str | None = None) -> list[str]:
    """Close `day` (ISO date), or by default every day not yet closed through yesterday.

    Beat runs it at 00:05 Shanghai time. Without `day` it catches up missed nights in order
    (day_close_catch_up); a day already done is not run again, so a redelivered task does
    nothing. Another run holding the day (DayCloseRunning) ends this one quietly. Returns the
    days closed.
    """
    # imported here to avoid an import cycle
    from lending.errors import DayCloseRunning
    from lending.services import day_close_catch_up, day_close_run

    try:
        closes = [day_close_run(day=date.fromisoformat(day))] if day else day_close_catch_up()
    except DayCloseRunning as exc:
        logger.info("Day close skipped: %s", exc.message)
        return []
    return [close.day.isoformat() for close in closes]
