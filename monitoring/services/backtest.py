"""Backtests: a rule version replayed over a past window of recorded events, and how the
borrowers it would have alerted fared afterwards against the book (the lift).

1. A manager asks for a window (backtest_request): a Backtest row, queued; the Celery task
   runs it (backtest_run) and the rule page polls the row.
2. The window's recorded events that the rule judges are replayed through the version, point
   in time, without writing anything (replay_hits: monitoring.services.evaluation's no-write
   form; the ring rule finds the rings as the book stood at the window's end).
3. The alerted borrowers, each from their first hit, and the window's population (every
   borrower with an event the rule judges, each from their first such event) are followed for
   `outcome_days`: the share reaching `outcome_dpd` days past due (monitoring.services.
   outcomes), counting only those whose window has ended by the book's last day close.
   Lift = the alerted's bad rate / the population's.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit
from accounts.choices import Role
from core.errors import DomainError
from lending.models import Borrower
from monitoring.choices import RuleKind
from monitoring.models import Event, RuleVersion
from monitoring.models.shadow import Backtest, BacktestStatus
from monitoring.services.outcomes import lift_of, matured, outcome_of, outcomes_known_through

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# Who may start a backtest: whoever tunes rules. Everyone on the risk staff reads the results.
BACKTEST_ROLES = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})
# A window longer than this replays too much for an evidence run; split it.
MAX_WINDOW_DAYS = 366
# Hits listed on the page (the counts cover them all).
LISTED_HITS = 500
# Events replayed per evaluation call: bounds memory on a year of a large book.
REPLAY_CHUNK = 5_000


class BacktestRefused(DomainError):
    code = "backtest_refused"
    message_template = _("The backtest was refused.")


class BacktestNotAllowed(BacktestRefused):
    code = "backtest_not_allowed"
    message_template = _("Only a manager may run a backtest.")


class BacktestWindowInvalid(BacktestRefused):
    code = "backtest_window_invalid"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="window")


@dataclass(frozen=True)
class ReplayHit:
    """A hit the version would have raised: on whom, when, under which key."""

    borrower_id: int
    occurred_at: datetime
    dedupe_key: str


@transaction.atomic(durable=True)
def backtest_request(
    *,
    actor: User,
    version: RuleVersion,
    window_start: datetime,
    window_end: datetime,
    outcome_dpd: int = 30,
    outcome_days: int = 90,
) -> Backtest:
    """Queue a backtest of `version` over [window_start, window_end].

    Raises BacktestNotAllowed (not a manager), BacktestWindowInvalid (end not after start,
    end in the future, longer than MAX_WINDOW_DAYS). The task runs after commit.
    """
    if actor.role not in BACKTEST_ROLES:
        raise BacktestNotAllowed()
    now = timezone.now()
    if window_end <= window_start:
        raise BacktestWindowInvalid(str(_("The window must end after it starts.")))
    if window_end > now:
        raise BacktestWindowInvalid(str(_("A backtest replays the past: end the window today.")))
    if window_end - window_start > timedelta(days=MAX_WINDOW_DAYS):
        raise BacktestWindowInvalid(
            str(_("A window of at most %(days)s days.") % {"days": MAX_WINDOW_DAYS})
        )
    backtest = Backtest.objects.create(
        rule_version=version,
        window_start=window_start,
        window_end=window_end,
        outcome_dpd=outcome_dpd,
        outcome_days=outcome_days,
        requested_by=actor,
        requested_at=now,
    )
    audit(
        actor=actor,
        action="backtest.requested",
        obj=backtest,
        after={
            "rule": version.rule.kind,
            "version": version.version,
            "window": [window_start.isoformat(), window_end.isoformat()],
        },
    )
    from monitoring.tasks import backtest_run_task  # tasks import services, not the reverse

    pk = backtest.pk
    # Queued once the row is committed, or the worker would not find it.
    transaction.on_commit(lambda: backtest_run_task.delay(backtest_id=pk))
    return backtest


def _events_in_window(version: RuleVersion, start: datetime, end: datetime) -> Any:
    from monitoring.rules.registry import rule_spec

    kinds = sorted(rule_spec(version.rule.kind).triggers)
    return Event.objects.filter(
        kind__in=kinds, occurred_at__gte=start, occurred_at__lte=end, borrower__isnull=False
    ).order_by("occurred_at", "id")


def replay_hits(
    version: RuleVersion, start: datetime, end: datetime
) -> tuple[int, list[ReplayHit]]:
    """(events judged, the hits) of `version` over the window, writing nothing."""
    if version.rule.kind == RuleKind.LINKED_IDENTITIES:
        from monitoring.services.graph import rings_for_version

        ring_hits = [
            ReplayHit(member, ring.formed_at, f"ring:{ring.anchor}")
            for ring in rings_for_version(version, as_of=end)
            if ring.formed_at is not None and start <= ring.formed_at <= end
            for member in ring.members
        ]
        return 0, ring_hits
    from monitoring.services.evaluation import events_hits

    events = _events_in_window(version, start, end)
    judged = 0
    seen: set[tuple[int, str]] = set()
    hits: list[ReplayHit] = []
    chunk: list[Event] = []
    for event in events.iterator(chunk_size=REPLAY_CHUNK):
        chunk.append(event)
        if len(chunk) >= REPLAY_CHUNK:
            judged += _replay_chunk(version, chunk, seen, hits, events_hits)
            chunk = []
    if chunk:
        judged += _replay_chunk(version, chunk, seen, hits, events_hits)
    return judged, hits


def _replay_chunk(
    version: RuleVersion,
    chunk: Sequence[Event],
    seen: set[tuple[int, str]],
    hits: list[ReplayHit],
    evaluate: Any,
) -> int:
    for rule_hit in evaluate(events=chunk, versions=[version]):
        hit = rule_hit.hit
        key = (hit.borrower_id, hit.dedupe_key)
        if key in seen:  # one alert per borrower and key, as the live path dedupes
            continue
        seen.add(key)
        hits.append(ReplayHit(hit.borrower_id, hit.occurred_at, hit.dedupe_key))
    return len(chunk)


def _population(version: RuleVersion, start: datetime, end: datetime) -> dict[int, datetime]:
    """Every borrower the rule judged in the window, from their first judged event."""
    from django.db.models import Min

    if version.rule.kind == RuleKind.LINKED_IDENTITIES:
        events = Event.objects.filter(occurred_at__gte=start, occurred_at__lte=end)
    else:
        events = _events_in_window(version, start, end)
    rows = (
        events.filter(borrower__isnull=False)
        .order_by()
        .values("borrower_id")
        .annotate(first=Min("occurred_at"))
        .values_list("borrower_id", "first")
    )
    return dict(rows.iterator(chunk_size=10_000))


def _first_hits(hits: Iterable[ReplayHit]) -> dict[int, datetime]:
    first: dict[int, datetime] = {}
    for hit in hits:
        if hit.borrower_id not in first or hit.occurred_at < first[hit.borrower_id]:
            first[hit.borrower_id] = hit.occurred_at
    return first


def backtest_run(*, backtest_id: int) -> Backtest:
    """Run a queued backtest and store its figures (module docstring, steps 2-3).

    A backtest already done (a redelivered task) is left as it is. A failure is stored on the
    row (status failed, the error), so the page stops polling and says so.
    """
    with transaction.atomic():
        backtest = Backtest.objects.select_for_update().get(pk=backtest_id)
        if backtest.status in {BacktestStatus.DONE, BacktestStatus.RUNNING}:
            return backtest
        backtest.status = BacktestStatus.RUNNING
        backtest.save(update_fields=["status"])
    version = RuleVersion.objects.select_related("rule").get(pk=backtest.rule_version_id)
    try:
        figures = backtest_figures(
            version,
            start=backtest.window_start,
            end=backtest.window_end,
            dpd=backtest.outcome_dpd,
            days=backtest.outcome_days,
        )
    except Exception as exc:  # noqa: BLE001 - any failure ends the run visibly, not silently
        logger.exception("backtest %s failed", backtest_id)
        with transaction.atomic():
            Backtest.objects.filter(pk=backtest_id).update(
                status=BacktestStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
            )
        backtest.refresh_from_db()
        return backtest
    with transaction.atomic():
        for name, value in figures.items():
            setattr(backtest, name, value)
        backtest.status = BacktestStatus.DONE
        backtest.finished_at = timezone.now()
        backtest.save(update_fields=[*figures, "status", "finished_at"])
        audit(
            actor=None,
            action="backtest.finished",
            obj=backtest,
            after={
                "alerts": backtest.alerts,
                "borrowers": backtest.borrowers,
                "lift": backtest.lift,
            },
        )
    return backtest


def backtest_figures(
    version: RuleVersion, *, start: datetime, end: datetime, dpd: int = 30, days: int = 90
) -> dict[str, Any]:
    """The figures of a backtest (the Backtest fields they fill), computed without writing."""
    judged, hits = replay_hits(version, start, end)
    first = _first_hits(hits)
    population = _population(version, start, end)
    # The alerted are part of the population (a ring member may have had no event).
    for borrower_id, at in first.items():
        population.setdefault(borrower_id, at)
    hit_outcome, hit_bad = outcome_of(first, dpd=dpd, days=days)
    base_outcome, base_bad = outcome_of(population, dpd=dpd, days=days)
    lift = lift_of(hit_outcome, base_outcome)
    customer_nos = dict(
        Borrower.objects.filter(id__in=list(first)[:LISTED_HITS]).values_list("id", "customer_no")
    )
    by_day = Counter(timezone.localtime(hit.occurred_at).date().isoformat() for hit in hits)
    listed = sorted(hits, key=lambda hit: hit.occurred_at)[:LISTED_HITS]
    return {
        "events_replayed": judged,
        "alerts": len(hits),
        "borrowers": len(first),
        "population": base_outcome.borrowers,
        "hit_bad": hit_outcome.bad,
        "population_bad": base_outcome.bad,
        "hit_bad_rate": hit_outcome.rate,
        "base_rate": base_outcome.rate,
        "lift": lift,
        # Outcomes are known through the book's last day close: borrowers whose window is
        # still open after it are left out of both rates (monitoring.services.outcomes).
        "outcome_incomplete": not matured(end, days=days, through=outcomes_known_through()),
        "result": {
            "by_day": sorted(by_day.items()),
            "hits": [
                {
                    "borrower_id": hit.borrower_id,
                    "customer_no": customer_nos.get(hit.borrower_id, ""),
                    "occurred_at": hit.occurred_at.isoformat(),
                    "went_bad": hit.borrower_id in hit_bad,
                    "key": hit.dedupe_key,
                }
                for hit in listed
            ],
            "listed": len(listed),
        },
    }
