"""The demo book's alerts, raised by the monitoring rules over its recorded history.

The seeder writes the book's events (monitoring.Event rows, as the lending core would have
posted them) but never an alert: the planted behaviour (night withdrawals, bursts of small
drawdowns, 以贷养贷 transfers to other lenders, rings sharing phones and Wi-Fi) has to be found
by the rules themselves. So after the book is written, the shipped rules get their first
active versions (monitoring.services.rules_ensure_defaults, if none exist yet) and every event
is judged by monitoring.services.events_evaluate, the live path's own function (the kinds some
live rule judges or reads, not re-judging later events: each chunk has them all): each event on
what had happened by its own time, each hit raised once. The events go a chunk of borrowers
at a time, all of a borrower's events together, so one history load serves the chunk. Then
the ring rule, which is book-wide rather than per event, runs once as its nightly task would
(linked_identities_check), and every alert is grouped into its case, as the receiver's queued
task would.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import Count

from lending.selectors import borrower_id_chunks
from monitoring.models import Alert, Event
from monitoring.services import events_evaluate, rules_ensure_defaults, versions_live
from monitoring.services.cases import alerts_group_pending
from monitoring.services.evaluation import relevant_kinds
from monitoring.services.graph import linked_identities_check

CHUNK_BORROWERS = 500  # about 5,000 events: "a few thousand" per evaluation


def backfill_alerts(
    *,
    chunk_size: int = CHUNK_BORROWERS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Judge every recorded event by the live rule versions and raise their alerts; returns
    the alerts on the book per rule. Replaying it raises nothing twice (dedupe keys)."""
    rules_ensure_defaults(actor=None)
    # Only the kinds of event some live rule judges or reads: the rest (logins without a
    # rule reading them, repayments, ...) would be loaded, their payloads decoded, and dropped.
    kinds = sorted(relevant_kinds(versions_live(include_shadow=True)))
    done = 0
    for ids in borrower_id_chunks(size=chunk_size):
        with transaction.atomic():
            events = list(
                Event.objects.filter(borrower_id__in=ids, kind__in=kinds).order_by(
                    "occurred_at", "id"
                )
            )
            # Every event of these borrowers is in `events`: re-judging later recorded ones
            # (the live path's step 1) would only judge them twice.
            events_evaluate(events=events, rejudge_later=False)
        done += len(ids)
        if progress:
            progress(done, len(events))
    # Rings are a book-wide graph rule (monitoring.services.graph), not judged per event: the
    # same check the nightly task runs.
    linked_identities_check(actor=None)
    # Into cases here, as the receiver's queued task would put them (monitoring.tasks.
    # alerts_group_task): a seeded book has its cases whether or not a worker runs yet, and
    # the queued tasks then find nothing left to do.
    # The beat's sweep, at once rather than after its settling minute; each call puts every
    # alert it reads into a case, so the loop ends.
    while alerts_group_pending(settle_seconds=0):
        pass
    return alerts_per_rule()


def alerts_per_rule() -> dict[str, int]:
    rows = (
        Alert.objects.values_list("rule_version__rule__kind")
        .annotate(n=Count("id"))
        .order_by("rule_version__rule__kind")
    )
    return dict(rows)
