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


class InvalidPolicy(DomainError):
    code = "invalid_policy"
    message_template = _("The policy cannot be used: %(problem)s")


class FourEyes(DomainError):
    """A policy version is approved by someone other than the person who drafted it."""

    code = "four_eyes"
    message_template = _("You drafted this version: another person must approve it.")


class NoActivePolicy(DomainError):
    code = "no_active_policy"
    message_template = _("No limit policy is in force.")
