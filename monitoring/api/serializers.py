"""The event API's documented shapes: what it answers, and the event inputs it documents.

The input serializers live in monitoring.validation, where event ingestion (a service) uses
them to check events; this module re-exports them for the API's schema, and `canonical` and
`events_parse` for callers that import them from here.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from monitoring.choices import EventKind
from monitoring.validation import (
    SERIALIZER_BY_KIND,
    BankAccountChangeEventSerializer,
    DeviceChangeEventSerializer,
    DrawdownEventSerializer,
    EventSerializer,
    LineOpenedEventSerializer,
    LoginEventSerializer,
    RepaymentEventSerializer,
    TransferOutEventSerializer,
    canonical,
    events_parse,
)

__all__ = [
    "SERIALIZER_BY_KIND",
    "BankAccountChangeEventSerializer",
    "DeviceChangeEventSerializer",
    "DrawdownEventSerializer",
    "ErrorItemSerializer",
    "ErrorSerializer",
    "EventBatchResultSerializer",
    "EventResultSerializer",
    "EventSerializer",
    "LineOpenedEventSerializer",
    "LoginEventSerializer",
    "RepaymentEventSerializer",
    "TransferOutEventSerializer",
    "canonical",
    "events_parse",
]


class EventResultSerializer(serializers.Serializer):
    """What the API answers for one event (and answers again when it is replayed)."""

    index = serializers.IntegerField(help_text=_("The event's position in the batch."))
    event_id = serializers.CharField()
    kind = serializers.ChoiceField(choices=EventKind.choices)
    status = serializers.ChoiceField(
        choices=[("recorded", "recorded"), ("replayed", "replayed")],
        help_text=_(
            "recorded: applied now; replayed: this event id was recorded before and "
            "this is the answer it got then."
        ),
    )
    borrower_id = serializers.IntegerField()
    line_id = serializers.IntegerField(required=False, help_text="line_opened")
    drawdown_id = serializers.IntegerField(required=False, help_text="drawdown, repayment")
    repayment_id = serializers.IntegerField(required=False, help_text="repayment")
    device_record_id = serializers.IntegerField(
        required=False, help_text=_("login, device_change: our id of the device record")
    )
    bank_account_id = serializers.IntegerField(required=False, help_text="bank_account_change")
    transfer_out_id = serializers.IntegerField(required=False, help_text="transfer_out")
    alerts = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text=_("The ids of the alerts this event raised, when it raised any."),
    )


class EventBatchResultSerializer(serializers.Serializer):
    results = EventResultSerializer(many=True)


class ErrorItemSerializer(serializers.Serializer):
    """One problem with one field (field null: the input, or the event, as a whole)."""

    index = serializers.IntegerField(
        allow_null=True,
        required=False,
        help_text=_("Event API only: the event's position in the batch (null: the batch)."),
    )
    event_id = serializers.CharField(
        allow_null=True, required=False, help_text=_("Event API only: the event's id.")
    )
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers (core.api): 400, 401, 403, 404, 405, 409, 413, 415."""

    message = serializers.CharField(help_text=_("For people."))
    code = serializers.CharField(
        help_text=_(
            "For programs: invalid_events, events_refused, retry, parse_error, too_large, "
            "not_authenticated, permission_denied, unsupported_media_type, ..."
        )
    )
    extra = serializers.DictField(
        help_text=_("Machine-readable detail, e.g. retry_after (seconds) for code retry.")
    )
    # A field named `errors`: DRF's metaclass moves declared fields off the class, so the
    # Serializer.errors property is untouched at run time; the stubs cannot see that.
    errors = ErrorItemSerializer(many=True)  # type: ignore[assignment]
