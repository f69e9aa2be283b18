"""Reads of the rule pages and the rules API: rules with their versions, alert counts, the
precision of a version from its alerts' case dispositions, and its lift since it went live.

Every risk staff member may read these (the views and the API check the role); nothing here
shows personal data beyond the customer number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from monitoring.choices import Disposition, EventKind, RuleKind, RuleVersionStatus
from monitoring.models import Alert, Event, Rule, RuleVersion
from monitoring.models.shadow import Backtest
from monitoring.services.outcomes import Outcome, lift_of, outcome_of

CONFIRMED = (Disposition.CONFIRMED_FRAUD, Disposition.CONFIRMED_CREDIT_RISK)
# The live lift is a book-wide read: kept this long, warmed nightly (rule_live_lift_task).
LIVE_LIFT_SECONDS = 6 * 3600


@dataclass
class Precision:
    """Of a version's alerts whose case was resolved confirmed or false positive, the share
    confirmed. Alerts resolved "other" or still open do not count either way."""

    confirmed: int
    false_positive: int

    @property
    def resolved(self) -> int:
        return self.confirmed + self.false_positive

    @property
    def rate(self) -> Decimal | None:
        if not self.resolved:
            return None
        return (Decimal(self.confirmed) / Decimal(self.resolved)).quantize(
            Decimal("0.0001"), ROUND_HALF_UP
        )


@dataclass
class RuleRow:
    """One line of the rules list."""

    rule: Rule
    active: RuleVersion | None
    shadow: RuleVersion | None
    alerts_7d: int
    alerts_30d: int
    precision: Precision
    lift: Decimal | None


def rule_versions(rule: Rule) -> QuerySet[RuleVersion]:
    """A rule's versions, newest first, with who made and activated them."""
    return rule.versions.select_related("created_by", "activated_by").order_by("-version")


def version_precision(version_ids: list[int]) -> dict[int, Precision]:
    """Precision by version, from its alerts' case dispositions (one grouped query)."""
    rows = (
        Alert.objects.filter(rule_version_id__in=version_ids, case__status="resolved")
        .values("rule_version_id")
        .annotate(
            confirmed=Count("id", filter=Q(case__disposition__in=CONFIRMED)),
            false_positive=Count("id", filter=Q(case__disposition=Disposition.FALSE_POSITIVE)),
        )
    )
    found = {
        row["rule_version_id"]: Precision(row["confirmed"], row["false_positive"]) for row in rows
    }
    return {pk: found.get(pk, Precision(0, 0)) for pk in version_ids}


def rule_rows() -> list[RuleRow]:
    """Every rule with its active and shadow versions, alerts raised in the last 7 and 30
    days (by any version of the rule), the active version's precision and its live lift (if
    computed: the cache, warmed nightly)."""
    now = timezone.now()
    rules = list(
        Rule.objects.annotate(
            alerts_7d=Count(
                "versions__alerts",
                filter=Q(versions__alerts__raised_at__gte=now - timedelta(days=7)),
            ),
            alerts_30d=Count(
                "versions__alerts",
                filter=Q(versions__alerts__raised_at__gte=now - timedelta(days=30)),
            ),
        ).order_by("kind")
    )
    live = {
        (v.rule_id, v.status): v
        for v in RuleVersion.objects.filter(
            status__in=[RuleVersionStatus.ACTIVE, RuleVersionStatus.SHADOW]
        )
    }
    active_ids = [v.pk for (_r, status), v in live.items() if status == RuleVersionStatus.ACTIVE]
    precision = version_precision(active_ids)
    rows = []
    for rule in rules:
        active = live.get((rule.pk, RuleVersionStatus.ACTIVE))
        lifted = cache.get(_lift_key(active.pk)) if active else None
        rows.append(
            RuleRow(
                rule=rule,
                active=active,
                shadow=live.get((rule.pk, RuleVersionStatus.SHADOW)),
                alerts_7d=rule.alerts_7d,
                alerts_30d=rule.alerts_30d,
                precision=precision.get(active.pk, Precision(0, 0)) if active else Precision(0, 0),
                lift=lifted["lift"] if lifted else None,
            )
        )
    return rows


def _lift_key(version_id: int) -> str:
    return f"monitoring:live-lift:{version_id}"


def live_lift(version: RuleVersion, *, refresh: bool = False) -> dict[str, Any]:
    """How the borrowers a live version alerted fared against all the borrowers it judged
    while live: their 30+ DPD rates within 90 days of their first alert (or judged event) and
    the lift. Cached (LIVE_LIFT_SECONDS)."""
    key = _lift_key(version.pk)
    if not refresh and (found := cache.get(key)) is not None:
        return dict(found)
    first_alerts: dict[int, datetime] = dict(
        Alert.objects.filter(rule_version=version)
        .order_by()
        .values("borrower_id")
        .annotate(first=Min("occurred_at"))
        .values_list("borrower_id", "first")
    )
    # The period it was live, by when events were received (a back-filled event received
    # meanwhile was judged by it too): from its activation, or its first alert if earlier (a
    # version activated by the shipped defaults' migration before a test clock), to now.
    since = version.activated_at or version.created_at
    raised = Alert.objects.filter(rule_version=version).aggregate(first=Min("raised_at"))["first"]
    if raised is not None:
        since = min(since, raised)
    until = getattr(version, "retired_at", None) or timezone.now()
    # A history back-filled through the version (the demo's) is judged at the events' own
    # times: from its earliest alert on, what happened counts as judged too.
    earliest = min(first_alerts.values()) if first_alerts else None
    population = _judged_since(version, since, until, occurred_from=earliest)
    for borrower_id, at in first_alerts.items():
        population.setdefault(borrower_id, at)
    hit, _hit_bad = outcome_of(first_alerts)
    base, _base_bad = outcome_of(population)
    # With nobody judged but the alerted there is nothing to compare with.
    comparable = base.borrowers > hit.borrowers
    figures = {
        "alerted": hit.borrowers,
        "alerted_bad": hit.bad,
        "alerted_rate": hit.rate,
        "population": base.borrowers,
        "population_bad": base.bad,
        "base_rate": base.rate,
        "lift": lift_of(hit, base) if comparable else None,
        "computed_at": timezone.now(),
    }
    cache.set(key, figures, LIVE_LIFT_SECONDS)
    return figures


def _judged_since(
    version: RuleVersion, since: datetime, until: datetime, *, occurred_from: datetime | None
) -> dict[int, datetime]:
    from monitoring.rules.registry import rule_spec

    # Received while live (or back-filled from its earliest alert on); each borrower from
    # their first such event's own time.
    judged = Q(received_at__gte=since, received_at__lte=until)
    if occurred_from is not None:
        judged |= Q(occurred_at__gte=occurred_from, occurred_at__lte=until)
    events = Event.objects.filter(judged, borrower__isnull=False)
    triggers = rule_spec(version.rule.kind).triggers
    if triggers and version.rule.kind != RuleKind.LINKED_IDENTITIES:
        events = events.filter(kind__in=sorted(triggers))
    return dict(
        events.order_by()
        .values("borrower_id")
        .annotate(first=Min("occurred_at"))
        .values_list("borrower_id", "first")
    )


def backtests_of(rule: Rule, *, limit: int = 20) -> list[Backtest]:
    """The rule's latest backtests, of any version."""
    return list(
        Backtest.objects.filter(rule_version__rule=rule)
        .select_related("rule_version", "requested_by")
        .order_by("-requested_at", "-id")[:limit]
    )


def outcome_pair(figures: dict[str, Any]) -> tuple[Outcome, Outcome]:
    """The alerted and base outcomes of live_lift's figures, for a chart."""
    return (
        Outcome(figures["alerted"], figures["alerted_bad"]),
        Outcome(figures["population"], figures["population_bad"]),
    )


# --- the test panel --------------------------------------------------------------------------


class SampleInvalid(DomainError):
    code = "sample_invalid"

    def __init__(self, message: str, *, field_name: str) -> None:
        super().__init__(message, field=field_name)


def version_try(
    *,
    version: RuleVersion,
    event_id: str = "",
    customer_no: str = "",
    kind: str = "",
    amount: Decimal | None = None,
    occurred_at: datetime | None = None,
    counterparty_is_lender: bool = False,
) -> list[Any]:
    """The hits `version` gives on a sample event, recording nothing (no alert, no shadow hit,
    no event): a recorded event by its id, or a drawdown / transfer out that did not happen,
    added to the borrower's history as it stood at `occurred_at` (point in time).

    Raises SampleInvalid (unknown event or customer, a rule not judged per event).
    """
    from lending.models import Borrower
    from monitoring.rules.base import DrawdownRec, EventView, TransferRec
    from monitoring.services.evaluation import events_hits, hits_for_views

    if version.rule.kind == RuleKind.LINKED_IDENTITIES:
        raise SampleInvalid(
            str(_("Rings are found book-wide, not on one event: run a backtest.")),
            field_name="version",
        )
    if event_id:
        event = Event.objects.filter(event_id=event_id, borrower__isnull=False).first()
        if event is None:
            raise SampleInvalid(str(_("No recorded event has this id.")), field_name="event_id")
        return events_hits(events=[event], versions=[version])
    borrower = Borrower.objects.filter(customer_no=customer_no).first()
    if borrower is None:
        raise SampleInvalid(
            str(_("No borrower has this customer number.")), field_name="customer_no"
        )
    sample_kinds = {EventKind.DRAWDOWN, EventKind.TRANSFER_OUT}
    if amount is None or occurred_at is None or kind not in sample_kinds:
        raise SampleInvalid(str(_("Give the kind, amount and time.")), field_name="amount")
    label = "TEST-PANEL"
    view = EventView(
        pk=None,
        event_id=label,
        kind=kind,
        borrower_id=borrower.pk,
        occurred_at=occurred_at,
        amount=amount,
        loan_no=label if kind == EventKind.DRAWDOWN else None,
        drawdown_id=-1 if kind == EventKind.DRAWDOWN else None,
        transfer_out_id=-1 if kind == EventKind.TRANSFER_OUT else None,
    )

    def amend(histories: dict[int, Any]) -> None:
        # The sample joins the history it is judged against, as a recorded event would.
        history = histories.get(borrower.pk)
        if history is None:
            return
        if kind == EventKind.DRAWDOWN:
            history.drawdowns.append(DrawdownRec(-1, label, amount, occurred_at, 0, None))
            history.drawdowns.sort(key=lambda d: d.at)
        else:
            history.transfers.append(
                TransferRec(
                    -1, borrower.pk, label, amount, occurred_at, label, "", counterparty_is_lender
                )
            )
            history.transfers.sort(key=lambda t: t.at)

    return hits_for_views(views=[view], versions=[version], amend=amend)
