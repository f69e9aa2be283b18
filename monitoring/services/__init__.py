"""Monitoring's services, one module per room: events (ingest from the lending core), and the
rules, alerts, cases and drawdown checks built on them. Import the public names from here."""

from monitoring.services.evaluation import (
    RuleHit,
    events_evaluate,
    events_hits,
    hits_for_views,
    lists_active,
    versions_live,
)
from monitoring.services.events import (
    EVENT_POSTER_ROLES,
    event_ingest,
    event_storage_form,
)
from monitoring.services.rules import (
    RULE_EDITOR_ROLES,
    list_version_activate,
    list_version_draft,
    rule_version_activate,
    rule_version_draft,
    rule_version_retire,
    rule_version_shadow,
    rules_ensure_defaults,
)

__all__ = [
    "EVENT_POSTER_ROLES",
    "RULE_EDITOR_ROLES",
    "RuleHit",
    "event_ingest",
    "event_storage_form",
    "events_evaluate",
    "events_hits",
    "hits_for_views",
    "list_version_activate",
    "list_version_draft",
    "lists_active",
    "rule_version_activate",
    "rule_version_draft",
    "rule_version_retire",
    "rule_version_shadow",
    "rules_ensure_defaults",
    "versions_live",
]
