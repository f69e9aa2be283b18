"""Refusals of the rule and list services (monitoring.services.rules)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class RuleEditNotAllowed(DomainError):
    code = "rule_edit_not_allowed"
    message_template = _("Only a manager, the head of risk or an administrator may change rules.")


class RuleParamsInvalid(DomainError):
    """`extra["errors"]` maps each parameter at fault to what is wrong with it."""

    code = "rule_params_invalid"
    message_template = _("Some thresholds are not valid: %(fields)s.")


class RuleVersionWrongStatus(DomainError):
    code = "rule_version_wrong_status"
    message_template = _("Version %(version)s is %(status)s; this change needs it %(needed)s.")


class RuleNotRealtime(DomainError):
    code = "rule_not_realtime"
    message_template = _("This rule is not judged on single events.")


class ListEntriesInvalid(DomainError):
    code = "list_entries_invalid"
    message_template = _("List entries must be text of at most 100 characters; %(count)s are not.")


class CheckNotAllowed(DomainError):
    code = "check_not_allowed"
    message_template = _(
        "Only the lending core's service account or an administrator may ask for a drawdown check."
    )


class CheckInvalid(DomainError):
    """`extra["fields"]` names the fields at fault."""

    code = "check_invalid"
    message_template = _("The drawdown check was not made: %(fields)s not valid.")
