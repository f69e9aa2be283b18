"""The head of risk's lists: the authority matrix and the override reason codes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.choices import Role
from decisions.errors import NotAllowed
from decisions.errors.overrides import OverrideInvalid
from decisions.models.overrides import AuthorityRule, Direction, OverrideReason
from decisions.services.overrides import APPROVER_ROLES, policy_rules_in_force

if TYPE_CHECKING:
    from accounts.models import User

MATRIX_EDITORS = frozenset({Role.HEAD_OF_RISK})


# --- the matrix and the reason list (head of risk) --------------------------------------------


def _require_matrix_editor(actor: User) -> None:
    if actor is None or not actor.is_active or actor.role not in MATRIX_EDITORS:
        raise NotAllowed(role=getattr(actor, "role", None))


RULE_FIELDS = (
    "role",
    "direction",
    "max_increase",
    "max_increase_share",
    "max_resulting_limit",
    "bands",
    "step_up_above",
    "active",
)


@transaction.atomic
def authority_rule_save(
    *, actor: User, rule: AuthorityRule | None, values: dict[str, Any]
) -> AuthorityRule:
    """Create (rule None) or change one row of the authority matrix. Writes
    "override.authority_changed" with the row before and after. Raises NotAllowed (not the
    head of risk), OverrideInvalid (a role that cannot approve, an unknown band)."""
    _require_matrix_editor(actor)
    if values.get("role") not in APPROVER_ROLES:
        raise OverrideInvalid(problem=_("that role cannot hold approval authority."))
    if values.get("direction") not in Direction.values:
        raise OverrideInvalid(problem=_("unknown kind of change."))
    known = {b.name for b in policy_rules_in_force().bands}
    bands = [b.strip() for b in str(values.get("bands") or "").split(",") if b.strip()]
    if any(b not in known for b in bands):
        raise OverrideInvalid(problem=_("unknown risk band."))
    values = {**values, "bands": ",".join(bands)}
    if rule is None:
        rule = AuthorityRule()
        before: dict[str, Any] = {}
    else:
        rule = AuthorityRule.objects.select_for_update().get(pk=rule.pk)
        before = {f: getattr(rule, f) for f in RULE_FIELDS}
    for f in RULE_FIELDS:
        if f in values:
            setattr(rule, f, values[f])
    rule.updated_at = timezone.now()
    rule.updated_by = actor
    rule.save()
    audit(
        actor=actor,
        action="override.authority_changed",
        obj=rule,
        before=before,
        after={f: getattr(rule, f) for f in RULE_FIELDS},
    )
    return rule


SLUG = re.compile(r"[-a-zA-Z0-9_]{1,32}")
POSITION_MAX = 32767


@transaction.atomic
def override_reason_save(
    *,
    actor: User,
    reason: OverrideReason | None,
    code: str,
    label: str,
    label_zh: str = "",
    active: bool = True,
    position: int = 100,
) -> OverrideReason:
    """Add or change a reason code of the managed list (a used code is retired with
    active=False, never deleted). Writes "override.reason_changed"."""
    _require_matrix_editor(actor)
    code, label = (code or "").strip(), (label or "").strip()
    if not code or not label:
        raise OverrideInvalid(problem=_("a reason needs a code and a label."))
    # What the table holds (a slug of 32, an order that fits a small number): refused here
    # rather than failing in the database.
    if reason is None and not SLUG.fullmatch(code):
        raise OverrideInvalid(
            problem=_("a code is up to 32 letters, digits, hyphens or underscores.")
        )
    if not 0 <= position <= POSITION_MAX:
        raise OverrideInvalid(
            problem=_("the order is a whole number from 0 to %(max)s.") % {"max": POSITION_MAX}
        )
    if reason is None:
        if OverrideReason.objects.filter(code=code).exists():
            raise OverrideInvalid(problem=_("that code exists already."))
        reason = OverrideReason(code=code)
        before: dict[str, Any] = {}
    else:
        reason = OverrideReason.objects.select_for_update().get(pk=reason.pk)
        before = {"label": reason.label, "label_zh": reason.label_zh, "active": reason.active}
    reason.label, reason.label_zh = label[:100], (label_zh or "").strip()[:100]
    reason.active, reason.position = active, position
    reason.save()
    audit(
        actor=actor,
        action="override.reason_changed",
        obj=reason,
        before=before,
        after={"code": reason.code, "label": reason.label, "active": reason.active},
    )
    return reason
