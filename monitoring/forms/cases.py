"""HTML input of the case pages: parsing only; the services decide and refuse."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from lending.choices import DocumentKind, LineStatusCode
from lending.services.lines import FREEZE_REASON_CODES, UNFREEZE_REASON_CODES
from monitoring.choices import Disposition
from monitoring.services.cases import MAX_SLA_HOURS, NOTE_MAX_LENGTH

_NOTE = forms.Textarea(attrs={"rows": 3, "maxlength": NOTE_MAX_LENGTH})


def _codes(allowed: frozenset[str]) -> list[tuple[str, Any]]:
    return [(value, label) for value, label in LineStatusCode.choices if value in allowed]


class ResolveForm(forms.Form):
    # Not required here: the service refuses a missing one with its own message.
    disposition = forms.ChoiceField(
        label=_("Disposition"),
        choices=[("", _("Choose…")), *Disposition.choices],
        required=False,
    )
    note = forms.CharField(label=_("Note"), widget=_NOTE, required=False)


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )


class AssignForm(forms.Form):
    assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Assign to"), queryset=None, empty_label=None
    )

    def __init__(self, *args: Any, assignees: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees  # type: ignore[attr-defined]


class ReopenForm(forms.Form):
    note = forms.CharField(label=_("Why reopen"), widget=_NOTE, required=False)


class LineFreezeForm(forms.Form):
    status_code = forms.ChoiceField(label=_("Reason"), choices=_codes(FREEZE_REASON_CODES))
    note = forms.CharField(label=_("Note"), required=False, max_length=200)


class LineUnfreezeForm(forms.Form):
    status_code = forms.ChoiceField(label=_("Reason"), choices=_codes(UNFREEZE_REASON_CODES))
    note = forms.CharField(label=_("Note"), required=False, max_length=200)


class DocumentsRequestForm(forms.Form):
    # Not required: the service refuses an empty list or a bare "other" with its own message.
    documents = forms.MultipleChoiceField(
        label=_("Documents to ask for"),
        choices=DocumentKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    other = forms.CharField(
        label=_("Other document (the borrower reads this)"), required=False, max_length=200
    )
    note = forms.CharField(label=_("Internal note"), widget=_NOTE, required=False)


class EvidenceForm(forms.Form):
    file = forms.FileField(
        label=_("File (PDF, JPEG or PNG)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}),
    )


class SlaForm(forms.Form):
    sla_hours = forms.IntegerField(label=_("SLA (hours)"), min_value=1, max_value=MAX_SLA_HOURS)


BULK_ASSIGN = "assign"
BULK_CLOSE = "close"
# The bulk form's own fields; everything else it posts is the list's filter.
BULK_FIELDS = frozenset(
    {"bulk_action", "bulk_assignee", "bulk_disposition", "bulk_note", "bulk_expected"}
)


class BulkForm(forms.Form):
    bulk_action = forms.ChoiceField(
        label=_("Action"),
        choices=[(BULK_ASSIGN, _("Assign all to")), (BULK_CLOSE, _("Close all with"))],
    )
    bulk_assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Assignee"), queryset=None, required=False, empty_label=_("—")
    )
    bulk_disposition = forms.ChoiceField(
        label=_("Disposition"), choices=[("", _("—")), *Disposition.choices], required=False
    )
    bulk_note = forms.CharField(label=_("Reason"), required=False, max_length=NOTE_MAX_LENGTH)
    bulk_expected = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args: Any, assignees: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["bulk_assignee"].queryset = assignees  # type: ignore[attr-defined]


class LimitCutForm(forms.Form):
    new_limit = forms.DecimalField(
        label=_("New limit (yuan)"), min_value=0, max_digits=12, decimal_places=2
    )
    reason_code = forms.ChoiceField(label=_("Reason"), choices=())
    justification = forms.CharField(
        label=_("Justification"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )

    def __init__(self, *args: Any, reasons: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = [  # type: ignore[attr-defined]
            (reason.code, reason.display) for reason in reasons
        ]
