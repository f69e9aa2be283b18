"""Celery task of the policy simulation (beside decisions/tasks.py; settings.CELERY_IMPORTS
names this module so workers register it)."""

from __future__ import annotations

from celery import shared_task


# A simulation reads the whole book once: minutes on a million lines, never retried (a
# failure is stored on the record and the page offers to run it again).
@shared_task(acks_late=True, time_limit=30 * 60, soft_time_limit=29 * 60)
def policy_simulation_run_task(*, simulation_id: int) -> str:
    """Compute one queued policy simulation and store its result."""
    from decisions.services.simulations import policy_simulation_run

    return str(policy_simulation_run(simulation_id=simulation_id).status)
