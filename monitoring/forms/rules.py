"""Input of the rule pages: the version editor (one field per threshold of the rule's kind,
with its unit and bounds), the backtest window and the test panel's sample event. Parsing
only: the services decide."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from monitoring.choices import EventKind, Severity
from monitoring.models import RuleVersion
from monitoring.rules.params import TIME_OF_DAY, Param
from monitoring.services.backtest import MAX_WINDOW_DAYS

PARAM_PREFIX = "p_"


def _param_field(param: Param, initial: Any) -> forms.Field:
    """A form field for one threshold: numbers with their bounds (the browser checks them
    too), times of day as HH:MM, flags as checkboxes, event kinds as a checkbox list."""
    label = str(param.label)
    if param.type == "bool":
        return forms.BooleanField(label=label, required=False, initial=bool(initial))
    if param.type == "time":
        return forms.RegexField(
            label=label,
            regex=TIME_OF_DAY,
            initial=initial,
            error_messages={"invalid": _("Give a time of day as HH:MM, e.g. 07:00.")},
            widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "HH:MM"}),
        )
    if param.type == "kinds":
        return forms.MultipleChoiceField(
            label=label,
            choices=EventKind.choices,
            initial=list(initial or []),
            widget=forms.CheckboxSelectMultiple,
        )
    bounds: dict[str, Any] = {}
    if param.minimum is not None:
        bounds["min_value"] = param.minimum
    if param.maximum is not None:
        bounds["max_value"] = param.maximum
    if param.type == "int":
        return forms.IntegerField(
            label=label,
            initial=initial,
            min_value=int(param.minimum) if param.minimum is not None else None,
            max_value=int(param.maximum) if param.maximum is not None else None,
        )
    return forms.DecimalField(
        label=label, initial=Decimal(str(initial)), decimal_places=2, max_digits=14, **bounds
    )


def _version_label(version: RuleVersion) -> str:
    return f"v{version.version} · {version.get_status_display()}"


class VersionForm(forms.Form):
    """A new version of a rule, starting from the current one's thresholds."""

    severity = forms.TypedChoiceField(label=_("Severity"), choices=Severity.choices, coerce=int)
    enabled = forms.BooleanField(label=_("Enabled"), required=False)
    note = forms.CharField(
        label=_("What changed and why"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self, *args: Any, params: tuple[Param, ...], current: RuleVersion | None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.specs = params
        values = dict(current.params) if current else {}
        for param in params:
            self.fields[PARAM_PREFIX + param.name] = _param_field(
                param, values.get(param.name, param.default)
            )
        self.fields["severity"].initial = current.severity if current else Severity.MEDIUM
        self.fields["enabled"].initial = current.enabled if current else True

    def param_fields(self) -> list[forms.BoundField]:
        return [self[PARAM_PREFIX + param.name] for param in self.specs]

    def params(self) -> dict[str, Any]:
        """The thresholds in the JSON form versions keep (monitoring.rules.params)."""
        out: dict[str, Any] = {}
        for param in self.specs:
            value = self.cleaned_data[PARAM_PREFIX + param.name]
            if param.type == "decimal":
                value = str(value)
            out[param.name] = value
        return out

    def add_param_errors(self, errors: dict[str, Any]) -> None:
        """Show a service's refusal by parameter beside its field."""
        for name, message in errors.items():
            field = PARAM_PREFIX + name if PARAM_PREFIX + name in self.fields else None
            self.add_error(field, str(message))


class BacktestForm(forms.Form):
    """A past window (Shanghai dates, both included) to replay a version over."""

    version = forms.ModelChoiceField(label=_("Version"), queryset=RuleVersion.objects.none())
    start = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, versions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["version"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
        field.queryset = versions
        field.label_from_instance = _version_label  # type: ignore[method-assign,assignment]
        today = timezone.localdate()
        self.fields["end"].initial = today - timedelta(days=90)
        self.fields["start"].initial = today - timedelta(days=180)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", _("The window must end after it starts."))
            elif (end - start).days + 1 > MAX_WINDOW_DAYS:
                self.add_error(
                    "end", _("A window of at most %(days)s days.") % {"days": MAX_WINDOW_DAYS}
                )
        return data

    def window(self) -> tuple[datetime, datetime]:
        """[start 00:00, end 23:59:59.999999] in Shanghai; today's end is now (not future)."""
        tz = timezone.get_current_timezone()
        start = datetime.combine(self.cleaned_data["start"], time.min, tzinfo=tz)
        end = datetime.combine(self.cleaned_data["end"], time.max, tzinfo=tz)
        return start, min(end, timezone.now())


SAMPLE_KINDS = [
    (EventKind.DRAWDOWN, EventKind.DRAWDOWN.label),
    (EventKind.TRANSFER_OUT, EventKind.TRANSFER_OUT.label),
]


class TestPanelForm(forms.Form):
    """A sample event: a recorded one by its event id, or a drawdown or transfer out that did
    not happen, for a borrower by customer number, at a time."""

    version = forms.ModelChoiceField(label=_("Version"), queryset=RuleVersion.objects.none())
    event_id = forms.CharField(
        label=_("Recorded event id"),
        max_length=64,
        required=False,
        help_text=_("Judge an event already recorded; or leave empty and describe one below."),
    )
    customer_no = forms.CharField(label=_("Customer number"), max_length=32, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=SAMPLE_KINDS, required=False)
    amount = forms.DecimalField(
        label=_("Amount (yuan)"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
    )
    occurred_at = forms.DateTimeField(
        label=_("When (Shanghai time)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    counterparty_is_lender = forms.BooleanField(label=_("Paid to another lender"), required=False)

    def __init__(self, *args: Any, versions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["version"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101 - declared above
        field.queryset = versions
        field.label_from_instance = _version_label  # type: ignore[method-assign,assignment]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("event_id"):
            return data
        for name in ("customer_no", "kind", "amount", "occurred_at"):
            if not data.get(name):
                self.add_error(name, _("Give a recorded event id, or this."))
        return data
