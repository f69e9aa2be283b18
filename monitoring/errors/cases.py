"""Refusals raised by the case services (monitoring.services.cases).

Kept apart from monitoring.errors (event ingestion's refusals) so the two rooms do not share
one file. Every class is a DomainError: the API answers 409 with its code, a page shows its
message in place.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class CaseNotAllowed(DomainError):
    code = "not_allowed"
    message_template = _("Your role does not allow this action on cases.")


class CaseAssignedToAnother(DomainError):
    code = "case_assigned_to_another"
    message_template = _(
        "Case #%(case_id)s is being worked by %(assignee)s; only they or a manager may act on it."
    )


class CaseResolved(DomainError):
    code = "case_resolved"
    message_template = _("Case #%(case_id)s is resolved; a manager may reopen it.")


class CaseNotResolved(DomainError):
    code = "case_not_resolved"
    message_template = _("Case #%(case_id)s is not resolved, so there is nothing to reopen.")


class CaseReopenConflict(DomainError):
    code = "case_reopen_conflict"
    message_template = _(
        "Case #%(case_id)s cannot be reopened: the borrower already has open case "
        "#%(open_case_id)s of this category, which holds the new alerts."
    )


class QueueEmpty(DomainError):
    code = "queue_empty"
    message_template = _("No unassigned open case is waiting in this queue.")


class DispositionRequired(DomainError):
    code = "disposition_required"
    message_template = _("Choose a disposition.")


class InvalidDisposition(DomainError):
    code = "invalid_disposition"
    message_template = _("%(value)s is not a disposition.")


class NoteRequired(DomainError):
    code = "note_required"
    message_template = _("Write a note.")


class CommentRequired(DomainError):
    code = "comment_required"
    message_template = _("Write a comment.")


class AssigneeInvalid(DomainError):
    code = "assignee_invalid"
    message_template = _("Cases can be assigned only to active risk staff.")


class SlaInvalid(DomainError):
    code = "sla_invalid"
    message_template = _("The SLA must be between 1 and %(max)s hours.")


class EvidenceRefused(DomainError):
    """The file is not one the case accepts: too large, empty, or not really a PDF/JPEG/PNG."""

    code = "evidence_refused"
    message_template = _(
        "The file was not attached: only PDF, JPEG or PNG files up to %(max_mb)s MB are "
        "accepted, checked by their content."
    )


class FilterInvalid(DomainError):
    code = "filter_invalid"
    message_template = _("The filter is not valid: %(fields)s.")


class SelectionChanged(DomainError):
    """A bulk action found another number of rows than the user saw: nothing was done."""

    code = "selection_changed"
    message_template = _(
        "The filtered list now holds %(actual)s case(s), not the %(expected)s you saw. "
        "Nothing was changed; review the list and try again."
    )


class SelectionTooLarge(DomainError):
    code = "selection_too_large"
    message_template = _(
        "A bulk action acts on at most %(max)s cases; narrow the filter (%(actual)s match)."
    )


class SelectionEmpty(DomainError):
    code = "selection_empty"
    message_template = _("No case matches the filter.")


class LineMissing(DomainError):
    code = "line_missing"
    message_template = _("The borrower has no credit line.")


class LimitCutNotACut(DomainError):
    code = "limit_cut_not_a_cut"
    message_template = _("A cut must be below the current limit of %(limit)s yuan.")


class DocumentsRequired(DomainError):
    code = "documents_required"
    message_template = _("Choose at least one document to ask for.")


class DocumentOtherRequired(DomainError):
    code = "document_other_required"
    message_template = _(
        "Say which other document the borrower should send (at most %(max)s characters)."
    )


class CaseNotWaiting(DomainError):
    code = "case_not_waiting"
    message_template = _("Case #%(case_id)s is not waiting for the borrower.")


class DocumentsNoFiles(DomainError):
    code = "documents_no_files"
    message_template = _("Choose at least one file to send.")


class DocumentsTooManyFiles(DomainError):
    code = "documents_too_many_files"
    message_template = _("Send at most %(max)s files at a time.")
