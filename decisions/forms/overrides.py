"""HTML input parsing for the override pages. The forms parse; the services decide (an amount
the line cannot take, a reason not in the list, a hard block: the service's message is shown
in place)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from decisions.models.overrides import AuthorityRule, Direction, OverrideKind, OverrideReason
from decisions.services.overrides import APPROVER_ROLES


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern); each is checked by the
    service by its first bytes and size."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class ProposalForm(forms.Form):
    kind = forms.ChoiceField(label=_("Change"), choices=OverrideKind.choices)
    new_limit = forms.DecimalField(
        label=_("New limit (¥)"),
        required=False,
        max_digits=14,
        decimal_places=2,
        min_value=0,
        widget=forms.NumberInput(attrs={"step": "100", "inputmode": "decimal"}),
    )
    until = forms.DateField(
        label=_("Temporary until (last day)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    reason = forms.ModelChoiceField(
        label=_("Reason"),
        queryset=OverrideReason.objects.filter(active=True),
        to_field_name="code",
        empty_label=None,
    )
    justification = forms.CharField(
        label=_("Justification"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        help_text=_("What you checked and why the policy's limit is not right for this line."),
    )
    evidence = MultipleFileField(
        label=_("Evidence (PDF, JPEG or PNG)"),
        required=False,
    )

    def __init__(self, *args: Any, fixed_kind: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].label_from_instance = lambda r: r.display  # type: ignore[attr-defined]
        if fixed_kind:  # a resubmission keeps its kind
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = fixed_kind


DECISIONS = (
    ("approve", _("Approve")),
    ("reject", _("Reject")),
    ("changes", _("Request changes")),
)


class DecisionForm(forms.Form):
    action = forms.ChoiceField(choices=DECISIONS, widget=forms.HiddenInput)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=2000
    )
    password = forms.CharField(
        label=_("Your password (to confirm a large change)"),
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    go_next = forms.BooleanField(label=_("Then open the next item"), required=False, initial=True)


class AuthorityRuleForm(forms.ModelForm):
    role = forms.ChoiceField(label=_("Role"), choices=())

    class Meta:
        model = AuthorityRule
        fields = [
            "role",
            "direction",
            "max_increase",
            "max_increase_share",
            "max_resulting_limit",
            "bands",
            "step_up_above",
            "active",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accounts.choices import Role

        role = cast(forms.ChoiceField, self.fields["role"])
        direction = cast(forms.ChoiceField, self.fields["direction"])
        role.choices = [(r, Role(r).label) for r in APPROVER_ROLES]
        direction.choices = Direction.choices
