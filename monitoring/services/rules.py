"""Rule versions and managed lists: drafted, put in shadow, activated, retired; audited.

Who: a manager, the head of risk or an administrator (RULE_EDITOR_ROLES) drafts and
activates. The issue asks that thresholds a manager edits take effect only as a new
version; a manager may activate their own draft (no four-eyes here: a rule raises alerts for
people to look at, it moves no money or limit), and every step is an audit row naming who.
A version is never edited once drafted: a change is the next version.

Steps of a version: draft -> (shadow ->) active -> retired. Activating retires the version
that was active; at most one version of a rule is active and at most one in shadow
(database constraints). Lists follow the same steps without shadow.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.audit import audit
from accounts.choices import Role
from core.prepared import Prepared
from monitoring.choices import ListKind, RuleKind, RuleVersionStatus
from monitoring.errors.rules import (
    ListEntriesInvalid,
    RuleEditNotAllowed,
    RuleParamsInvalid,
    RuleVersionWrongStatus,
)
from monitoring.models import ListVersion, ManagedList, Rule, RuleVersion
from monitoring.rules.base import Lists, normalise
from monitoring.rules.registry import REGISTRY, rule_spec

if TYPE_CHECKING:
    from accounts.models import User

RULE_EDITOR_ROLES = frozenset({Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN})
LIST_ENTRY_MAX = 100


def _require_editor(actor: User | None) -> None:
    # actor None is the system (a migration, the demo seeder, a command).
    if actor is not None and not (actor.is_active and actor.role in RULE_EDITOR_ROLES):
        raise RuleEditNotAllowed()


def _version_state(version: RuleVersion) -> dict[str, Any]:
    return {
        "rule": version.rule.kind,
        "version": version.version,
        "status": version.status,
        "enabled": version.enabled,
        "severity": version.severity,
        "params": version.params,
    }


@transaction.atomic
def rules_ensure_defaults(*, actor: User | None = None) -> list[RuleVersion]:
    """Every shipped rule with a first active version at the default thresholds, and every
    managed list with an empty active first version. Idempotent: a rule or list that
    exists is left as it is. Returns the versions created."""
    created: list[RuleVersion] = []
    now = timezone.now()
    existing = set(Rule.objects.values_list("kind", flat=True))
    for kind, spec in REGISTRY.items():
        if kind in existing:
            continue
        rule = Rule.objects.create(kind=kind, category=spec.category)
        version = RuleVersion.objects.create(
            rule=rule,
            version=1,
            params=spec.defaults(),
            severity=spec.severity,
            enabled=True,
            status=RuleVersionStatus.ACTIVE,
            note="Shipped defaults.",
            created_at=now,
            created_by=actor,
            activated_at=now,
            activated_by=actor,
        )
        audit(
            actor=actor, action="rule.version_activated", obj=version, after=_version_state(version)
        )
        created.append(version)
    lists = set(ManagedList.objects.values_list("kind", flat=True))
    for kind in ListKind.values:
        if kind in lists:
            continue
        managed = ManagedList.objects.create(kind=kind)
        ListVersion.objects.create(
            managed_list=managed,
            version=1,
            entries=[],
            status=RuleVersionStatus.ACTIVE,
            created_at=now,
            created_by=actor,
            activated_at=now,
            activated_by=actor,
        )
    return created


@transaction.atomic
def rule_version_draft(
    *,
    actor: User | None,
    rule: Rule,
    params: dict[str, Any],
    severity: int | None = None,
    enabled: bool = True,
    note: str = "",
) -> RuleVersion:
    """Draft the next version of a rule with these thresholds (missing ones take the current
    active version's, then the defaults).

    Raises RuleEditNotAllowed for a role that may not change rules, RuleParamsInvalid
    (extra["errors"] by parameter) for a threshold that is not valid.
    """
    _require_editor(actor)
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    spec = rule_spec(rule.kind)
    active = rule.versions.filter(status=RuleVersionStatus.ACTIVE).first()
    base = dict(active.params) if active else {}
    cleaned, errors = spec.clean(
        {**{k: v for k, v in base.items() if k in {p.name for p in spec.params}}, **params}
    )
    if severity is not None and severity not in {1, 2, 3, 4}:
        errors["severity"] = "1-4"
    if errors:
        raise RuleParamsInvalid(fields=", ".join(sorted(errors)), errors=errors)
    number = (rule.versions.aggregate(top=Max("version"))["top"] or 0) + 1
    version = RuleVersion.objects.create(
        rule=rule,
        version=number,
        params=cleaned,
        severity=severity
        if severity is not None
        else (active.severity if active else spec.severity),
        enabled=enabled,
        status=RuleVersionStatus.DRAFT,
        note=note,
        created_at=timezone.now(),
        created_by=actor,
    )
    audit(
        actor=actor,
        action="rule.version_drafted",
        obj=version,
        after=_version_state(version),
        note=note,
    )
    return version


def _locked_version(version: RuleVersion) -> RuleVersion:
    # Lock the rule first, then the version: the fixed order of every change to a rule.
    Rule.objects.select_for_update().get(pk=version.rule_id)
    return RuleVersion.objects.select_for_update().select_related("rule").get(pk=version.pk)


def _require_status(version: RuleVersion, *allowed: str, needed: str) -> None:
    if version.status not in allowed:
        raise RuleVersionWrongStatus(
            version=version.version, status=version.get_status_display(), needed=needed
        )


@transaction.atomic
def rule_version_shadow(*, actor: User | None, version: RuleVersion) -> RuleVersion:
    """Run a draft in shadow: judged on live events beside the active version, its hits
    stored and compared (monitoring.services.shadow), no alerts. A version already in
    shadow for the rule goes back to draft.

    Raises RuleEditNotAllowed, RuleVersionWrongStatus (not a draft).
    """
    _require_editor(actor)
    version = _locked_version(version)
    _require_status(version, RuleVersionStatus.DRAFT, needed=str(RuleVersionStatus.DRAFT.label))
    before = _version_state(version)
    RuleVersion.objects.filter(rule_id=version.rule_id, status=RuleVersionStatus.SHADOW).update(
        status=RuleVersionStatus.DRAFT
    )
    version.status = RuleVersionStatus.SHADOW
    version.shadow_from = timezone.now()
    version.save(update_fields=["status", "shadow_from"])
    audit(
        actor=actor,
        action="rule.version_shadowed",
        obj=version,
        before=before,
        after=_version_state(version),
    )
    return version


@transaction.atomic
def rule_version_activate(
    *, actor: User | None, version: RuleVersion, note: str = ""
) -> RuleVersion:
    """Make a draft or shadow version the live one; the version active until now retires.
    From the commit on, events are judged by it (alerts raised before keep their version).

    Raises RuleEditNotAllowed, RuleVersionWrongStatus (active already, or retired).
    """
    _require_editor(actor)
    version = _locked_version(version)
    _require_status(
        version,
        RuleVersionStatus.DRAFT,
        RuleVersionStatus.SHADOW,
        needed=f"{RuleVersionStatus.DRAFT.label} / {RuleVersionStatus.SHADOW.label}",
    )
    now = timezone.now()
    before = _version_state(version)
    previous = RuleVersion.objects.filter(
        rule_id=version.rule_id, status=RuleVersionStatus.ACTIVE
    ).first()
    if previous is not None:
        previous.status = RuleVersionStatus.RETIRED
        previous.retired_at = now
        previous.save(update_fields=["status", "retired_at"])
    version.status = RuleVersionStatus.ACTIVE
    version.activated_at = now
    version.activated_by = actor
    version.save(update_fields=["status", "activated_at", "activated_by"])
    audit(
        actor=actor,
        action="rule.version_activated",
        obj=version,
        before={**before, "replaced_version": previous.version if previous else None},
        after=_version_state(version),
        note=note,
    )
    return version


@transaction.atomic
def rule_version_retire(*, actor: User | None, version: RuleVersion, note: str = "") -> RuleVersion:
    """Take a version out of service (a draft abandoned, a shadow stopped, or the active
    version switched off: the rule then judges nothing until another is activated).

    Raises RuleEditNotAllowed, RuleVersionWrongStatus (retired already).
    """
    _require_editor(actor)
    version = _locked_version(version)
    _require_status(
        version,
        RuleVersionStatus.DRAFT,
        RuleVersionStatus.SHADOW,
        RuleVersionStatus.ACTIVE,
        needed=str(RuleVersionStatus.ACTIVE.label),
    )
    before = _version_state(version)
    version.status = RuleVersionStatus.RETIRED
    version.retired_at = timezone.now()
    version.save(update_fields=["status", "retired_at"])
    audit(
        actor=actor,
        action="rule.version_retired",
        obj=version,
        before=before,
        after=_version_state(version),
        note=note,
    )
    return version


# --- managed lists ----------------------------------------------------------------------------


def _entry_set(values: list[Any] | None) -> frozenset[str]:
    return frozenset(normalise(str(v)) for v in values or [] if str(v).strip())


def _lists_in_span(start: datetime | None, end: datetime | None) -> QuerySet[ListVersion, Any]:
    """The list versions lists_in_force reads: the active ones, and with a span, every one in
    force at some moment of it."""
    in_span = Q(status=RuleVersionStatus.ACTIVE)
    if start is not None and end is not None:
        in_span |= Q(activated_at__isnull=False, activated_at__lte=end) & (
            Q(retired_at__isnull=True) | Q(retired_at__gt=start)
        )
    return (
        ListVersion.objects.filter(in_span)
        .exclude(status=RuleVersionStatus.DRAFT)
        .order_by("activated_at", "version")
        .values_list("managed_list__kind", "status", "activated_at", "retired_at", "entries")
    )


# Read for every judgement (each event, each drawdown check): precompiled.
LISTS_IN_SPAN = Prepared(_lists_in_span, {"start": "at", "end": "at"})


def lists_in_force(start: datetime | None = None, end: datetime | None = None) -> Lists:
    """The managed lists for judging events that occurred in [start, end]: the active
    versions' entries, and every version in force at some moment of the span (activated by
    `end`, not retired before `start`), so each event is judged with the version in force at
    its own time (Lists.has(..., at=)). Without a span, the active versions only. One query;
    a span of a day reads one or two versions a list."""
    entries: dict[str, frozenset[str]] = {}
    versions: dict[str, list[tuple[datetime, datetime | None, frozenset[str]]]] = {}
    if start is not None and end is not None:
        rows = LISTS_IN_SPAN.rows(start=start, end=end)
    else:
        rows = list(_lists_in_span(None, None))
    for kind, status, activated_at, retired_at, values in rows:
        found = _entry_set(values)
        if status == RuleVersionStatus.ACTIVE:
            entries[kind] = found
        if start is not None and end is not None and activated_at is not None:
            versions.setdefault(kind, []).append((activated_at, retired_at, found))
    if start is None or end is None:
        return Lists(entries)
    return Lists(entries, {kind: tuple(found) for kind, found in versions.items()})


def _entries_clean(entries: list[Any]) -> list[str]:
    bad = [e for e in entries if not isinstance(e, str) or len(e.strip()) > LIST_ENTRY_MAX]
    if bad:
        raise ListEntriesInvalid(count=len(bad))
    return sorted({normalise(e) for e in entries if e.strip()})


@transaction.atomic
def list_version_draft(
    *, actor: User | None, managed_list: ManagedList, entries: list[Any], note: str = ""
) -> ListVersion:
    """Draft the next version of a list with these entries (the whole list, normalised:
    trimmed, case-folded; duplicates dropped).

    Raises RuleEditNotAllowed, ListEntriesInvalid.
    """
    _require_editor(actor)
    managed_list = ManagedList.objects.select_for_update().get(pk=managed_list.pk)
    cleaned = _entries_clean(entries)
    number = (managed_list.versions.aggregate(top=Max("version"))["top"] or 0) + 1
    version = ListVersion.objects.create(
        managed_list=managed_list,
        version=number,
        entries=cleaned,
        note=note,
        created_at=timezone.now(),
        created_by=actor,
    )
    audit(
        actor=actor,
        action="list.version_drafted",
        obj=version,
        after={"list": managed_list.kind, "version": number, "entries": len(cleaned)},
        note=note,
    )
    return version


@transaction.atomic
def list_version_activate(*, actor: User | None, version: ListVersion) -> ListVersion:
    """Make a drafted list version the one rules read; the active one retires.

    Raises RuleEditNotAllowed, RuleVersionWrongStatus (not a draft).
    """
    _require_editor(actor)
    ManagedList.objects.select_for_update().get(pk=version.managed_list_id)
    version = (
        ListVersion.objects.select_for_update().select_related("managed_list").get(pk=version.pk)
    )
    if version.status != RuleVersionStatus.DRAFT:
        raise RuleVersionWrongStatus(
            version=version.version,
            status=version.get_status_display(),
            needed=str(RuleVersionStatus.DRAFT.label),
        )
    now = timezone.now()
    previous = ListVersion.objects.filter(
        managed_list_id=version.managed_list_id, status=RuleVersionStatus.ACTIVE
    ).first()
    if previous is not None:
        previous.status = RuleVersionStatus.RETIRED
        previous.retired_at = now
        previous.save(update_fields=["status", "retired_at"])
    version.status = RuleVersionStatus.ACTIVE
    version.activated_at = now
    version.activated_by = actor
    version.save(update_fields=["status", "activated_at", "activated_by"])
    audit(
        actor=actor,
        action="list.version_activated",
        obj=version,
        before={"version": previous.version if previous else None},
        after={
            "list": version.managed_list.kind,
            "version": version.version,
            "entries": len(version.entries),
        },
    )
    return version


def rule_for_kind(kind: RuleKind | str) -> Rule:
    """The rule row of a kind (after rules_ensure_defaults)."""
    return Rule.objects.get(kind=kind)
