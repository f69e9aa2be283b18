"""What the lending book publishes for other apps. The book never calls them; they listen here
or read the rows.

`line_transitions_recorded` is sent once a day close has committed (never from inside its
transaction), with:

- `day`: the business day closed (a datetime.date),
- `transition_ids`: the ids of every LineTransition row of that day (a list of int).

A day close resumed after a failure sends the day's complete list again, so receivers must be
idempotent (act on ids they have not seen). A write-off dated a day whose close is already
done sends its own transition after it commits.

`borrower_activity` is sent after the transaction that recorded drawdowns or repayments
commits (never for a replay, which records nothing), once per kind for a whole batch of
events, with:

- `borrower_ids`: whose book moved (a list of int, each once, in the order they first moved),
- `kind`: "drawdown" or "repayment".

Receivers of either run in the worker that committed (the day close's, a request's): keep
them quick, and hand slow work to a Celery task of their own app (`transaction.on_commit`
is already past; call `.delay(...)` directly).
"""

from __future__ import annotations

import logging
from datetime import date

from django.dispatch import Signal

logger = logging.getLogger(__name__)

line_transitions_recorded = Signal()


def publish_transitions(*, day: date, transition_ids: list[int]) -> None:
    """Send line_transitions_recorded; the lending services call it after commit.

    A receiver that fails is logged and fails nothing else: the day close stays done, the
    other receivers still hear, and the rows are there for it to read again.
    """
    answers = line_transitions_recorded.send_robust(
        sender="lending", day=day, transition_ids=transition_ids
    )
    for receiver, answer in answers:
        if isinstance(answer, Exception):
            logger.error(
                "A receiver of the transitions of %s failed: %r",
                day,
                receiver,
                exc_info=(type(answer), answer, answer.__traceback__),
            )


borrower_activity = Signal()
