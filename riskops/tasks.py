"""Infrastructure tasks: a ping that proves a real worker consumes the broker's queue."""

from __future__ import annotations

import re

from celery import shared_task
from django.conf import settings

# The token becomes a file name: letters, digits, dash and underscore only, so a message on
# the queue can never choose a path.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@shared_task
def ping_task(token: str) -> None:
    """Write VAR_DIR/pings/<token>: run scripts and tests wait for the file to appear."""
    if not _TOKEN.match(token):
        raise ValueError("ping token must be 1-64 letters, digits, '-' or '_'")
    folder = settings.VAR_DIR / "pings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / token).write_text("pong", encoding="utf-8")
