"""Refusals raised by the accounts services (logins, roles, tokens, personal-data reveals)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class NotAllowed(DomainError):
    """The actor's role does not permit this action."""

    code = "not_allowed"
    message_template = _("Your role does not allow this action.")


class RevealNotAllowed(DomainError):
    """Only the roles in settings.RISKOPS_PII_REVEAL_ROLES may see full personal data."""

    code = "reveal_not_allowed"
    message_template = _("Your role does not allow revealing personal data.")


class ReasonRequired(DomainError):
    """A reveal needs a stated reason of at least %(min_length)s characters."""

    code = "reason_required"
    message_template = _("State a reason of at least %(min_length)s characters.")


class PiiObjectNotFound(DomainError):
    """The bank account named by object_ref does not belong to the borrower."""

    code = "pii_object_not_found"
    message_template = _("No such bank account for this borrower.")


class UsernameTaken(DomainError):
    code = "username_taken"
    message_template = _("The username %(username)s is already taken.")


class WeakPassword(DomainError):
    code = "weak_password"
    message_template = _("The password is too weak: %(problems)s")


class RoleBorrowerMismatch(DomainError):
    """A borrower login needs a borrower; a staff or service login must not have one."""

    code = "role_borrower_mismatch"
    message_template = _(
        "A borrower login must be tied to one borrower, and only a borrower login."
    )


class CannotChangeOwnAccount(DomainError):
    """Administrators cannot demote or deactivate themselves (nobody would be left to undo it)."""

    code = "cannot_change_own_account"
    message_template = _("You cannot change your own role or deactivate yourself.")


class NotAServiceAccount(DomainError):
    code = "not_a_service_account"
    message_template = _("API tokens are issued only to active service accounts.")


class ServiceAccountPassword(DomainError):
    """Service accounts authenticate with an API token only; they never get a password."""

    code = "service_account_password"
    message_template = _("Service accounts have no password: they use an API token.")
