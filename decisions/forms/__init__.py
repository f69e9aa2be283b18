"""HTML input parsing for the decisions pages.

The limit policy editor is three forms: the scalar thresholds (PolicyForm), the score bands
(an editable table: BandFormSet) and the drawdown scenarios (ScenarioFormSet). They only parse
numbers and text; whether the result is a usable policy is decisions.policy.policy_rules's
call, which the view makes and whose message it shows in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from decisions.policy import rules_document

# The policy's single-valued rules, in the order the editor shows them (decisions.policy).
SCALARS = (
    "freeze_dpd",
    "cut_score_drop",
    "cut_below_band",
    "cut_share",
    "multi_lender_spike",
    "cooldown_days",
    "raise_interval_days",
    "raise_after_on_time",
    "raise_min_band",
    "small_loan",
    "step",
)
BAND_FIELDS = ("name", "min_score", "initial_limit", "raise_step", "ceiling", "daily_rate")
SCENARIO_FIELDS = ("min_score", "max_share_of_limit", "max_term_months")


def _number(attrs: dict[str, Any] | None = None) -> forms.NumberInput:
    # Narrow, right-aligned-friendly inputs that a keyboard user steps with the arrow keys.
    return forms.NumberInput(attrs={"inputmode": "decimal", **(attrs or {})})


class PolicyForm(forms.Form):
    """The scalar thresholds of a limit policy, what changed and why, and the version it
    started from (its income factors and anything the editor does not show are kept)."""

    base = forms.IntegerField(required=False, widget=forms.HiddenInput)
    freeze_dpd = forms.IntegerField(
        label=_("Freeze beyond (days past due)"), widget=_number({"step": "1"})
    )
    cut_score_drop = forms.IntegerField(
        label=_("Cut on a score drop of (points)"), widget=_number({"step": "1"})
    )
    cut_below_band = forms.CharField(label=_("Cut from band (and below)"), max_length=8)
    cut_share = forms.DecimalField(
        label=_("Cut by (share of the limit)"),
        max_digits=5,
        decimal_places=4,
        widget=_number({"step": "0.01"}),
    )
    multi_lender_spike = forms.IntegerField(
        label=_("Cut at transfers to other lenders (90 days)"), widget=_number({"step": "1"})
    )
    cooldown_days = forms.IntegerField(
        label=_("Cooldown after a cut (days): no raise, no repeat cut"),
        widget=_number({"step": "1"}),
    )
    raise_interval_days = forms.IntegerField(
        label=_("No raise within (days) of the last raise"), widget=_number({"step": "1"})
    )
    raise_after_on_time = forms.IntegerField(
        label=_("Raise after on-time instalments in a row"), widget=_number({"step": "1"})
    )
    raise_min_band = forms.CharField(label=_("Raise from band (and above)"), max_length=8)
    small_loan = forms.DecimalField(
        label=_("Small loan up to (¥)"),
        max_digits=14,
        decimal_places=2,
        widget=_number({"step": "100"}),
    )
    step = forms.DecimalField(
        label=_("Limits rounded to (¥)"),
        max_digits=14,
        decimal_places=2,
        widget=_number({"step": "100"}),
    )
    note = forms.CharField(
        label=_("What changed and why"),
        max_length=2000,
        required=False,  # required to save (require_note), not to simulate
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, require_note: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.require_note = require_note

    def clean_note(self) -> str:
        note = str(self.cleaned_data.get("note") or "").strip()
        if self.require_note and not note:
            raise forms.ValidationError(_("Say what changed and why: the approver reads it."))
        return note


class BandForm(forms.Form):
    """One row of the bands table."""

    name = forms.CharField(label=_("Band"), max_length=8)
    min_score = forms.IntegerField(label=_("Min score"), widget=_number({"step": "1"}))
    initial_limit = forms.DecimalField(
        label=_("Initial limit (¥)"),
        max_digits=14,
        decimal_places=2,
        widget=_number({"step": "100"}),
    )
    raise_step = forms.DecimalField(
        label=_("Raise step (¥)"), max_digits=14, decimal_places=2, widget=_number({"step": "100"})
    )
    ceiling = forms.DecimalField(
        label=_("Ceiling (¥)"), max_digits=14, decimal_places=2, widget=_number({"step": "100"})
    )
    daily_rate = forms.DecimalField(
        label=_("Daily rate"), max_digits=8, decimal_places=6, widget=_number({"step": "0.000001"})
    )


class ScenarioForm(forms.Form):
    """One drawdown purpose's tolerance (the purpose itself is fixed)."""

    purpose = forms.CharField(max_length=32, widget=forms.HiddenInput)
    min_score = forms.IntegerField(label=_("Min score"), widget=_number({"step": "1"}))
    max_share_of_limit = forms.DecimalField(
        label=_("Max share of the limit"),
        max_digits=5,
        decimal_places=4,
        widget=_number({"step": "0.05"}),
    )
    max_term_months = forms.IntegerField(
        label=_("Max term (months)"), widget=_number({"step": "1"})
    )


# One empty row under the bands adds a band; a ticked "delete" removes one.
BandFormSet = forms.formset_factory(BandForm, extra=1, can_delete=True, max_num=12)
ScenarioFormSet = forms.formset_factory(ScenarioForm, extra=0, max_num=20)


def _text(value: Decimal) -> str:
    # Policy documents keep money and shares as strings (JSON has no decimal), without exponent.
    return format(value, "f")


def policy_initial(
    document: Mapping[str, Any],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The editor's initial values from a policy document: scalars, band rows, scenario rows."""
    every = rules_document(document)  # an older document shows what it means by a rule it lacks
    scalars = {key: every[key] for key in SCALARS if key in every}
    bands = [{key: band.get(key) for key in BAND_FIELDS} for band in document.get("bands", [])]
    scenarios = [
        {"purpose": purpose, **{key: rule.get(key) for key in SCENARIO_FIELDS}}
        for purpose, rule in document.get("scenarios", {}).items()
    ]
    return scalars, bands, scenarios


def policy_document(
    base: Mapping[str, Any],
    form: PolicyForm,
    bands: Sequence[forms.Form],
    scenarios: Sequence[forms.Form],
) -> dict[str, Any]:
    """The policy document the three valid forms describe, on top of `base` (what the editor
    does not show, such as the income factors, is kept from it).

    Bands are listed best first, by falling min score, whatever order they were typed in;
    blank extra rows and rows marked for deletion are left out.
    """
    document = dict(base)
    for key in SCALARS:
        value = form.cleaned_data[key]
        document[key] = _text(value) if isinstance(value, Decimal) else value
    rows = [f.cleaned_data for f in bands if f.cleaned_data and not f.cleaned_data.get("DELETE")]
    document["bands"] = [
        {
            "name": row["name"],
            "min_score": row["min_score"],
            "initial_limit": _text(row["initial_limit"]),
            "raise_step": _text(row["raise_step"]),
            "ceiling": _text(row["ceiling"]),
            "daily_rate": _text(row["daily_rate"]),
        }
        for row in sorted(rows, key=lambda row: -row["min_score"])
    ]
    document["scenarios"] = {
        f.cleaned_data["purpose"]: {
            "min_score": f.cleaned_data["min_score"],
            "max_share_of_limit": _text(f.cleaned_data["max_share_of_limit"]),
            "max_term_months": f.cleaned_data["max_term_months"],
        }
        for f in scenarios
        if f.cleaned_data
    }
    return document


# --- the runs page and the champion / challenger report -----------------------------------------


class StaleForm(forms.Form):
    """How old a borrower's latest acting score may be before the runs page lists it."""

    days = forms.IntegerField(
        label=_("Stale after (days)"), min_value=1, max_value=365, initial=2, required=False
    )


class ComparisonForm(forms.Form):
    """Which two versions of a scorecard to compare, and how "bad" is measured."""

    # The querysets are set per form (every stored version), in __init__.
    first: forms.ModelChoiceField[Any] = forms.ModelChoiceField(queryset=None, label=_("Model"))
    second: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        queryset=None, label=_("Compared with")
    )
    window_days = forms.IntegerField(
        label=_("Outcome window (days after the score)"),
        min_value=7,
        max_value=730,
        initial=90,
        widget=_number({"step": "1"}),
    )
    dpd = forms.TypedChoiceField(
        label=_("Bad means"),
        coerce=int,
        initial=30,
        choices=[(30, _("30+ days past due")), (90, _("90+ days past due"))],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from decisions.models import ScorecardModel

        super().__init__(*args, **kwargs)
        versions = ScorecardModel.objects.order_by("name", "-version")
        for name in ("first", "second"):
            field = self.fields[name]
            if isinstance(field, forms.ModelChoiceField):  # always; tells the type checker
                field.queryset = versions

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("first"), data.get("second")
        if first is not None and second is not None:
            if first.pk == second.pk:
                raise forms.ValidationError(_("Choose two different versions."))
            if first.name != second.name:
                raise forms.ValidationError(
                    _("Choose two versions of the same scorecard (they score the same borrowers).")
                )
        return data
