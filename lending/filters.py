"""The borrower list's search and filters, one FilterSet for the HTML page and any API list."""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.selectors import pii_reveal_allowed
from lending.choices import Bucket, LineStatus
from lending.models import Borrower
from lending.selectors.pages import (
    _MASKED_MOBILE,
    _MASKED_NATIONAL_ID,
    SORTS,
    bucket_q,
    city_choices,
    search_q,
)

# The search box's hint, by what the searcher may confirm (lending.selectors.search_q).
SEARCH_HINT_FULL = _("Name, ID or mobile last 4, customer no.")
SEARCH_HINT_SURNAME_ONLY = _("Surname (first character only), ID or mobile last 4, customer no.")
# Longer than any name, ID number or customer number: a paste gone wrong, refused.
SEARCH_MAX_LENGTH = 40


def _sort_choices() -> list[tuple[str, Any]]:
    choices: list[tuple[str, Any]] = []
    for code, spec in SORTS.items():
        choices.append((f"-{code}", _("%(column)s, high to low") % {"column": spec.label}))
        choices.append((code, _("%(column)s, low to high") % {"column": spec.label}))
    return choices


class SearchField(forms.CharField):
    """The search box: a masked number with its stars cut short, or too long, is an error."""

    def validate(self, value: Any) -> None:
        super().validate(value)
        text = "".join(str(value or "").split())
        if len(text) > SEARCH_MAX_LENGTH:
            raise forms.ValidationError(
                _("Search for at most %(n)s characters.") % {"n": SEARCH_MAX_LENGTH},
                code="too_long",
            )
        if ("*" in text or "•" in text) and not (
            _MASKED_MOBILE.fullmatch(text.upper()) or _MASKED_NATIONAL_ID.fullmatch(text.upper())
        ):
            raise forms.ValidationError(
                _(
                    "Paste a masked number as the screen shows it: 138****5678 or "
                    "110101********1234."
                ),
                code="masked",
            )


class SearchFilter(django_filters.CharFilter):
    field_class = SearchField


class BorrowerFilter(django_filters.FilterSet):
    """Search box plus line status, delinquency bucket, city and the sort order.

    The matching rules live in lending.selectors (search_q, bucket_q, SORTS) so the selector
    `borrower_list` and this FilterSet cannot drift apart. Unknown choices and a malformed
    search are form errors: the list page shows them and lists nothing (never the whole
    book). Given the `request`, the search follows what its user may see: someone who may
    not reveal personal data searches names by surname only, and the search box says so.
    """

    q = SearchFilter(
        label=_("Search"),
        method="filter_search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": SEARCH_HINT_FULL,
                "autocomplete": "off",
            }
        ),
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"),
        field_name="line__status",
        choices=LineStatus.choices,
        empty_label=_("Any status"),
    )
    bucket = django_filters.ChoiceFilter(
        label=_("Bucket"),
        method="filter_bucket",
        choices=Bucket.choices,
        empty_label=_("Any bucket"),
    )
    city = django_filters.ChoiceFilter(
        label=_("City"), field_name="city", choices=[], empty_label=_("Any city")
    )
    # Applied by lending.selectors.borrower_list (the keyset pager needs the sort key), not here.
    sort = django_filters.ChoiceFilter(
        label=_("Sort by"),
        method="filter_sort",
        choices=_sort_choices,
        empty_label=_("Newest first"),
    )

    class Meta:
        model = Borrower
        fields: list[str] = []

    def __init__(self, *args: Any, today: date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        # Cities come from the data (cached), so they are set per instance, before the form
        # (built lazily on first use) reads them.
        self.filters["city"].extra["choices"] = [(c, c) for c in city_choices()]
        self.user = getattr(self.request, "user", None)
        if not pii_reveal_allowed(self.user):
            # A copy per instance: the class's widget is shared by every request.
            widget = forms.TextInput(attrs=dict(self.filters["q"].extra["widget"].attrs))
            widget.attrs["placeholder"] = SEARCH_HINT_SURNAME_ONLY
            self.filters["q"].extra["widget"] = widget

    def filter_search(
        self, queryset: QuerySet[Borrower], name: str, value: str
    ) -> QuerySet[Borrower]:
        return queryset.filter(search_q(value, user=self.user)) if value.strip() else queryset

    def filter_bucket(
        self, queryset: QuerySet[Borrower], name: str, value: str
    ) -> QuerySet[Borrower]:
        return queryset.filter(bucket_q(value, self.today)) if value else queryset

    def filter_sort(
        self, queryset: QuerySet[Borrower], name: str, value: str
    ) -> QuerySet[Borrower]:
        return queryset
