"""The limit policy's versions: a manager drafts, the head of risk activates (four eyes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import Role
from decisions import policy as limit_policy
from decisions.choices import PolicyStatus
from decisions.errors import FourEyes, InvalidPolicy, InvalidTransition, NoActivePolicy, NotAllowed
from decisions.models import (
    LimitPolicy,
)

if TYPE_CHECKING:
    from accounts.models import User


POLICY_DRAFTERS = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})
POLICY_APPROVERS = frozenset({Role.HEAD_OF_RISK, Role.ADMIN})


@transaction.atomic(durable=True)
def policy_draft(*, actor: User | None, rules: dict[str, Any], note: str = "") -> LimitPolicy:
    """Store a new draft version of the limit policy. Raises NotAllowed (below manager),
    InvalidPolicy (the rules do not describe a usable policy; the message says why)."""
    if actor is not None and (not actor.is_active or actor.role not in POLICY_DRAFTERS):
        raise NotAllowed(role=actor.role)
    try:
        limit_policy.policy_rules(rules)
    except limit_policy.PolicyInvalid as exc:
        raise InvalidPolicy(problem=str(exc)) from exc
    # Lock the table's newest row so two drafts never take the same version number.
    latest = LimitPolicy.objects.select_for_update().order_by("-version").first()
    draft = LimitPolicy.objects.create(
        version=(latest.version + 1) if latest else 1,
        rules=rules,
        note=note,
        created_at=timezone.now(),
        created_by=actor,
    )
    audit(
        actor=actor,
        action="policy.drafted",
        obj=draft,
        after={"version": draft.version, "note": note},
    )
    return draft


@transaction.atomic(durable=True)
def policy_activate(*, actor: User | None, policy: LimitPolicy, note: str = "") -> LimitPolicy:
    """Put a draft policy in force: the head of risk approves a version someone else drafted
    (four eyes); the active version retires in the same transaction. Raises NotAllowed,
    FourEyes (the drafter approving), InvalidTransition (not a draft)."""
    if actor is not None and (not actor.is_active or actor.role not in POLICY_APPROVERS):
        raise NotAllowed(role=actor.role)
    policy = LimitPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.status != PolicyStatus.DRAFT:
        raise InvalidTransition(current=policy.status, wanted=PolicyStatus.ACTIVE)
    if actor is not None and policy.created_by_id == actor.pk:
        raise FourEyes()
    now = timezone.now()
    for old in LimitPolicy.objects.select_for_update().filter(status=PolicyStatus.ACTIVE):
        old.status = PolicyStatus.RETIRED
        old.save(update_fields=["status"])
        audit(actor=actor, action="policy.retired", obj=old, after={"replaced_by": policy.version})
    policy.status = PolicyStatus.ACTIVE
    policy.approved_at = now
    policy.approved_by = actor
    policy.save(update_fields=["status", "approved_at", "approved_by"])
    audit(
        actor=actor,
        action="policy.activated",
        obj=policy,
        before={"status": PolicyStatus.DRAFT},
        after={"status": PolicyStatus.ACTIVE, "version": policy.version},
        note=note,
    )
    return policy


def active_policy() -> LimitPolicy:
    policy = LimitPolicy.objects.filter(status=PolicyStatus.ACTIVE).first()
    if policy is None:
        raise NoActivePolicy()
    return policy
