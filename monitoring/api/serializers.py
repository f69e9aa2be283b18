"""Input shapes of the lending core's events, one serializer per kind.

They parse and check form only (types, lengths, ranges, a time with an offset); whether the
book accepts an event is the lending services' decision. `events_parse` runs them over a batch
and returns every error with the event's index and the field, so the service can refuse the
whole batch at once. The same serializers document the API (drf-spectacular).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypedDict

from django.core.validators import RegexValidator
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from lending.choices import IncomeBand, Purpose, RepaymentMode
from monitoring.choices import EventKind
from monitoring.errors import EventError


class _DecimalBounds(TypedDict, total=False):
    """DecimalField arguments, typed so `**AMOUNT` checks against the field's signature."""

    max_digits: int
    decimal_places: int
    min_value: Decimal
    max_value: Decimal


AMOUNT: _DecimalBounds = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0.01")}
# The book's legal ceiling, 0.0986%/day (36% a year, RULES §4B.4); the database refuses more.
RATE: _DecimalBounds = {
    "max_digits": 8,
    "decimal_places": 6,
    "min_value": Decimal("0.000001"),
    "max_value": Decimal("0.000986"),
}
national_id_format = RegexValidator(
    r"^\d{17}[\dXx]$", _("Enter 18 characters: 17 digits, then a digit or X.")
)
mobile_format = RegexValidator(r"^\d{11}$", _("Enter the 11-digit mobile number."))
card_format = RegexValidator(r"^\d{12,19}$", _("Enter the card number: 12 to 19 digits."))


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its UTC offset: a naive time is ambiguous, refused."""

    default_error_messages = {
        "naive": _("Give the time with its UTC offset, e.g. 2026-03-01T09:30:00+08:00."),
    }

    def to_internal_value(self, value: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if parsed is not None and parsed.tzinfo is None:
            self.fail("naive")
        result: datetime = super().to_internal_value(value)
        return result


class EventSerializer(serializers.Serializer):
    """What every event carries."""

    event_id = serializers.CharField(
        max_length=64,
        help_text=_(
            "The lending core's id for this event; posting it again "
            "records nothing and answers the same."
        ),
    )
    kind = serializers.ChoiceField(choices=EventKind.choices)
    occurred_at = AwareDateTimeField(help_text=_("ISO 8601 with the UTC offset."))
    customer_no = serializers.CharField(max_length=32)

    def to_internal_value(self, data: Any) -> Any:
        # Unknown keys are refused rather than ignored: a misspelt optional field would
        # otherwise be lost without anyone noticing. They are reported with the other errors.
        unknown: dict[str, list[Any]] = {}
        if isinstance(data, Mapping) and not self.context.get("kind_unknown"):
            unknown = {
                name: [ErrorDetail(str(_("Unknown field.")), code="unknown_field")]
                for name in sorted(set(data) - set(self.fields))
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = (
                exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            )
            raise serializers.ValidationError({**detail, **unknown}) from exc
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class LineOpenedEventSerializer(EventSerializer):
    """A borrower was approved and their revolving line opened."""

    name = serializers.CharField(max_length=64)
    national_id = serializers.CharField(max_length=18, validators=[national_id_format])
    mobile = serializers.CharField(max_length=11, validators=[mobile_format])
    city = serializers.CharField(max_length=32)
    employer = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    income_band = serializers.ChoiceField(choices=IncomeBand.choices)
    credit_limit = serializers.DecimalField(**AMOUNT)
    daily_rate = serializers.DecimalField(**RATE)


class DrawdownEventSerializer(EventSerializer):
    """Money drawn on the line and paid out to a card."""

    loan_no = serializers.CharField(max_length=40)
    amount = serializers.DecimalField(**AMOUNT)
    term_months = serializers.IntegerField(min_value=1, max_value=36)
    repayment_mode = serializers.ChoiceField(choices=RepaymentMode.choices)
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    card_no = serializers.CharField(max_length=19, validators=[card_format])
    bank_name = serializers.CharField(max_length=64)
    device_id = serializers.CharField(max_length=64, required=False)
    daily_rate = serializers.DecimalField(
        **RATE, required=False, help_text=_("Defaults to the line's rate.")
    )


class RepaymentEventSerializer(EventSerializer):
    """Money received for a loan; the event id is the repayment's reference."""

    loan_no = serializers.CharField(max_length=40)
    amount = serializers.DecimalField(**AMOUNT)
    card_no = serializers.CharField(max_length=19, validators=[card_format], required=False)


class LoginEventSerializer(EventSerializer):
    """The borrower logged in to the lending app from a device."""

    device_id = serializers.CharField(max_length=64)
    platform = serializers.CharField(max_length=16)
    ip = serializers.IPAddressField(required=False)


class DeviceChangeEventSerializer(EventSerializer):
    """The borrower's account was bound to another device."""

    device_id = serializers.CharField(max_length=64)
    platform = serializers.CharField(max_length=16)


class BankAccountChangeEventSerializer(EventSerializer):
    """The borrower bound another bank card for payouts and repayments."""

    card_no = serializers.CharField(max_length=19, validators=[card_format])
    bank_name = serializers.CharField(max_length=64)


class TransferOutEventSerializer(EventSerializer):
    """Money the borrower moved out; to another lender soon after a drawdown is a signal."""

    amount = serializers.DecimalField(**AMOUNT)
    counterparty_name = serializers.CharField(max_length=100)
    counterparty_account = serializers.CharField(
        max_length=34, required=False, allow_blank=True, default=""
    )
    counterparty_is_lender = serializers.BooleanField()
    card_no = serializers.CharField(max_length=19, validators=[card_format], required=False)


SERIALIZER_BY_KIND: dict[str, type[EventSerializer]] = {
    EventKind.LINE_OPENED: LineOpenedEventSerializer,
    EventKind.DRAWDOWN: DrawdownEventSerializer,
    EventKind.REPAYMENT: RepaymentEventSerializer,
    EventKind.LOGIN: LoginEventSerializer,
    EventKind.DEVICE_CHANGE: DeviceChangeEventSerializer,
    EventKind.BANK_ACCOUNT_CHANGE: BankAccountChangeEventSerializer,
    EventKind.TRANSFER_OUT: TransferOutEventSerializer,
}


def _flatten(
    detail: Any, *, index: int | None, event_id: str | None, field: str | None
) -> list[EventError]:
    """DRF's nested error detail as a flat list of (index, field, code, message)."""
    if isinstance(detail, Mapping):
        found: list[EventError] = []
        for name, sub in detail.items():
            sub_field = None if name == "non_field_errors" else str(name)
            found.extend(_flatten(sub, index=index, event_id=event_id, field=sub_field))
        return found
    if isinstance(detail, list):
        return [
            e for sub in detail for e in _flatten(sub, index=index, event_id=event_id, field=field)
        ]
    return [
        {
            "index": index,
            "event_id": event_id,
            "field": field,
            "code": str(getattr(detail, "code", "invalid")),
            "message": str(detail),
        }
    ]


def canonical(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validated data as JSON, the same for the same event however it was written.

    Amounts are exact decimal strings at their scale ("100" and 100.0 both become "100.00"),
    times are UTC: a replay is recognised by meaning, not by spelling.
    """
    out: dict[str, Any] = {}
    for key, value in sorted(data.items()):
        if isinstance(value, Decimal):
            out[key] = str(value)
        elif isinstance(value, datetime):
            out[key] = value.astimezone(UTC).isoformat()
        else:
            out[key] = value
    return out


def events_parse(raw: Any, *, max_events: int) -> tuple[list[dict[str, Any]], list[EventError]]:
    """Check a list of raw events; returns (validated events, every error found).

    Validated events keep Python types (Decimal, aware datetime). An error's `index` is the
    event's position in the list; the list itself being wrong has index None, field "events".
    """
    if not isinstance(raw, list) or not raw:
        return [], [
            {
                "index": None,
                "event_id": None,
                "field": "events",
                "code": "invalid",
                "message": str(_('Send one event object, or {"events": [...]} with at least one.')),
            }
        ]
    if len(raw) > max_events:
        return [], [
            {
                "index": None,
                "event_id": None,
                "field": "events",
                "code": "too_many",
                "message": str(
                    _("At most %(max)s events per batch; this one has %(count)s.")
                    % {"max": max_events, "count": len(raw)}
                ),
            }
        ]
    valid: list[dict[str, Any]] = []
    errors: list[EventError] = []
    # One serializer per kind for the whole batch: building one per event deep-copies its
    # fields each time, which was most of the cost of checking a batch.
    checkers: dict[str | None, EventSerializer] = {}
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            errors.append(
                {
                    "index": index,
                    "event_id": None,
                    "field": None,
                    "code": "invalid",
                    "message": str(_("An event is a JSON object.")),
                }
            )
            continue
        event_id = item.get("event_id") if isinstance(item.get("event_id"), str) else None
        kind = item.get("kind")
        kind = kind if isinstance(kind, str) and kind in SERIALIZER_BY_KIND else None
        if kind not in checkers:
            # With no known kind only the common fields are checked (the other keys may be
            # right for the kind that was meant), so the answer points at `kind` alone.
            serializer_class = SERIALIZER_BY_KIND[kind] if kind else EventSerializer
            checkers[kind] = serializer_class(context={"kind_unknown": kind is None})
        try:
            valid.append(dict(checkers[kind].run_validation(item)))
        except serializers.ValidationError as exc:
            errors.extend(_flatten(exc.detail, index=index, event_id=event_id, field=None))
    return valid, errors


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


class EventBatchResultSerializer(serializers.Serializer):
    results = EventResultSerializer(many=True)


class EventErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField(allow_null=True)
    event_id = serializers.CharField(allow_null=True)
    field = serializers.CharField(allow_null=True)
    code = serializers.CharField()
    message = serializers.CharField()


class EventBatchErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    code = serializers.CharField()
    # A field named `errors`: DRF's metaclass moves declared fields off the class, so the
    # Serializer.errors property is untouched at run time; the stubs cannot see that.
    errors = EventErrorSerializer(many=True)  # type: ignore[assignment]
