"""Refusals raised by the lending services (lending.services).

Each has a stable `code` (machine-readable, shown in the API's 409 body) and a translatable
message template filled from the keyword arguments given when it is raised.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class LendingError(DomainError):
    """Base of the lending book's refusals."""

    code = "lending_error"
    message_template = _("The lending book refused the change.")


class NotAllowed(LendingError):
    code = "not_allowed"
    message_template = _("You are not allowed to do this.")


class UnknownBorrower(LendingError):
    code = "unknown_borrower"
    message_template = _("There is no borrower %(customer_no)s.")


class UnknownLoan(LendingError):
    code = "unknown_loan"
    message_template = _("There is no loan %(loan_no)s.")


class DuplicateKeyConflict(LendingError):
    """The same idempotency key came again with different data: a client bug, never a replay."""

    code = "duplicate_key_conflict"
    message_template = _(
        "%(key)s was already recorded with different data (%(fields)s); nothing was changed."
    )


class InvalidAmount(LendingError):
    code = "invalid_amount"
    message_template = _("The amount must be more than zero (got %(amount)s).")


class InvalidTerm(LendingError):
    code = "invalid_term"
    message_template = _("The term must be 1 to 36 months (got %(term_months)s).")


class InvalidRate(LendingError):
    code = "invalid_rate"
    message_template = _(
        "The daily rate must be above 0 and at most 0.0986%% a day (got %(daily_rate)s)."
    )


class InvalidChoice(LendingError):
    code = "invalid_choice"
    message_template = _("%(value)s is not a valid %(field)s.")


class InvalidData(LendingError):
    """Field-level problems found by the model's validation (full_clean)."""

    code = "invalid_data"
    message_template = _("Some fields are not valid: %(fields)s.")


class InvalidDate(LendingError):
    code = "invalid_date"
    message_template = _("%(field)s %(value)s is before %(earliest)s.")


class ReasonRequired(LendingError):
    code = "reason_required"
    message_template = _("Give a reason.")


class LineNotActive(LendingError):
    code = "line_not_active"
    message_template = _("The credit line is %(status)s: it takes no drawdown.")


class InsufficientAvailable(LendingError):
    code = "insufficient_available"
    message_template = _("%(amount)s is more than the %(available)s available on the line.")


class LineClosed(LendingError):
    code = "line_closed"
    message_template = _("The credit line is closed.")


class AlreadyFrozen(LendingError):
    code = "already_frozen"
    message_template = _("The credit line is already frozen.")


class NotFrozen(LendingError):
    code = "not_frozen"
    message_template = _("The credit line is not frozen.")


class DrawdownNotActive(LendingError):
    code = "drawdown_not_active"
    message_template = _("Loan %(loan_no)s is %(status)s: it takes no repayment.")


class Overpayment(LendingError):
    code = "overpayment"
    message_template = _(
        "%(amount)s is more than the %(payoff)s that settles loan %(loan_no)s in full."
    )


class LineLocked(LendingError):
    """A manual limit decision holds the line: the automatic limit policy may not change it."""

    code = "line_locked"
    message_template = _(
        "A manual limit decision holds this line until %(locked_until)s: automatic limit "
        "changes are refused until then."
    )


class LimitAboveCap(LendingError):
    """The product's hard cap on a borrower's limit (caps.product_limit_cap); never overridden."""

    code = "limit_above_cap"
    message_template = _("A limit of %(new_limit)s is above the product cap of %(cap)s.")


class LineOverdue(LendingError):
    """A line with an overdue instalment takes no new drawdown until it is current again."""

    code = "line_overdue"
    message_template = _(
        "An instalment due on %(oldest_unpaid_due)s is unpaid (%(dpd)s days past due): the "
        "line takes no new drawdown until it is repaid."
    )


class AprAboveCeiling(LendingError):
    """The schedule's all-in APR (IRR method) is above the configured ceiling."""

    code = "apr_above_ceiling"
    message_template = _(
        "The all-in annual rate of this loan (IRR method) would be %(apr)s, above the ceiling "
        "of %(ceiling)s."
    )


class LineHasActiveLoans(LendingError):
    code = "line_has_active_loans"
    message_template = _(
        "The credit line still has %(count)s active loans: it closes only when none is left."
    )


class DayNotOver(LendingError):
    """A day close may run only for a day that has ended (in the project's time zone)."""

    code = "day_not_over"
    message_template = _("%(day)s has not ended yet: it cannot be closed.")


class DayCloseRunning(LendingError):
    """Another run is closing the same day (its claim is still fresh)."""

    code = "day_close_running"
    message_template = _("The day close of %(day)s is already running (since %(started_at)s).")


class DayInFuture(LendingError):
    code = "day_in_future"
    message_template = _("%(day)s is after today.")
