"""Audit rows as sentences a person reads on the borrower's timeline, in the page's language.

The audit log stores what changed as JSON (accounts.AuditEvent before/after); an analyst
reads "Limit changed from ¥3,000.00 to ¥4,000.00 by the policy (reason P01)". One function
per action; an action without one reads as its name, so a new action is never hidden.
Personal data never enters the audit log in clear, so nothing here can leak it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _

from lending.choices import IdentityCheckResult, LineStatusCode, PiiField
from lending.templatetags.book import cny

if TYPE_CHECKING:
    from accounts.models import AuditEvent


def _who(event: AuditEvent) -> str:
    """The person or process that acted: a login's label, the policy, or the system."""
    if event.actor_id is not None:
        return event.actor_label
    after = event.after or {}
    if after.get("automatic") or after.get("reason_code") == "policy":
        return _("the policy")
    return event.actor_label or _("the system")


def _field_label(code: Any) -> str:
    labels = dict(PiiField.choices)
    return str(labels.get(code, code)).lower() if code in labels else str(code)


def _status_code_label(code: Any) -> str:
    return str(dict(LineStatusCode.choices).get(code, code or "—"))


def _limit_changed(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    code = after.get("reason_code") or ""
    values = {
        "old": cny(before.get("credit_limit")),
        "new": cny(after.get("credit_limit")),
        "who": _who(event),
        "code": code,
    }
    if code:
        return _("Limit changed from %(old)s to %(new)s by %(who)s (reason %(code)s)") % values
    return _("Limit changed from %(old)s to %(new)s by %(who)s") % values


def _frozen(event: AuditEvent) -> str:
    after = event.after or {}
    values = {"who": _who(event), "reason": _status_code_label(after.get("status_code"))}
    return _("Line frozen by %(who)s: %(reason)s") % values


def _unfrozen(event: AuditEvent) -> str:
    after = event.after or {}
    values = {"who": _who(event), "reason": _status_code_label(after.get("status_code"))}
    return _("Line unfrozen by %(who)s: %(reason)s") % values


def _closed(event: AuditEvent) -> str:
    after = event.after or {}
    values = {"who": _who(event), "reason": _status_code_label(after.get("status_code"))}
    return _("Line closed by %(who)s: %(reason)s") % values


def _revealed(event: AuditEvent) -> str:
    after = event.after or {}
    values = {
        "who": _who(event),
        "field": _field_label(after.get("field")),
        "reason": event.note or "—",
    }
    return _("%(who)s revealed the %(field)s: reason “%(reason)s”") % values


def _reveal_refused(event: AuditEvent) -> str:
    after = event.after or {}
    values = {
        "who": _who(event),
        "field": _field_label(after.get("field")),
        "reason": event.note or "—",
    }
    return _("%(who)s was refused the %(field)s (reason given: “%(reason)s”)") % values


def _written_off(event: AuditEvent) -> str:
    principal = (event.before or {}).get("principal_outstanding")
    values = {"who": _who(event), "amount": cny(principal)}
    if principal is None:
        return _("A loan was written off by %(who)s") % values
    return _("A loan was written off by %(who)s (principal %(amount)s)") % values


def _registered(event: AuditEvent) -> str:
    after = event.after or {}
    values = {"limit": cny(after.get("credit_limit")), "who": _who(event)}
    return _("Registered with a credit line of %(limit)s by %(who)s") % values


def _identity_checked(event: AuditEvent) -> str:
    code = str((event.after or {}).get("identity_check") or "")
    labels: dict[str, Any] = dict(IdentityCheckResult.choices)
    values = {"result": str(labels.get(code, code or "—"))}
    return _("Identity cross-checked: %(result)s") % values


def _asset_declared(event: AuditEvent) -> str:
    after = event.after or {}
    return _("Declared an asset of %(amount)s") % {"amount": cny(after.get("amount"))}


SENTENCES: dict[str, Callable[[AuditEvent], str]] = {
    "line.limit_changed": _limit_changed,
    "line.frozen": _frozen,
    "line.unfrozen": _unfrozen,
    "line.closed": _closed,
    "pii.revealed": _revealed,
    "pii.reveal_refused": _reveal_refused,
    "drawdown.written_off": _written_off,
    "borrower.registered": _registered,
    "borrower.identity_checked": _identity_checked,
    "asset.declared": _asset_declared,
}


def audit_sentence(event: AuditEvent) -> str:
    """One audit row as a sentence; an action without its own reads as "who: action"."""
    render = SENTENCES.get(event.action)
    if render is not None:
        try:
            return render(event)
        except (TypeError, ValueError, ArithmeticError):
            # An older row shaped differently must not break the page: fall through.
            pass
    return _("%(who)s: %(action)s") % {"who": _who(event), "action": event.action}
