"""Refusals raised by the decisions services."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class NotAllowed(DomainError):
    code = "not_allowed"
    message_template = _("Your role does not allow this action.")


class InvalidTransition(DomainError):
    """A scorecard version cannot move from its status to the one asked."""

    code = "invalid_status_change"
    message_template = _("A %(current)s scorecard cannot become %(wanted)s.")


class TrainingFailed(DomainError):
    code = "training_failed"
    message_template = _("The scorecard could not be trained: %(problem)s")
