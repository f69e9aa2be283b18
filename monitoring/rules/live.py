"""The rule versions judged on every event, kept per process while they stay the same.

Event ingestion judges every batch (and every single event) against the live versions. Each
judgement reads the versions' identity (one small query, no join): while it is what this
process saw last, the versions built then are reused, with their parameters already checked
against the rule's defaults; as soon as a version is activated, put in shadow, retired,
enabled or disabled, or its parameters or severity change (by a service or by a plain
UPDATE), the next judgement sees a different signature and loads them again. Nothing is
kept across processes, and nothing needs to be told of a change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from core.prepared import Prepared
from monitoring.choices import RuleVersionStatus
from monitoring.models import RuleVersion

Signature = list[tuple[Any, ...]]

_lock = threading.Lock()
_cache: dict[tuple[str, ...], tuple[Signature, list[RuleVersion]]] = {}


# What a cached set of versions must still match: every version in these statuses, with
# everything a judgement reads of it and of its rule. Read on every judgement, so precompiled.
SIGNATURE = Prepared(
    lambda statuses: (
        RuleVersion.objects.filter(status__in=statuses)
        .order_by("pk")
        .values_list(
            "pk",
            "status",
            "enabled",
            "severity",
            "params",
            "rule_id",
            "rule__kind",
            "rule__category",
        )
    ),
    {"statuses": "strs"},
)


def _signature(statuses: Sequence[str]) -> Signature:
    return SIGNATURE.rows(statuses=tuple(statuses))


def versions_cached(
    *, include_shadow: bool, load: Callable[[], list[RuleVersion]]
) -> list[RuleVersion]:
    """The live versions (and those in shadow, when asked), from this process's cache when
    the database still has them as they were, else from `load()` (then kept).

    The instances are shared between calls: callers read them and do not change them.
    """
    statuses: tuple[str, ...] = (RuleVersionStatus.ACTIVE,)
    if include_shadow:
        statuses += (RuleVersionStatus.SHADOW,)
    signature = _signature(statuses)
    with _lock:
        cached = _cache.get(statuses)
    if cached is not None and cached[0] == signature:
        return list(cached[1])
    versions = load()
    # Kept under the signature read before loading: a change in between makes the next call
    # read another signature and load again, never keep stale versions as current.
    with _lock:
        _cache[statuses] = (signature, versions)
    return list(versions)


def versions_cache_clear() -> None:
    """Forget the cached versions (tests; nothing else needs to)."""
    with _lock:
        _cache.clear()
