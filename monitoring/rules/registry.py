"""Every rule the product ships: kind -> its logic, parameters, default severity and
category, the events it judges and the lists it reads.

`evaluate` is None for rules judged elsewhere (the ring of linked identities runs
graph-wide in Celery, the multi-lender spike on bureau inquiries): they are registered so
they have a rule row, versions and thresholds like the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, RuleKind, Severity
from monitoring.rules import (
    blocked_card,
    borrow_to_repay,
    foreign_account,
    fund_flow,
    identity,
    new_device,
    off_hours,
    utilisation_jump,
    velocity,
)
from monitoring.rules.base import BorrowerHistory, EventView, Hit
from monitoring.rules.params import Param, params_clean, params_defaults

Evaluate = Callable[[dict[str, Any], BorrowerHistory, EventView], list[Hit]]


def _no_lookback(params: dict[str, Any]) -> timedelta:
    return timedelta(0)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    kind: str
    evaluate: Evaluate | None
    params: tuple[Param, ...]
    severity: int
    category: str
    triggers: frozenset[str]
    lists: tuple[str, ...]
    lookback: Callable[[dict[str, Any]], timedelta]

    @property
    def realtime(self) -> bool:
        """Judged on each event as it is recorded (else elsewhere: Celery, the bureau)."""
        return self.evaluate is not None

    def defaults(self) -> dict[str, Any]:
        return params_defaults(self.params)

    def clean(self, given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        return params_clean(self.params, given)


def _spec(module: Any) -> RuleSpec:
    return RuleSpec(
        kind=module.KIND,
        evaluate=module.evaluate,
        params=module.PARAMS,
        severity=int(module.SEVERITY),
        category=module.CATEGORY,
        triggers=module.TRIGGERS,
        lists=module.LISTS,
        lookback=module.lookback,
    )


# The ring of linked identities (monitoring's graph rule, in Celery) and the multi-lender
# spike (bureau inquiries): thresholds here, logic where their data is.
LINKED_IDENTITIES_PARAMS = (
    Param("ring_size", "int", 3, _("Ring size (K borrowers or more)"), Decimal(3)),
)
MULTI_LENDER_PARAMS = (
    Param("hard_inquiries", "int", 6, _("Hard inquiries (or more)"), Decimal(1)),
    Param("window_days", "int", 30, _("Within (days)"), Decimal(1)),
)

REGISTRY: dict[str, RuleSpec] = {
    spec.kind: spec
    for spec in [
        _spec(velocity),
        _spec(off_hours),
        _spec(borrow_to_repay),
        _spec(fund_flow),
        _spec(foreign_account),
        _spec(utilisation_jump),
        _spec(new_device),
        _spec(blocked_card),
        RuleSpec(
            kind=RuleKind.IDENTITY_MISMATCH,
            evaluate=identity.evaluate_mismatch,
            params=identity.MISMATCH_PARAMS,
            severity=int(identity.MISMATCH_SEVERITY),
            category=identity.CATEGORY,
            triggers=identity.MISMATCH_TRIGGERS,
            lists=(),
            lookback=identity.lookback,
        ),
        RuleSpec(
            kind=RuleKind.SHARED_IDENTITY,
            evaluate=identity.evaluate_shared,
            params=identity.SHARED_PARAMS,
            severity=int(identity.SHARED_SEVERITY),
            category=identity.CATEGORY,
            triggers=identity.SHARED_TRIGGERS,
            lists=(),
            lookback=identity.lookback,
        ),
        RuleSpec(
            kind=RuleKind.LINKED_IDENTITIES,
            evaluate=None,
            params=LINKED_IDENTITIES_PARAMS,
            severity=int(Severity.HIGH),
            category=AlertCategory.FRAUD,
            triggers=frozenset(),
            lists=(),
            lookback=_no_lookback,
        ),
        RuleSpec(
            kind=RuleKind.DRAWDOWN_CHECK_REVIEW,
            evaluate=None,
            params=(),
            severity=int(Severity.MEDIUM),
            category=AlertCategory.CREDIT,
            triggers=frozenset(),
            lists=(),
            lookback=_no_lookback,
        ),
        RuleSpec(
            kind=RuleKind.MULTI_LENDER_SPIKE,
            evaluate=None,
            params=MULTI_LENDER_PARAMS,
            severity=int(Severity.MEDIUM),
            category=AlertCategory.CREDIT,
            triggers=frozenset(),
            lists=(),
            lookback=_no_lookback,
        ),
    ]
}


def rule_spec(kind: str) -> RuleSpec:
    """The shipped rule of this kind (KeyError for a kind the product does not ship)."""
    return REGISTRY[kind]


def register(spec: RuleSpec) -> None:
    """Replace a kind's entry: for the rules judged elsewhere, whose module may bring its
    own parameters (call at import time of that module)."""
    REGISTRY[spec.kind] = spec
