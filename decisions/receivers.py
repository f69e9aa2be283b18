"""What decisions does when the book moves: queue a re-score of the borrower concerned.

The receivers only queue a task (the signals are sent after lending's transaction commits);
the task calls the service. The book never calls decisions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from lending.choices import TransitionKind
from lending.models import LineTransition

# Transitions that change what the policy would decide: entering M1 (the first missed
# payment), any worse bucket, a cure. Write-offs close the line; nothing to review.
RESCORE_ON = (TransitionKind.ENTERED, TransitionKind.CURED)


def on_borrower_activity(sender: Any, *, borrower_ids: list[int], kind: str, **_: Any) -> None:
    from decisions.tasks import borrowers_rescore_queue

    borrowers_rescore_queue(borrower_ids)


def on_transitions(sender: Any, *, day: date, transition_ids: list[int], **_: Any) -> None:
    from decisions.tasks import borrowers_rescore_queue

    borrowers = (
        LineTransition.objects.filter(pk__in=transition_ids, kind__in=RESCORE_ON)
        .values_list("borrower_id", flat=True)
        .distinct()
    )
    borrowers_rescore_queue(sorted(borrowers))
