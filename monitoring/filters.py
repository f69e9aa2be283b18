"""The case and alert lists' filters: one FilterSet each for the HTML pages, the CSV export,
the bulk actions and the API, so the five cannot disagree on which rows a filter means.

A bulk action re-applies exactly these filters on the server (monitoring.services.cases
cases_bulk_assign / cases_bulk_close): the form carries the filter, never a list of ids.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import F, OrderBy, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, CaseStatus, QueueKind, RuleKind, Severity
from monitoring.models import Alert, Case, Queue

# A case is near breach when less than this share of its queue's SLA is left, or less than
# NEAR_BREACH_MIN, whichever is longer (a 4-hour fraud SLA warns an hour ahead, a 72-hour
# dispute SLA about 14 hours ahead).
NEAR_BREACH_SHARE = Decimal("0.2")
NEAR_BREACH_MIN = timedelta(hours=1)

# Any status but resolved: the default of the case pages.
ACTIVE = "active"
STATUS_CHOICES = [(ACTIVE, _("Not resolved")), *CaseStatus.choices]

# Statuses whose SLA clock is not running: resolved, and waiting for the borrower (paused:
# the due time moves on when the documents come in; monitoring.services.cases.sla_resume).
SLA_STOPPED = (CaseStatus.RESOLVED, CaseStatus.WAITING)

OVERDUE = "overdue"
NEAR_BREACH = "near_breach"
AT_RISK = "at_risk"
SLA_CHOICES = [
    (OVERDUE, _("Overdue")),
    (NEAR_BREACH, _("Near breach")),
    (AT_RISK, _("Overdue or near breach")),
]

# Sort keys: what the analyst asked for, each with a deterministic tie-break (id).
SORTS: dict[str, tuple[str | OrderBy, ...]] = {
    "priority": ("-priority", "due_at", "id"),
    # Cases waiting for the borrower (clock paused) after those whose clock runs.
    "due": (F("waiting_since").asc(nulls_first=True), "due_at", "-priority", "id"),
    "-due": (F("waiting_since").asc(nulls_first=True), "-due_at", "-priority", "-id"),
    "age": ("opened_at", "id"),  # oldest first
    "-age": ("-opened_at", "-id"),  # newest first
    "amount": ("-exposure", "-priority", "id"),  # largest first
    "-amount": ("exposure", "-priority", "id"),
}
SORT_CHOICES = [
    ("priority", _("Priority (highest first)")),
    ("due", _("Due (soonest first)")),
    ("-due", _("Due (latest first)")),
    ("age", _("Age (oldest first)")),
    ("-age", _("Age (newest first)")),
    ("amount", _("Amount (largest first)")),
    ("-amount", _("Amount (smallest first)")),
]


def near_breach_threshold(sla_hours: int) -> timedelta:
    """How long before its due time a case of a queue with this SLA counts as near breach."""
    share = timedelta(hours=float(Decimal(sla_hours) * NEAR_BREACH_SHARE))
    return max(share, NEAR_BREACH_MIN)


def near_breach_q(now: Any) -> Q:
    """Not yet overdue, but due within the queue's near-breach threshold (one term per queue:
    the SLA differs by queue, and there are four)."""
    condition = Q(pk__in=[])
    for queue_id, sla_hours in Queue.objects.values_list("pk", "sla_hours"):
        condition |= Q(queue_id=queue_id, due_at__lt=now + near_breach_threshold(sla_hours))
    return condition & Q(due_at__gte=now) & ~Q(status__in=SLA_STOPPED)


def overdue_q(now: Any) -> Q:
    return Q(due_at__lt=now) & ~Q(status__in=SLA_STOPPED)


class CaseFilter(django_filters.FilterSet):
    """Status, queue, category, priority, assignee, SLA state, amount range, age and sort.

    `assignee` takes "me" (the user given as `user=` or the request's), "none" (unassigned)
    or a user id. Invalid values are form errors: the pages show them, the API answers 400,
    and a bulk action refuses (FilterInvalid) rather than acting on an unfiltered list.
    """

    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=STATUS_CHOICES, method="filter_status", empty_label=_("Any")
    )
    queue = django_filters.ChoiceFilter(
        label=_("Queue"), field_name="queue__kind", choices=QueueKind.choices, empty_label=_("Any")
    )
    category = django_filters.ChoiceFilter(
        label=_("Category"), choices=AlertCategory.choices, empty_label=_("Any")
    )
    priority_min = django_filters.NumberFilter(
        label=_("Priority at least"), field_name="priority", lookup_expr="gte", min_value=0
    )
    assignee = django_filters.CharFilter(
        label=_("Assignee"), method="filter_assignee", max_length=12
    )
    sla = django_filters.ChoiceFilter(
        label=_("SLA"), choices=SLA_CHOICES, method="filter_sla", empty_label=_("Any")
    )
    amount_min = django_filters.NumberFilter(
        label=_("Amount from"), field_name="exposure", lookup_expr="gte", min_value=0
    )
    amount_max = django_filters.NumberFilter(
        label=_("Amount to"), field_name="exposure", lookup_expr="lte", min_value=0
    )
    age_min_hours = django_filters.NumberFilter(
        label=_("Age at least (hours)"), method="filter_age_min", min_value=0, max_value=100000
    )
    age_max_hours = django_filters.NumberFilter(
        label=_("Age at most (hours)"), method="filter_age_max", min_value=0, max_value=100000
    )
    customer_no = django_filters.CharFilter(
        label=_("Customer no."),
        field_name="borrower__customer_no",
        lookup_expr="startswith",
        max_length=20,
    )
    sort = django_filters.ChoiceFilter(
        label=_("Sort"), choices=SORT_CHOICES, method="filter_sort", empty_label=None
    )

    class Meta:
        model = Case
        fields: list[str] = []

    def __init__(self, *args: Any, user: Any = None, now: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user if user is not None else getattr(self.request, "user", None)
        self.now = now or timezone.now()

    def filter_status(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        if value == ACTIVE:
            return queryset.exclude(status=CaseStatus.RESOLVED)
        return queryset.filter(status=value) if value else queryset

    def filter_assignee(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        value = value.strip()
        if not value:
            return queryset
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value == "me":
            user_id = getattr(self.user, "pk", None)
            return queryset.filter(assignee_id=user_id) if user_id else queryset.none()
        if value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset.none()

    def filter_sla(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        if value == OVERDUE:
            return queryset.filter(overdue_q(self.now))
        if value == NEAR_BREACH:
            return queryset.filter(near_breach_q(self.now))
        if value == AT_RISK:
            return queryset.filter(overdue_q(self.now) | near_breach_q(self.now))
        return queryset

    def filter_age_min(self, queryset: QuerySet[Case], name: str, value: Decimal) -> QuerySet[Case]:
        if value is None:
            return queryset
        return queryset.filter(opened_at__lte=self.now - timedelta(hours=float(value)))

    def filter_age_max(self, queryset: QuerySet[Case], name: str, value: Decimal) -> QuerySet[Case]:
        if value is None:
            return queryset
        return queryset.filter(opened_at__gte=self.now - timedelta(hours=float(value)))

    def filter_sort(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        return queryset.order_by(*SORTS.get(value or "priority", SORTS["priority"]))

    @property
    def qs(self) -> QuerySet[Case]:
        queryset = super().qs
        # No sort given: the queue's own order (the one "next case" follows).
        if not (self.is_bound and self.form.is_valid() and self.form.cleaned_data.get("sort")):
            queryset = queryset.order_by(*SORTS["priority"])
        return queryset

    def errors_text(self) -> str:
        """The form's errors as one line, for FilterInvalid."""
        return "; ".join(
            f"{self.form.fields[name].label if name in self.form.fields else name}: "
            + " ".join(str(m) for m in messages)
            for name, messages in self.form.errors.items()
        )


class AlertFilter(django_filters.FilterSet):
    """Category, minimum severity, rule, borrower, case (or none), and a raised-at window."""

    category = django_filters.ChoiceFilter(
        label=_("Category"), choices=AlertCategory.choices, empty_label=_("Any")
    )
    severity_min = django_filters.ChoiceFilter(
        label=_("Severity at least"),
        choices=Severity.choices,
        method="filter_severity_min",
        empty_label=_("Any"),
    )
    rule = django_filters.ChoiceFilter(
        label=_("Rule"),
        field_name="rule_version__rule__kind",
        choices=RuleKind.choices,
        empty_label=_("Any"),
    )
    customer_no = django_filters.CharFilter(
        label=_("Customer no."),
        field_name="borrower__customer_no",
        lookup_expr="startswith",
        max_length=20,
    )
    case = django_filters.NumberFilter(label=_("Case"), field_name="case_id", min_value=1)
    has_case = django_filters.BooleanFilter(
        label=_("Grouped into a case"), field_name="case", lookup_expr="isnull", exclude=True
    )
    raised_from = django_filters.DateTimeFilter(
        label=_("Raised from"), field_name="raised_at", lookup_expr="gte"
    )
    raised_to = django_filters.DateTimeFilter(
        label=_("Raised before"), field_name="raised_at", lookup_expr="lt"
    )

    class Meta:
        model = Alert
        fields: list[str] = []

    def filter_severity_min(
        self, queryset: QuerySet[Alert], name: str, value: str
    ) -> QuerySet[Alert]:
        return queryset.filter(severity__gte=int(value)) if value else queryset
