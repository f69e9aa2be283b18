"""Celery tasks of the lending book: thin wrappers that parse their input and call a service."""

from __future__ import annotations

from datetime import date, timedelta

from celery import shared_task
from django.utils import timezone


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
