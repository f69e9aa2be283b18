"""Refusals raised by monitoring services.

Event ingestion reports every problem of a batch at once, each with the position (`index`) of
the event in the batch and the field it concerns, so the two errors carry a list of them:
`EventBatchInvalid` for malformed input (the API answers 400) and `EventBatchRefused` for a
business refusal or an event id reused with other data (the API answers 409). In both cases
nothing of the batch was recorded. `EventBatchRetry` is neither: the batch lost a race with a
concurrent request, and posting it again is safe (409, code retry, with Retry-After).
"""

from __future__ import annotations

from typing import Any, TypedDict

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError


class EventError(TypedDict):
    """One problem with one event of a batch (index None: the batch as a whole)."""

    index: int | None
    event_id: str | None
    field: str | None
    code: str
    message: str


class EventBatchError(DomainError):
    """A batch was not recorded; `errors` says which events and fields were at fault."""

    def __init__(self, errors: list[EventError], **extra: Any) -> None:
        self.errors = errors
        super().__init__(None, count=len(errors), **extra)


class EventBatchInvalid(EventBatchError):
    """Malformed input: missing or badly formed fields, a naive time, a batch too large."""

    code = "invalid_events"
    message_template = _("The batch was not recorded: %(count)s invalid field(s).")


class EventBatchRefused(EventBatchError):
    """The events are well formed but the book refuses one, or an event id was reused."""

    code = "events_refused"
    message_template = _("The batch was not recorded: %(count)s event(s) refused.")


class EventPostNotAllowed(DomainError):
    code = "not_allowed"
    message_template = _(
        "Only the lending core's service account or an administrator may post events."
    )


class LoanOfAnotherCustomer(DomainError):
    code = "loan_of_another_customer"
    message_template = _("Loan %(loan_no)s does not belong to customer %(customer_no)s.")


class EventIdReused(DomainError):
    code = "event_id_reused"
    message_template = _(
        "Event id %(event_id)s was already posted with different data; an event id names one "
        "event forever."
    )


class EventBatchRetry(DomainError):
    """A batch lost a race with a concurrent request; nothing of it was recorded.

    The other request held or inserted a row this batch needed: an event id it was recording
    (`reason` event_in_flight), a customer or card it created first (duplicate_key), or the two
    waited on each other (deadlock, serialization_failure, lock_timeout, database_busy). Posting
    the same batch again succeeds, or answers what the other request recorded. The code is the
    API's retry code (core.api.RETRY_CODE): 409 with a Retry-After header of `retry_after`.
    """

    code = "retry"
    message_template = _(
        "The batch was not recorded: a concurrent request got there first (%(reason)s). "
        "Post it again."
    )
