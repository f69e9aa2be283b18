"""Rule evaluation: events judged against the rule versions, alerts raised once each.

Two forms over the same logic (monitoring.rules):
- `events_evaluate(events=..., write=True)`: the live path. event_ingest calls it inside its
  transaction, after the batch is applied and while it holds the batch's credit-line locks,
  so the answer and the alerts commit together, and two batches of one borrower are judged
  one after the other, the second with the first in its history. Alerts are written in the
  caller's transaction; `alerts_raised` is sent after it commits.
- `events_hits(events=...)`: no writes; the hits of the given versions (default: the live
  ones). For backtests, shadow comparison, the test panel and the demo backfill.

Both judge each event on what had happened by its own occurred_at (monitoring.rules.base).
"""

from __future__ import annotations

import copy
import importlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.prepared import Prepared
from monitoring.choices import EventKind, RuleKind, RuleVersionStatus
from monitoring.models import Alert, Event, RuleVersion
from monitoring.rules.base import BorrowerHistory, EventView, Hit, Lists
from monitoring.rules.history import PREPARED_UP_TO, FlowNeed, Needs, histories_load
from monitoring.rules.live import versions_cached
from monitoring.rules.registry import REGISTRY, rule_spec
from monitoring.services.rules import lists_in_force
from monitoring.signals import alerts_raised

logger = logging.getLogger(__name__)

# How far back a history ever reaches, whatever a version's parameters say: a year, the
# book's back-dating window and a margin (a repetition counted over more is cut here).
MAX_LOOKBACK = timedelta(days=400)


@dataclass(slots=True)
class RuleHit:
    """A hit of one rule version. `severity` is the hit's own (a repetition escalates) or
    the version's; `alert_id` is set when events_evaluate wrote a new alert for it."""

    version: RuleVersion
    hit: Hit
    severity: int
    alert_id: int | None = None

    @property
    def category(self) -> str:
        return self.version.rule.category


def versions_live(*, include_shadow: bool = False) -> list[RuleVersion]:
    """The active, enabled versions of the rules judged on each event (and the versions in
    shadow, when asked), with their rules."""
    statuses = [RuleVersionStatus.ACTIVE]
    if include_shadow:
        statuses.append(RuleVersionStatus.SHADOW)

    def load() -> list[RuleVersion]:
        versions = (
            RuleVersion.objects.filter(status__in=statuses, enabled=True)
            .select_related("rule")
            .order_by()
        )
        return [v for v in versions if v.rule.kind in REGISTRY and rule_spec(v.rule.kind).realtime]

    # Per process, reloaded as soon as any of them changes (monitoring.rules.live).
    return versions_cached(include_shadow=include_shadow, load=load)


def lists_active(start: datetime | None = None, end: datetime | None = None) -> Lists:
    """The active entries of every managed list, normalised, by list kind; with a span of
    event times, also each version in force during it (monitoring.services.rules.
    lists_in_force): a rule judges an event with the list as it stood at the event's time."""
    return lists_in_force(start, end)


def _params(version: RuleVersion) -> dict[str, Any]:
    """The version's parameters over the kind's defaults (a version saved before a parameter
    existed takes its default)."""
    # Cleaned once per instance while its params stay the same (live versions are cached
    # per process, and a judgement asks for them several times).
    known = getattr(version, "_params_cleaned", None)
    if known is not None and known[0] == version.params:
        return dict(known[1])
    spec = rule_spec(version.rule.kind)
    cleaned, errors = spec.clean(version.params or {})
    if errors:
        # Params are checked when a version is drafted; a bad one here is a bug, not input.
        logger.error("Rule version %s has invalid params %s; defaults used.", version.pk, errors)
        cleaned = {**spec.defaults(), **cleaned}
    version._params_cleaned = (copy.deepcopy(version.params), cleaned)  # type: ignore[attr-defined]
    return dict(cleaned)


# The kinds of event that can change a rule's verdict on some event: those it judges, and
# those its history reads (a late one may complete a pattern of a later event).
READS: dict[str, frozenset[str]] = {
    RuleKind.SMALL_DRAWDOWN_VELOCITY: frozenset({EventKind.DRAWDOWN}),
    RuleKind.OFF_HOURS_WITHDRAWAL: frozenset({EventKind.DRAWDOWN}),
    RuleKind.BORROW_TO_REPAY: frozenset({EventKind.DRAWDOWN, EventKind.TRANSFER_OUT}),
    RuleKind.FUND_FLOW_PATH: frozenset(
        {EventKind.DRAWDOWN, EventKind.TRANSFER_OUT, EventKind.REPAYMENT}
    ),
    RuleKind.FOREIGN_REPAYMENT_ACCOUNT: frozenset(
        {EventKind.DRAWDOWN, EventKind.REPAYMENT, EventKind.BANK_ACCOUNT_CHANGE}
    ),
    RuleKind.UTILISATION_JUMP: frozenset({EventKind.DRAWDOWN, EventKind.REPAYMENT}),
    RuleKind.NEW_DEVICE_MAX_DRAWDOWN: frozenset(
        {EventKind.DRAWDOWN, EventKind.LOGIN, EventKind.DEVICE_CHANGE}
    ),
    RuleKind.BLOCKED_CARD: frozenset(
        {EventKind.DRAWDOWN, EventKind.REPAYMENT, EventKind.BANK_ACCOUNT_CHANGE}
    ),
    RuleKind.SHARED_IDENTITY: frozenset({EventKind.LINE_OPENED}),
}


def judged_kinds(version: RuleVersion, params: dict[str, Any] | None = None) -> frozenset[str]:
    """The kinds of event this version judges: its rule's triggers, narrowed by an
    `on_kinds` parameter where the rule has one."""
    spec = rule_spec(version.rule.kind)
    params = params if params is not None else _params(version)
    if "on_kinds" in params:
        return spec.triggers & frozenset(params["on_kinds"])
    return spec.triggers


def relevant_kinds(versions: Sequence[RuleVersion]) -> frozenset[str]:
    """The kinds of event that can change what these versions say (judged or read)."""
    kinds: set[str] = set()
    for version in versions:
        kinds |= judged_kinds(version) | READS.get(version.rule.kind, frozenset())
    return frozenset(kinds)


def _views(events: Iterable[Event | EventView]) -> list[EventView]:
    views = [e if isinstance(e, EventView) else EventView.from_event(e) for e in events]
    return [v for v in views if v.borrower_id is not None]


def hits_for_views(
    *,
    views: Sequence[EventView],
    versions: Sequence[RuleVersion],
    lists: Lists | None = None,
    amend: Callable[[dict[int, BorrowerHistory]], None] | None = None,
) -> list[RuleHit]:
    """The hits of these versions on these events (pure but for the history queries).

    `amend` may add records to the loaded histories before the rules run: the drawdown check
    adds its hypothetical drawdown that way. Events are judged per borrower in event-time
    order; each on what had happened by its own time.
    """
    if not views or not versions:
        return []
    prepared = [(v, rule_spec(v.rule.kind), _params(v)) for v in versions]
    prepared = [(v, s, p) for v, s, p in prepared if s.evaluate is not None]
    judged = {v.pk: judged_kinds(v, p) for v, _s, p in prepared}
    if not any(view.kind in judged[v.pk] for view in views for v, _s, _p in prepared):
        return []
    lookback = max((min(s.lookback(p), MAX_LOOKBACK) for _, s, p in prepared), default=timedelta(0))
    first = min(v.occurred_at for v in views)
    if lists is None:
        lists = lists_active(first - lookback, max(v.occurred_at for v in views))
    kinds = {s.kind for _, s, _p in prepared}
    repayments = [v for v in views if v.kind == EventKind.REPAYMENT]
    flow = None
    if RuleKind.FUND_FLOW_PATH in kinds and repayments:
        flow_params = next(p for _, s, p in prepared if s.kind == RuleKind.FUND_FLOW_PATH)
        window = rule_spec(RuleKind.FUND_FLOW_PATH).lookback(flow_params)
        flow = FlowNeed(
            receivers=frozenset(v.borrower_id for v in repayments),
            start=min(v.occurred_at for v in repayments) - window,
            end=max(v.occurred_at for v in repayments),
            max_hops=max(
                int(p["max_hops"]) for _, s, p in prepared if s.kind == RuleKind.FUND_FLOW_PATH
            ),
        )
    needs = Needs(
        transfers=RuleKind.BORROW_TO_REPAY in kinds,
        own_cards=RuleKind.FOREIGN_REPAYMENT_ACCOUNT in kinds
        and any(v.kind == EventKind.REPAYMENT for v in views),
        same_identity=RuleKind.SHARED_IDENTITY in kinds,
        card_sharers=RuleKind.FOREIGN_REPAYMENT_ACCOUNT in kinds
        and any(v.kind == EventKind.REPAYMENT for v in views),
        flow=flow,
    )
    histories = histories_load(
        borrower_ids={v.borrower_id for v in views},
        since=first - lookback,
        lists=lists,
        needs=needs,
    )
    if amend is not None:
        amend(histories)
    found: list[RuleHit] = []
    for view in sorted(views, key=lambda v: (v.borrower_id, v.occurred_at, v.event_id)):
        history = histories.get(view.borrower_id)
        if history is None:
            continue
        for version, spec, params in prepared:
            if view.kind in judged[version.pk] and spec.evaluate is not None:
                found.extend(
                    RuleHit(version, hit, hit.severity or version.severity)
                    for hit in spec.evaluate(params, history, view)
                )
    return found


def events_hits(
    *,
    events: Iterable[Event | EventView],
    versions: Sequence[RuleVersion] | None = None,
    lists: Lists | None = None,
) -> list[RuleHit]:
    """The hits of `versions` (default: the live ones) on recorded events; writes nothing.

    For a backtest over a past window, a shadow comparison, the test panel or the demo
    backfill. Pass events in chunks of a few thousand: one history load serves a chunk.
    """
    views = _views(events)
    return hits_for_views(
        views=views, versions=versions if versions is not None else versions_live(), lists=lists
    )


def _later_events(views: list[EventView], lookback: timedelta) -> list[EventView]:
    """Events already recorded for these borrowers after the earliest of `views` (within the
    rules' reach): a late event may complete a pattern they were judged on without it."""
    if not views or lookback <= timedelta(0):
        return []
    earliest: dict[int, datetime] = {}
    for view in views:
        if view.borrower_id not in earliest or view.occurred_at < earliest[view.borrower_id]:
            earliest[view.borrower_id] = view.occurred_at
    latest = max(v.occurred_at for v in views) + lookback
    known = tuple(sorted({v.pk for v in views if v.pk is not None}))
    arguments = {
        "ids": tuple(sorted(earliest)),
        "since": min(earliest.values()),
        "until": latest,
        "known": known,
    }
    # Prepared for a single event's few borrowers (no query compiled per event); the
    # QuerySet itself for a batch.
    small = len(earliest) <= PREPARED_UP_TO and len(known) <= PREPARED_UP_TO
    rows = LATER_EVENTS.rows(**arguments) if small else LATER_EVENTS.build(**arguments)
    return [
        EventView.from_event(SimpleNamespace(**row))
        for row in rows
        if row["borrower_id"] is not None and row["occurred_at"] >= earliest[row["borrower_id"]]
    ]


LATER_EVENTS = Prepared(
    lambda ids, since, until, known: (
        Event.objects.filter(borrower_id__in=ids, occurred_at__gte=since, occurred_at__lte=until)
        .exclude(pk__in=known)
        .order_by()
        .values("pk", "event_id", "kind", "borrower_id", "occurred_at", "payload", "result")
    ),
    {"ids": "ints", "since": "at", "until": "at", "known": "ints"},
)


@transaction.atomic
def events_evaluate(
    *,
    events: Iterable[Event | EventView],
    versions: Sequence[RuleVersion] | None = None,
    write: bool = True,
    rejudge_later: bool = True,
) -> list[RuleHit]:
    """Judge recorded events against the live rule versions (or `versions`) and raise an
    alert for each new hit, in the caller's transaction.

    1. Events already recorded for the same borrowers later than these (within the rules'
       reach) are judged again with these in their history: a late or back-filled event may
       complete a pattern (the velocity of a burst posted in two racing batches).
    2. Each hit whose (borrower, dedupe key) has no alert yet, under any version of its rule,
       becomes an alert (rule version, category, severity, evidence, the event). A replayed
       or re-judged event raises nothing twice; the unique constraint settles a race with a
       concurrent transaction (ON CONFLICT DO NOTHING).
    3. After commit, `alerts_raised(alert_ids=[...])` for the new alerts (cases group them).
    With versions=None, the versions in shadow are judged too and their hits handed to
    monitoring.services.shadow.shadow_hits_record (if present); they raise no alerts.
    Returns every hit of the versions that raise alerts; new ones carry alert_id.
    A backfill that judges every recorded event anyway, in chunks, passes
    rejudge_later=False: step 1 would only judge the following chunks' events twice.
    The caller holds the borrowers' line locks (event_ingest does), which orders two
    evaluations of one borrower.
    """
    live = list(versions) if versions is not None else versions_live(include_shadow=True)
    relevant = relevant_kinds(live)
    views = [v for v in _views(events) if v.kind in relevant]
    if not views or not live:
        return []
    lookback = max(
        (min(rule_spec(v.rule.kind).lookback(_params(v)), MAX_LOOKBACK) for v in live),
        default=timedelta(0),
    )
    if rejudge_later:
        views += _later_events(views, lookback)
    hits = hits_for_views(views=views, versions=live)
    shadow = [h for h in hits if h.version.status == RuleVersionStatus.SHADOW]
    raising = [h for h in hits if h.version.status != RuleVersionStatus.SHADOW]
    if shadow and versions is None:
        _shadow_record(shadow)
    if write and raising:
        _alerts_write(raising)
    return raising


def _shadow_record(hits: list[RuleHit]) -> None:
    """Hand shadow hits to the shadow service, when there is one (it stores and compares)."""
    try:
        module = importlib.import_module("monitoring.services.shadow")
    except ImportError:
        return
    record = getattr(module, "shadow_hits_record", None)
    if record is not None:
        record(hits=hits)


def _alerts_write(hits: list[RuleHit]) -> list[int]:
    """Write the alerts of hits not raised before; returns the new alerts' ids."""
    now = timezone.now()
    keys = {(h.hit.borrower_id, h.hit.dedupe_key) for h in hits}
    existing = set(
        Alert.objects.filter(
            borrower_id__in={b for b, _ in keys}, dedupe_key__in={k for _, k in keys}
        ).values_list("borrower_id", "dedupe_key")
    )
    fresh: list[Alert] = []
    for rule_hit in hits:
        hit = rule_hit.hit
        key = (hit.borrower_id, hit.dedupe_key)
        if key in existing:
            continue
        existing.add(key)
        fresh.append(
            Alert(
                borrower_id=hit.borrower_id,
                rule_version=rule_hit.version,
                category=rule_hit.category,
                severity=rule_hit.severity,
                evidence=hit.evidence,
                event_id=hit.event_pk,
                occurred_at=hit.occurred_at,
                raised_at=now,
                dedupe_key=hit.dedupe_key,
            )
        )
    if not fresh:
        return []
    # ignore_conflicts: a concurrent transaction (another borrower's batch raising the same
    # fund-flow hit on a shared originator) may have inserted the same key first.
    Alert.objects.bulk_create(fresh, ignore_conflicts=True)
    ids_by_key = defaultdict(list)
    for pk, borrower_id, dedupe_key in Alert.objects.filter(
        borrower_id__in={a.borrower_id for a in fresh},
        dedupe_key__in={a.dedupe_key for a in fresh},
        raised_at=now,
    ).values_list("pk", "borrower_id", "dedupe_key"):
        ids_by_key[(borrower_id, dedupe_key)].append(pk)
    ids: list[int] = []
    for rule_hit in hits:
        found = ids_by_key.get((rule_hit.hit.borrower_id, rule_hit.hit.dedupe_key))
        if found and rule_hit.alert_id is None:
            rule_hit.alert_id = found[0]
            ids.append(found[0])
    ids = sorted(set(ids))
    if ids:
        # Cases group the alerts once they are committed (a receiver queues the work).
        transaction.on_commit(lambda: alerts_raised.send(sender=Alert, alert_ids=ids))
    return ids
