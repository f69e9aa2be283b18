"""Refusals raised by the override and risk-flag services (decisions.services.overrides, .flags)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class FlagAlreadySet(DomainError):
    code = "flag_already_set"
    message_template = _("This borrower already carries a confirmed-fraud flag.")


class FlagNotSet(DomainError):
    code = "flag_not_set"
    message_template = _("This borrower carries no open confirmed-fraud flag.")


class OverrideInvalid(DomainError):
    """The proposal does not describe a change that can be made; the message says which part."""

    code = "override_invalid"
    message_template = _("The proposal cannot be taken: %(problem)s")


class OverrideOpenExists(DomainError):
    code = "override_open_exists"
    message_template = _(
        "This line already has a proposal in progress (#%(proposal)s): decide or withdraw it first."
    )


class HardBlock(DomainError):
    """A limit no authority may pass: the product cap, the APR ceiling, confirmed fraud."""

    code = "override_hard_block"
    message_template = _("No one may approve this: %(problem)s")


class FourEyesOverride(DomainError):
    code = "four_eyes"
    message_template = _("You proposed this change: another person must decide it.")


class NoAuthority(DomainError):
    code = "no_authority"
    message_template = _(
        "This change is beyond your approval authority; it needs %(needed)s or above."
    )


class AlreadyDecided(DomainError):
    """Someone else decided (or the proposal expired) first: the page shows what happened."""

    code = "already_decided"
    message_template = _("This proposal is no longer awaiting a decision: it is now %(status)s.")


class StepUpRequired(DomainError):
    code = "step_up_required"
    message_template = _("Approving a change this large needs your password again.")


class StepUpFailed(DomainError):
    code = "step_up_failed"
    message_template = _("The password is not correct.")


class StepUpLocked(DomainError):
    code = "step_up_locked"
    message_template = _(
        "Too many wrong passwords: approving large changes is paused for %(minutes)s minutes."
    )


class EvidenceRefused(DomainError):
    code = "evidence_refused"
    message_template = _("The file %(name)s cannot be attached: %(problem)s")


class NotYourProposal(DomainError):
    code = "not_your_proposal"
    message_template = _("Only the person who proposed this change may edit or withdraw it.")
