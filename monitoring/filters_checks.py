"""The drawdown checks' filters: one FilterSet for the staff page (/monitoring/checks/) and the
API (GET /api/v1/drawdown-checks/), so the two cannot disagree on which rows a filter means.

Dates are whole days in the business time zone (Asia/Shanghai): `checked_from` is the first day
included, `checked_to` the last; both compare the stored time against the days' bounds, so the
(checked_at) index answers them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from lending.choices import Purpose
from monitoring.choices import CheckDecision
from monitoring.models import DrawdownCheck


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class DrawdownCheckFilter(django_filters.FilterSet):
    """Borrower (customer number, or its id), decision, purpose, and a range of days."""

    customer_no = django_filters.CharFilter(
        label=_("Customer no."),
        field_name="borrower__customer_no",
        lookup_expr="startswith",
        max_length=20,
    )
    borrower = django_filters.NumberFilter(
        label=_("Borrower id"),
        field_name="borrower_id",
        min_value=1,
        max_value=2**63 - 1,
        decimal_places=0,  # an id: "1.5" is refused, not read as 1
    )
    decision = django_filters.ChoiceFilter(
        label=_("Decision"), choices=CheckDecision.choices, empty_label=_("Any")
    )
    purpose = django_filters.ChoiceFilter(
        label=_("Purpose"), choices=Purpose.choices, empty_label=_("Any")
    )
    checked_from = django_filters.DateFilter(label=_("Checked from"), method="filter_from")
    checked_to = django_filters.DateFilter(label=_("Checked until"), method="filter_to")

    class Meta:
        model = DrawdownCheck
        fields: list[str] = []

    def filter_from(
        self, queryset: QuerySet[DrawdownCheck], name: str, value: date
    ) -> QuerySet[DrawdownCheck]:
        if not value or value == date.min:  # every check is on or after the first day
            return queryset
        return queryset.filter(checked_at__gte=_start_of(value))

    def filter_to(
        self, queryset: QuerySet[DrawdownCheck], name: str, value: date
    ) -> QuerySet[DrawdownCheck]:
        if not value or value == date.max:  # every check is on or before the last day
            return queryset
        return queryset.filter(checked_at__lt=_start_of(value + timedelta(days=1)))

    def errors_text(self) -> list[str]:
        """The invalid fields' messages, each headed by its label (for the page)."""
        return [
            f"{self.form.fields[name].label}: {' '.join(messages)}"
            for name, messages in self.errors.items()
            if name in self.form.fields
        ]
