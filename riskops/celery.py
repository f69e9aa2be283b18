"""The Celery app: configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "riskops.settings")

app = Celery("riskops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**_: Any) -> None:
    """Let Django's LOGGING configure the worker too, so both log alike."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@task_prerun.connect
def _audit_context_from_task(task_id: str | None = None, task: Any = None, **_: Any) -> None:
    """Audit rows written inside a task name the task that wrote them."""
    from accounts.audit import set_audit_context

    set_audit_context(source="task", reference=f"{getattr(task, 'name', 'task')}:{task_id}")


@task_postrun.connect
def _audit_context_clear(**_: Any) -> None:
    from accounts.audit import clear_audit_context

    clear_audit_context()
