"""HTML input parsing for the lending pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lending.choices import PiiField


class PiiRevealForm(forms.Form):
    """Which personal-data field to reveal, and why. The service enforces the rules."""

    field = forms.ChoiceField(choices=PiiField.choices)
    # The bank account's id when the field is a bank card.
    object_ref = forms.CharField(required=False, max_length=64)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=300,
        required=False,  # a blank reason is the service's refusal to explain, shown in place
        widget=forms.TextInput(
            attrs={"placeholder": _("Ticket or dispute number and purpose"), "autocomplete": "off"}
        ),
    )
