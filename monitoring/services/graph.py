"""The graph rule: rings of borrowers linked by shared identities, found book-wide.

Borrowers are linked when they share a value of one of these kinds (what lending stores):

- device: a phone (lending.Device.device_id) used by several borrowers;
- network: the IP address a device was last seen from (Device.ip_address), a home Wi-Fi;
- address: the same home address (Borrower.home_address);
- contact: the same emergency contact mobile, or one borrower's contact being another
  borrower's own mobile (both are values of one "phone" namespace).

The linked borrowers form connected components (a borrower-value bipartite graph, solved by
scipy.sparse.csgraph.connected_components). A component of at least `min_ring_size` (K)
borrowers is a ring: each member gets one alert whose evidence is the ring's links.

Why the benign pairs stay below the threshold: a household (a couple: the same address, home
Wi-Fi and one shared phone, each the other's emergency contact) is a component of exactly two
borrowers, and K is never below 3 (RING_MIN_K, the editor's minimum). A value shared by more than
`max_borrowers_per_value` borrowers (a carrier's NAT address, an office Wi-Fi, a placeholder
address) links nobody: it would chain unrelated people into one giant component.

Scale: the database does the grouping (only values shared by 2..cap borrowers come back, a few
percent of the book), Python sees those pairs only, and the component search is linear in
them; a million borrowers take seconds (bench/bench_rings.py prints the figures).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditRow, audit_bulk
from accounts.masking import mask_mobile
from core.errors import DomainError
from lending.models import Borrower, Device
from monitoring.choices import AlertCategory, RuleKind, RuleVersionStatus, Severity
from monitoring.models import Alert, RuleVersion
from monitoring.rules import registry
from monitoring.rules.params import Param, params_clean, params_defaults
from monitoring.signals import alerts_raised

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

LINK_KINDS = ("device", "network", "address", "contact")
LINK_LABELS = {
    "device": _("Shared device"),
    "network": _("Shared network (IP address)"),
    "address": _("Shared home address"),
    "contact": _("Shared emergency contact"),
}
# Below 3 a ring would be a pair, and a household is a pair (module docstring).
RING_MIN_K = 3
# The rule's thresholds as a manager edits them (registered over the registry's placeholder
# entry below, so the editor, the seeding and this module agree).
PARAMS = (
    Param("ring_size", "int", 3, _("Ring size (K borrowers or more)"), Decimal(RING_MIN_K)),
    Param(
        "max_per_value",
        "int",
        30,
        _("Borrowers sharing one value, at most (more is a public network or address)"),
        Decimal(RING_MIN_K),
        Decimal(1000),
    ),
    Param("link_devices", "bool", True, _("Link by shared devices")),
    Param("link_networks", "bool", True, _("Link by shared networks (IP addresses)")),
    Param("link_addresses", "bool", True, _("Link by shared home addresses")),
    Param("link_contacts", "bool", True, _("Link by shared emergency contacts")),
)
LINK_PARAMS = {
    "device": "link_devices",
    "network": "link_networks",
    "address": "link_addresses",
    "contact": "link_contacts",
}
RING_DEFAULTS: dict[str, Any] = params_defaults(PARAMS)
# Links kept in one alert's evidence: a ring of 40 has hundreds of pairs; the first links of
# each shared value tell the story and keep the row small.
EVIDENCE_LINKS = 40

registry.register(
    registry.RuleSpec(
        kind=RuleKind.LINKED_IDENTITIES,
        evaluate=None,
        params=PARAMS,
        severity=int(Severity.HIGH),
        category=AlertCategory.FRAUD,
        triggers=frozenset(),
        lists=(),
        lookback=lambda params: timedelta(0),
    )
)


class RingParamsInvalid(DomainError):
    code = "ring_params_invalid"

    def __init__(self, *, field_name: str, message: str) -> None:
        super().__init__(message, field=field_name)


@dataclass(frozen=True)
class RingParams:
    """The thresholds of one version of the linked-identities rule."""

    min_ring_size: int = 3
    max_borrowers_per_value: int = 30
    link_kinds: tuple[str, ...] = LINK_KINDS


def ring_params(params: Mapping[str, Any]) -> RingParams:
    """A version's params as RingParams, missing keys at their defaults.

    Raises RingParamsInvalid naming the field: a value out of bounds (K below RING_MIN_K:
    pairs are households), a cap below K (no ring could ever form), no kind of link at all.
    """
    cleaned, errors = params_clean(PARAMS, dict(params))
    if errors:
        name, message = sorted(errors.items())[0]
        raise RingParamsInvalid(field_name=name, message=str(message))
    k, cap = int(cleaned["ring_size"]), int(cleaned["max_per_value"])
    if cap < k:
        raise RingParamsInvalid(
            field_name="max_per_value",
            message=str(_("The cap on borrowers per shared value must be at least the ring size.")),
        )
    kinds = tuple(kind for kind in LINK_KINDS if cleaned[LINK_PARAMS[kind]])
    if not kinds:
        raise RingParamsInvalid(
            field_name="link_devices", message=str(_("Choose at least one kind of link."))
        )
    return RingParams(min_ring_size=k, max_borrowers_per_value=cap, link_kinds=kinds)


@dataclass
class Ring:
    """A component of at least K linked borrowers, with the shared values that link them."""

    members: list[int]
    # (kind, masked value, borrower ids sharing it), one per shared value inside the ring.
    links: list[tuple[str, str, list[int]]] = field(default_factory=list)
    # When the ring reached K members: the K-th earliest of its members' first links.
    formed_at: datetime | None = None

    @property
    def anchor(self) -> int:
        """The ring's name in dedupe keys: its lowest borrower id (stable as a ring grows)."""
        return min(self.members)


# --- loading the shared values ---------------------------------------------------------------


def _mask_value(kind: str, value: str) -> str:
    """What evidence shows of a shared value: enough to compare links, never the whole value."""
    if kind == "contact":
        return mask_mobile(value)
    if kind == "network":
        parts = value.split(".")
        return ".".join(parts[:2] + ["*", "*"]) if len(parts) == 4 else value[:6] + "…"
    if kind == "address":
        return value[:6] + "…" if len(value) > 6 else value
    return value[:4] + "…" + value[-2:] if len(value) > 8 else value


def _shared(qs: QuerySet[Any], column: str, cap: int, *, who: str = "borrower") -> QuerySet[Any]:
    """The values of `column` that 2..cap distinct borrowers (`who`) share (GROUP BY in SQL)."""
    shared: QuerySet[Any] = (
        qs.values(column)
        .annotate(n=Count(who, distinct=True))
        .filter(n__gte=2, n__lte=cap)
        .values(column)
    )
    return shared


def shared_values_load(
    *, params: RingParams, as_of: datetime | None = None
) -> list[tuple[int, str, str, datetime]]:
    """Every (borrower id, kind, value, first seen) whose value 2..cap borrowers share.

    Point in time: with `as_of`, only what had been seen by then (a borrower registered, a
    device first seen). The database groups; only shared values come back.
    """
    cap = params.max_borrowers_per_value
    rows: list[tuple[int, str, str, datetime]] = []
    devices = Device.objects.all()
    borrowers = Borrower.objects.all()
    if as_of is not None:
        devices = devices.filter(first_seen_at__lte=as_of)
        borrowers = borrowers.filter(registered_at__lte=as_of)
    if "device" in params.link_kinds:
        shared = _shared(devices, "device_id", cap)
        for borrower_id, value, seen in devices.filter(device_id__in=shared).values_list(
            "borrower_id", "device_id", "first_seen_at"
        ):
            rows.append((borrower_id, "device", value, seen))
    if "network" in params.link_kinds:
        with_ip = devices.exclude(ip_address__isnull=True)
        shared = _shared(with_ip, "ip_address", cap)
        for borrower_id, ip, seen in with_ip.filter(ip_address__in=shared).values_list(
            "borrower_id", "ip_address", "first_seen_at"
        ):
            rows.append((borrower_id, "network", str(ip), seen))
    if "address" in params.link_kinds:
        with_address = borrowers.exclude(home_address="")
        shared = _shared(with_address, "home_address", cap, who="id")
        for borrower_id, value, seen in with_address.filter(home_address__in=shared).values_list(
            "id", "home_address", "registered_at"
        ):
            rows.append((borrower_id, "address", value, seen))
    if "contact" in params.link_kinds:
        rows.extend(_contact_rows(borrowers, cap))
    return rows


def _contact_rows(borrowers: QuerySet[Borrower], cap: int) -> list[tuple[int, str, str, datetime]]:
    """Phone numbers linking borrowers: a contact several borrowers name, or a contact who is
    a borrower (their own mobile). Both are one value space: the phone number."""
    with_contact = borrowers.exclude(emergency_contact_mobile="")
    named_often = _shared(with_contact, "emergency_contact_mobile", cap, who="id")
    is_borrower = with_contact.filter(
        emergency_contact_mobile__in=borrowers.values("mobile")
    ).values("emergency_contact_mobile")
    rows: list[tuple[int, str, str, datetime]] = []
    for query in (named_often, is_borrower):
        for borrower_id, phone, seen in with_contact.filter(
            emergency_contact_mobile__in=query
        ).values_list("id", "emergency_contact_mobile", "registered_at"):
            rows.append((borrower_id, "contact", phone, seen))
    # The borrowers whose own mobile someone names as their contact.
    for borrower_id, phone, seen in borrowers.filter(
        mobile__in=with_contact.values("emergency_contact_mobile")
    ).values_list("id", "mobile", "registered_at"):
        rows.append((borrower_id, "contact", phone, seen))
    return rows


# --- the component search --------------------------------------------------------------------


def rings_find(rows: Sequence[tuple[int, str, str, datetime]], *, params: RingParams) -> list[Ring]:
    """The rings among `rows` (borrower id, kind, value, first seen): components of the
    borrower-value graph with at least K borrowers. Pure: no database.

    1. Deduplicate (borrower, kind, value), keeping the earliest time; drop values that fewer
       than 2 or more than the cap share (the database filtered already; this holds for any
       caller).
    2. Borrowers are nodes 0..B-1, shared values nodes B..B+V-1, one edge per pair;
       scipy's connected_components labels them (linear in the pairs).
    3. Components with >= K borrowers are rings; their links are the shared values inside.
    No pandas: the rows are the shared values only, and plain dicts beat a DataFrame's
    construction and per-group costs at this size.
    """
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # 1. The earliest sighting of each (borrower, value); sharers per value.
    first: dict[tuple[int, str, str], datetime] = {}
    for borrower, kind, value, seen in rows:
        key = (borrower, kind, str(value))
        if key not in first or seen < first[key]:
            first[key] = seen
    sharers: dict[tuple[str, str], int] = {}
    for _borrower, kind, value in first:
        sharers[(kind, value)] = sharers.get((kind, value), 0) + 1
    cap = params.max_borrowers_per_value
    kept = [key for key in first if 2 <= sharers[(key[1], key[2])] <= cap]
    if not kept:
        return []
    # 2. Nodes: borrowers 0..B-1, then values; one edge per kept pair.
    b_index: dict[int, int] = {}
    v_index: dict[tuple[str, str], int] = {}
    b_codes = np.fromiter(
        (b_index.setdefault(b, len(b_index)) for b, _k, _v in kept), dtype=np.int64, count=len(kept)
    )
    v_codes = np.fromiter(
        (v_index.setdefault((k, v), len(v_index)) for _b, k, v in kept),
        dtype=np.int64,
        count=len(kept),
    )
    n_b, n_v = len(b_index), len(v_index)
    graph = coo_matrix(
        (np.ones(len(kept), dtype=np.int8), (b_codes, v_codes + n_b)),
        shape=(n_b + n_v, n_b + n_v),
    )
    _n, labels = connected_components(graph, directed=False)
    borrower_labels = labels[:n_b]
    sizes = np.bincount(borrower_labels)
    # 3. Components of K or more borrowers; their rows in plain Python (they are few).
    ring_labels = set(np.flatnonzero(sizes >= params.min_ring_size).tolist())
    if not ring_labels:
        return []
    label_of = borrower_labels[b_codes].tolist()
    joined: dict[int, dict[int, datetime]] = {}
    sharing: dict[int, dict[tuple[str, str], set[int]]] = {}
    for (borrower, kind, value), label in zip(kept, label_of, strict=True):
        if label not in ring_labels:
            continue
        seen = first[(borrower, kind, value)]
        # When each member first linked to anyone; the ring formed when the K-th did.
        members = joined.setdefault(label, {})
        if borrower not in members or seen < members[borrower]:
            members[borrower] = seen
        sharing.setdefault(label, {}).setdefault((kind, value), set()).add(int(borrower))
    rings: list[Ring] = []
    for label, members in joined.items():
        times = sorted(members.values())
        ring = Ring(
            members=sorted(int(b) for b in members), formed_at=times[params.min_ring_size - 1]
        )
        for (kind, value), who in sorted(sharing[label].items()):
            ring.links.append((kind, _mask_value(kind, value), sorted(who)))
        rings.append(ring)
    rings.sort(key=lambda ring: ring.anchor)
    return rings


def ring_evidence(ring: Ring, customer_nos: Mapping[int, str]) -> dict[str, Any]:
    """What an alert on a ring member records: the ring and the links that make it one."""
    return {
        "ring_size": len(ring.members),
        "members": [
            {"borrower_id": member, "customer_no": customer_nos.get(member, "")}
            for member in ring.members
        ],
        "links": [
            {"kind": kind, "value": value, "borrower_ids": sharing}
            for kind, value, sharing in ring.links[:EVIDENCE_LINKS]
        ],
        "links_total": len(ring.links),
        "formed_at": ring.formed_at.isoformat() if ring.formed_at else None,
    }


# --- the service -----------------------------------------------------------------------------


@dataclass
class RingCheckResult:
    """What one book-wide run found and raised."""

    version_id: int | None
    rings: int = 0
    members: int = 0
    alerts_raised: int = 0
    alert_ids: list[int] = field(default_factory=list)


def linked_identities_version() -> RuleVersion | None:
    """The active, enabled version of the linked-identities rule, if there is one."""
    return (
        RuleVersion.objects.select_related("rule")
        .filter(
            rule__kind=RuleKind.LINKED_IDENTITIES,
            status=RuleVersionStatus.ACTIVE,
            enabled=True,
        )
        .first()
    )


def rings_for_version(version: RuleVersion, *, as_of: datetime | None = None) -> list[Ring]:
    """The rings a version of the rule sees in the book (as of `as_of`, or now). Writes
    nothing: the backtest and the shadow comparison use it too."""
    params = ring_params(version.params)
    return rings_find(shared_values_load(params=params, as_of=as_of), params=params)


@transaction.atomic
def linked_identities_check(*, actor: User | None) -> RingCheckResult:
    """Find the rings in the whole book by the active version and raise one alert per member.

    1. Lock the active version's row: two runs at once (beat and a manual run after seeding)
       queue up rather than both inserting.
    2. Find the rings (rings_for_version).
    3. Insert the alerts that do not exist yet. Each alert's dedupe key names the ring by its
       lowest member (`ring:<id>`), so a re-run raises nothing twice, a member joining a known
       ring gets its own alert, and the old members are not alerted again.
    4. Audit the new alerts (audit_bulk) and send alerts_raised after commit.

    No active version (or a disabled one): nothing is done.
    """
    version = linked_identities_version()
    if version is None:
        return RingCheckResult(version_id=None)
    # Serialize runs of this rule (step 1): the lock is held until this transaction ends.
    version = RuleVersion.objects.select_related("rule").select_for_update().get(pk=version.pk)
    rings = rings_for_version(version)
    result = RingCheckResult(
        version_id=version.pk, rings=len(rings), members=sum(len(r.members) for r in rings)
    )
    if not rings:
        return result
    wanted: dict[tuple[int, str], Ring] = {
        (member, f"ring:{ring.anchor}"): ring for ring in rings for member in ring.members
    }
    existing = set(
        Alert.objects.filter(
            rule_version=version,
            dedupe_key__startswith="ring:",
            borrower_id__in=[b for b, _k in wanted],
        ).values_list("borrower_id", "dedupe_key")
    )
    new_keys = [key for key in wanted if key not in existing]
    if not new_keys:
        return result
    customer_nos = dict(
        Borrower.objects.filter(id__in={b for ring in rings for b in ring.members}).values_list(
            "id", "customer_no"
        )
    )
    now = timezone.now()
    alerts = [
        Alert(
            borrower_id=borrower_id,
            rule_version=version,
            category=version.rule.category,
            severity=version.severity,
            evidence=ring_evidence(wanted[(borrower_id, key)], customer_nos),
            occurred_at=wanted[(borrower_id, key)].formed_at or now,
            raised_at=now,
            dedupe_key=key,
        )
        for borrower_id, key in new_keys
    ]
    created = Alert.objects.bulk_create(alerts, batch_size=1000)
    ids = [alert.pk for alert in created if alert.pk is not None]
    if len(ids) != len(created):
        # SQLite before 3.35 and some backends return no ids from bulk_create: read them back.
        ids = list(
            Alert.objects.filter(
                rule_version=version, dedupe_key__in={k for _b, k in new_keys}, raised_at=now
            ).values_list("id", flat=True)
        )
    audit_bulk(
        [
            AuditRow(
                action="alert.raised",
                obj=alert,
                actor=actor,
                borrower_id=alert.borrower_id,
                after={
                    "rule": version.rule.kind,
                    "version": version.version,
                    "ring_size": alert.evidence["ring_size"],
                },
            )
            for alert in created
        ]
    )
    result.alerts_raised = len(ids)
    result.alert_ids = ids
    # Cases group the alerts once they are committed (monitoring.signals).
    transaction.on_commit(lambda: alerts_raised.send(sender=Alert, alert_ids=ids))
    logger.info("linked identities: %d rings, %d new alerts", len(rings), len(ids))
    return result


def members_of(rows: Iterable[Ring]) -> set[int]:
    """Every borrower in any of the rings."""
    return {member for ring in rows for member in ring.members}
