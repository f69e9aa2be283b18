"""Shadow versions: a draft promoted to "shadow" is judged on live events beside the active
version; its hits are stored (ShadowHit), never raised as alerts, and compared with the active
version's alerts on the rule page.

How it is fed: the live path (monitoring.services.evaluation.events_evaluate, inside event
ingestion) judges the versions in shadow beside the active ones, on the same histories, point
in time, and hands their hits to shadow_hits_record, which stores them in the same
transaction. The ring rule's shadow version is judged book-wide after the active one
(shadow_rings_record, in the nightly task).

Matching: a rule names each hit (its dedupe key: the loan that completed a burst, the ring's
lowest member), so a shadow hit and an active alert with the same borrower and key are "the
same hit". Both / only shadow / only active is counted from the moment the version entered
shadow (RuleVersion.shadow_from).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from monitoring.choices import RuleKind, RuleVersionStatus
from monitoring.models import Alert, RuleVersion
from monitoring.models.shadow import ShadowHit

if TYPE_CHECKING:
    from monitoring.services.evaluation import RuleHit

logger = logging.getLogger(__name__)

# Hits listed per column of the comparison (the counts cover them all).
LISTED = 50


def shadow_hits_record(*, hits: Sequence[RuleHit]) -> int:
    """Store the hits of versions in shadow; returns how many were new. Writes no alert.

    Called by monitoring.services.evaluation.events_evaluate inside the ingest transaction
    (the live path judges shadow versions beside the active ones and hands their hits here),
    so a batch's shadow hits commit with it. A replayed or re-judged event stores nothing twice
    (unique version, borrower and key).
    """
    now = timezone.now()
    rows = [
        ShadowHit(
            rule_version=rule_hit.version,
            borrower_id=rule_hit.hit.borrower_id,
            event_id=rule_hit.hit.event_pk,
            occurred_at=rule_hit.hit.occurred_at,
            recorded_at=now,
            severity=rule_hit.severity,
            evidence=rule_hit.hit.evidence,
            dedupe_key=rule_hit.hit.dedupe_key[:128],
        )
        for rule_hit in hits
        if rule_hit.version.status == RuleVersionStatus.SHADOW
    ]
    return _store(rows)


def _store(rows: Sequence[ShadowHit]) -> int:
    if not rows:
        return 0
    keys = {(r.rule_version_id, r.borrower_id, r.dedupe_key) for r in rows}
    with transaction.atomic():
        known = set(
            ShadowHit.objects.filter(
                rule_version_id__in={k[0] for k in keys},
                borrower_id__in={k[1] for k in keys},
                dedupe_key__in={k[2] for k in keys},
            ).values_list("rule_version_id", "borrower_id", "dedupe_key")
        )
        fresh: dict[tuple[int, int, str], ShadowHit] = {}
        for row in rows:
            key = (row.rule_version_id, row.borrower_id, row.dedupe_key)
            if key not in known:
                fresh.setdefault(key, row)
        # A concurrent batch may store the same hit first: the unique constraint turns the
        # second away rather than failing the ingest.
        ShadowHit.objects.bulk_create(list(fresh.values()), ignore_conflicts=True, batch_size=1000)
        return len(fresh)


def shadow_rings_record() -> int:
    """The ring rule's version in shadow, judged book-wide like the active one (after it, in
    the same nightly task): its rings' members stored as shadow hits."""
    from monitoring.services.graph import rings_for_version

    version = (
        RuleVersion.objects.select_related("rule")
        .filter(
            rule__kind=RuleKind.LINKED_IDENTITIES, status=RuleVersionStatus.SHADOW, enabled=True
        )
        .first()
    )
    if version is None:
        return 0
    now = timezone.now()
    rows = [
        ShadowHit(
            rule_version=version,
            borrower_id=member,
            occurred_at=ring.formed_at or now,
            recorded_at=now,
            severity=version.severity,
            evidence={"ring_size": len(ring.members), "members": ring.members[:50]},
            dedupe_key=f"ring:{ring.anchor}",
        )
        for ring in rings_for_version(version)
        for member in ring.members
    ]
    return _store(rows)


@dataclass
class ShadowComparison:
    """A shadow version's hits beside the active version's alerts since it entered shadow."""

    shadow: RuleVersion
    active: RuleVersion | None
    since: datetime | None
    both: int = 0
    only_shadow: int = 0
    only_active: int = 0
    # Up to LISTED of each: (borrower id, customer no, occurred at, key).
    rows_both: list[dict[str, Any]] = field(default_factory=list)
    rows_only_shadow: list[dict[str, Any]] = field(default_factory=list)
    rows_only_active: list[dict[str, Any]] = field(default_factory=list)


def shadow_comparison(*, shadow: RuleVersion) -> ShadowComparison:
    """Compare a version in shadow (or one that was, while it was) with the alerts the rule
    raised over the same period: hits in both, only in shadow, only as alerts. Alerts of any
    version of the rule count (a hit is alerted once, whichever version raised it first)."""
    active = (
        RuleVersion.objects.filter(rule_id=shadow.rule_id, status=RuleVersionStatus.ACTIVE)
        .exclude(pk=shadow.pk)
        .first()
    )
    since = getattr(shadow, "shadow_from", None) or shadow.created_at
    until = getattr(shadow, "activated_at", None) or getattr(shadow, "retired_at", None)
    # By when they were judged, not by the events' own times: the shadow period is the live
    # events received meanwhile, back-dated ones among them.
    hits = ShadowHit.objects.filter(rule_version=shadow, recorded_at__gte=since)
    alerts = Alert.objects.none()
    if active is not None:
        alerts = Alert.objects.filter(rule_version__rule_id=shadow.rule_id, raised_at__gte=since)
    if until is not None:
        hits = hits.filter(recorded_at__lte=until)
        alerts = alerts.filter(raised_at__lte=until)
    shadow_rows = {
        (b, k): (at, c)
        for b, k, at, c in hits.values_list(
            "borrower_id", "dedupe_key", "occurred_at", "borrower__customer_no"
        )
    }
    active_rows = {
        (b, k): (at, c)
        for b, k, at, c in alerts.values_list(
            "borrower_id", "dedupe_key", "occurred_at", "borrower__customer_no"
        )
    }
    out = ShadowComparison(shadow=shadow, active=active, since=since)

    def listed(keys: set[tuple[int, str]], source: dict[Any, Any]) -> list[dict[str, Any]]:
        ordered = sorted(keys, key=lambda key: source[key][0], reverse=True)[:LISTED]
        return [
            {
                "borrower_id": key[0],
                "customer_no": source[key][1],
                "occurred_at": source[key][0],
                "key": key[1],
            }
            for key in ordered
        ]

    both = set(shadow_rows) & set(active_rows)
    only_shadow = set(shadow_rows) - both
    only_active = set(active_rows) - both
    out.both, out.only_shadow, out.only_active = len(both), len(only_shadow), len(only_active)
    out.rows_both = listed(both, shadow_rows)
    out.rows_only_shadow = listed(only_shadow, shadow_rows)
    out.rows_only_active = listed(only_active, active_rows)
    return out
