"""Policy simulations run by a worker: asked for on a page, computed in Celery, read by polling.

A simulation applies nothing to the book; its record is kept so the page can show the result
when the worker is done, and so a reviewer can see what the drafter saw."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit
from accounts.choices import STAFF_ROLES
from core.errors import DomainError
from decisions import policy as limit_policy
from decisions.errors import InvalidPolicy, NotAllowed
from decisions.models import LimitPolicy, PolicySimulation, SimulationStatus
from decisions.services.policies import POLICY_DRAFTERS

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)


class SimulationUnknown(DomainError):
    code = "simulation_unknown"
    message_template = _("There is no such simulation.")


def _jsonable(value: Any) -> Any:
    """Amounts as exact strings (the page turns them back into Decimal)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


@transaction.atomic(durable=True)
def policy_simulation_request(
    *, actor: User, rules: dict[str, Any], policy: LimitPolicy | None = None
) -> PolicySimulation:
    """Ask a worker to simulate `rules` on today's book; the record starts queued.

    A stored version (`policy`) may be simulated by any risk staff member: it changes nothing.
    The editor's unsaved draft (`policy=None`) only by those who may draft a policy. Raises
    NotAllowed, InvalidPolicy (the rules do not describe a usable policy). The task is queued
    after commit, so the worker always finds the record.
    """
    allowed = POLICY_DRAFTERS if policy is None else STAFF_ROLES
    if not actor.is_active or actor.role not in allowed:
        raise NotAllowed(role=actor.role)
    try:
        limit_policy.policy_rules(rules)
    except limit_policy.PolicyInvalid as exc:
        raise InvalidPolicy(problem=str(exc)) from exc
    simulation = PolicySimulation.objects.create(
        policy=policy,
        rules=rules,
        as_of=timezone.localdate(),
        requested_by=actor,
        requested_at=timezone.now(),
    )
    audit(
        actor=actor,
        action="policy_simulation.requested",
        obj=simulation,
        after={"policy": policy.version if policy else None, "as_of": simulation.as_of},
    )

    def queue() -> None:
        from decisions.tasks import policy_simulation_run_task

        policy_simulation_run_task.delay(simulation_id=simulation.pk)

    transaction.on_commit(queue)
    return simulation


def policy_simulation_run(*, simulation_id: int) -> PolicySimulation:
    """Compute a queued simulation and store its result (a worker calls this).

    Only a queued record is claimed (one UPDATE that checks the status), so a redelivered task
    computes nothing twice. A failure is stored on the record (status failed, the error) and
    logged, not raised: the page shows it and offers to run again; retrying the same rules on
    the same book would fail the same way. Raises SimulationUnknown for an id that does not
    exist.
    """
    from decisions.selectors import policy_simulation

    claimed = PolicySimulation.objects.filter(
        pk=simulation_id, status=SimulationStatus.QUEUED
    ).update(status=SimulationStatus.RUNNING, started_at=timezone.now())
    simulation = PolicySimulation.objects.filter(pk=simulation_id).first()
    if simulation is None:
        raise SimulationUnknown(simulation_id=simulation_id)
    if not claimed:
        return simulation  # another delivery has it, or had it
    started = time.perf_counter()
    try:
        result = policy_simulation(
            rules=limit_policy.policy_rules(simulation.rules), as_of=simulation.as_of
        )
    except Exception as exc:
        PolicySimulation.objects.filter(pk=simulation_id).update(
            status=SimulationStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            seconds=time.perf_counter() - started,
        )
        logger.exception("policy simulation %s failed", simulation_id)
        simulation.refresh_from_db()
        return simulation
    PolicySimulation.objects.filter(pk=simulation_id).update(
        status=SimulationStatus.DONE,
        result=_jsonable(result),
        finished_at=timezone.now(),
        seconds=time.perf_counter() - started,
    )
    simulation.refresh_from_db()
    return simulation
