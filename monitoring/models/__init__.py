"""Monitoring's records: events from the lending core, rules and their versions, the alerts
they raise, and the cases analysts work. One module per room; import from here."""

from monitoring.models.alerts import Alert, Rule, RuleVersion
from monitoring.models.cases import Case, CaseComment, CaseEvidence, Queue
from monitoring.models.checks import DrawdownCheck
from monitoring.models.events import Event
from monitoring.models.lists import ListVersion, ManagedList
from monitoring.models.shadow import Backtest, ShadowHit

__all__ = [
    "Alert",
    "Backtest",
    "Case",
    "CaseComment",
    "CaseEvidence",
    "DrawdownCheck",
    "Event",
    "ListVersion",
    "ManagedList",
    "Queue",
    "Rule",
    "RuleVersion",
    "ShadowHit",
]
