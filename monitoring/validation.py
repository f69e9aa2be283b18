"""The lending core's events: their input shapes, their canonical form, and what makes one
believable. Used by event ingestion (monitoring.services) and by the API's documentation
(monitoring.api), so that the service layer imports nothing of the API.

One serializer per kind checks form only (types, lengths, ranges, a time with an offset);
whether the book accepts an event is the lending services' decision. `events_parse` runs them
over a batch and returns every error with the event's index and the field, so the service can
refuse the whole batch at once; `events_check_dates` then refuses times that cannot be true.

Numbers and identifiers are read strictly, because Python's int() and Decimal() are lenient:
they take other scripts' digits ("１２", "١٢"), underscores ("1_000"), exponents ("1e3") and
NaN/Infinity. Here digits are ASCII 0-9 only, and amounts are written plainly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypedDict

from django.core.validators import RegexValidator
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from lending import caps
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
    "max_value": caps.ABSOLUTE_MAX_DAILY_RATE,
}
# [0-9], never \d: \d matches every script's digits. \Z, never $: $ also matches before a
# final newline.
national_id_format = RegexValidator(
    r"\A[0-9]{17}[0-9Xx]\Z", _("Enter 18 characters: 17 digits, then a digit or X.")
)
mobile_format = RegexValidator(r"\A[0-9]{11}\Z", _("Enter the 11-digit mobile number."))
card_format = RegexValidator(r"\A[0-9]{12,19}\Z", _("Enter the card number: 12 to 19 digits."))
# A plain decimal: an optional minus, ASCII digits, an optional fraction. No exponent, no
# underscore, no sign +, no NaN/Infinity, no bare point (".5", "5.").
PLAIN_DECIMAL = re.compile(r"\A-?[0-9]+(?:\.[0-9]+)?\Z")
PLAIN_INTEGER = re.compile(r"\A-?[0-9]+\Z")


class PlainDecimalField(serializers.DecimalField):
    """A decimal written plainly (PLAIN_DECIMAL), as a string or a JSON number; the places are
    then checked by DecimalField (at most 2 for money)."""

    default_error_messages = {
        "invalid": _(
            "Enter a plain decimal number in ASCII digits, e.g. 1234.56: no exponent, "
            "separator or sign +."
        ),
    }

    def to_internal_value(self, data: Any) -> Decimal:
        # bool is an int, and str(True) would not match anyway; floats come from Python callers
        # (the API's parser reads JSON numbers as Decimal).
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        if not PLAIN_DECIMAL.match(str(data)):
            self.fail("invalid")
        value: Decimal = super().to_internal_value(data)
        return value


class PlainIntegerField(serializers.IntegerField):
    """A whole number: a JSON integer, or a string of ASCII digits (PLAIN_INTEGER)."""

    default_error_messages = {"invalid": _("Enter a whole number in ASCII digits.")}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not (
            isinstance(data, int) or (isinstance(data, str) and PLAIN_INTEGER.match(data))
        ):
            self.fail("invalid")
        value: int = super().to_internal_value(data)
        return value


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time in ASCII that carries its UTC offset and has a UTC equivalent.

    A naive time is ambiguous, refused (naive). Other scripts' digits are refused (invalid):
    Django's parser would read "２０２６" as 2026. A time whose UTC equivalent falls outside
    years 1-9999 ("0001-01-01T00:00+08:00") is refused (overflow): it cannot be stored.
    """

    default_error_messages = {
        "invalid": _(
            "Give the time in ISO 8601 with ASCII digits and its UTC offset, "
            "e.g. 2026-03-01T09:30:00+08:00."
        ),
        "naive": _("Give the time with its UTC offset, e.g. 2026-03-01T09:30:00+08:00."),
    }

    def to_internal_value(self, value: Any) -> datetime:
        parsed = value if isinstance(value, datetime) else None
        if isinstance(value, str):
            if not value.isascii():
                self.fail("invalid")
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:
                parsed = None
        if parsed is not None and parsed.tzinfo is None:
            self.fail("naive")
        result: datetime = super().to_internal_value(value)
        try:
            result.astimezone(UTC)
        except OverflowError:
            self.fail("overflow")
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
    occurred_at = AwareDateTimeField(
        help_text=_(
            "ISO 8601 with the UTC offset; not in the future, not older than the back-dating "
            "limit, not before the line opened or the loan was paid out."
        )
    )
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
    credit_limit = PlainDecimalField(**AMOUNT)
    daily_rate = PlainDecimalField(**RATE)


class DrawdownEventSerializer(EventSerializer):
    """Money drawn on the line and paid out to a card."""

    loan_no = serializers.CharField(max_length=40)
    amount = PlainDecimalField(**AMOUNT)
    term_months = PlainIntegerField(min_value=1, max_value=caps.MAX_TERM_MONTHS)
    repayment_mode = serializers.ChoiceField(choices=RepaymentMode.choices)
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    card_no = serializers.CharField(max_length=19, validators=[card_format])
    bank_name = serializers.CharField(max_length=64)
    device_id = serializers.CharField(max_length=64, required=False)
    daily_rate = PlainDecimalField(
        **RATE, required=False, help_text=_("Defaults to the line's rate.")
    )


class RepaymentEventSerializer(EventSerializer):
    """Money received for a loan; the event id is the repayment's reference."""

    loan_no = serializers.CharField(max_length=40)
    amount = PlainDecimalField(**AMOUNT)
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

    amount = PlainDecimalField(**AMOUNT)
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


def _batch_error(code: str, message: str) -> EventError:
    """An error of the batch as a whole (index None, field "events")."""
    return {"index": None, "event_id": None, "field": "events", "code": code, "message": message}


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


def events_unwrap(body: Any) -> tuple[list[Any], list[EventError]]:
    """The events of a request body: one event object, or {"events": [...]} and nothing else.

    Returns (events, errors). Anything that is neither is passed on as a one-event list, so
    events_parse reports it in the same shape as every other error; an envelope with other
    keys besides "events" is refused (unknown_field), as unknown keys of an event are.
    """
    if isinstance(body, dict) and "events" in body:
        others = sorted(str(key) for key in body if key != "events")
        errors: list[EventError] = [
            {
                "index": None,
                "event_id": None,
                "field": key,
                "code": "unknown_field",
                "message": str(_("Unknown field.")),
            }
            for key in others
        ]
        return body["events"], errors
    return [body], []


def events_parse(raw: Any, *, max_events: int) -> tuple[list[dict[str, Any]], list[EventError]]:
    """Check a list of raw events; returns (validated events, every error found).

    Validated events keep Python types (Decimal, aware datetime). An error's `index` is the
    event's position in the list; the list itself being wrong has index None, field "events".
    """
    if not isinstance(raw, list) or not raw:
        return [], [
            _batch_error(
                "invalid", str(_('Send one event object, or {"events": [...]} with at least one.'))
            )
        ]
    if len(raw) > max_events:
        return [], [
            _batch_error(
                "too_many",
                str(
                    _("At most %(max)s events per batch; this one has %(count)s.")
                    % {"max": max_events, "count": len(raw)}
                ),
            )
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


def events_check_dates(
    events: Sequence[tuple[int, Mapping[str, Any]]],
    *,
    now: datetime,
    line_opened_at: Mapping[str, datetime],
    disbursed_at: Mapping[str, datetime],
) -> list[EventError]:
    """Refuse event times that cannot be true; returns one error per implausible event.

    `events` are (index in the batch, validated event) in batch order: the events about to be
    applied. `line_opened_at` maps a customer_no to when the book's line for it opened, and
    `disbursed_at` a loan_no to when the book paid it out; a line or loan opened earlier in
    the same batch counts as well. Rules, each on the field occurred_at (code in brackets):

    1. Not later than `now` plus the two clocks' skew, caps.clock_skew_seconds() (in_future):
       a repayment dated in 9999 would accrue centuries of penalty, a drawdown there would
       build a schedule past the last date there is.
    2. Not earlier than `now` minus caps.backdate_days() (too_old): a drawdown dated in 1900
       would put its line in the oldest delinquency bucket at once.
    3. A drawdown not before its line opened (before_line_opened).
    4. A repayment not before its loan was paid out (before_disbursement).

    Events already recorded are not checked again: their replay answers what they got then.
    """
    skew, days = caps.clock_skew_seconds(), caps.backdate_days()
    latest = now + timedelta(seconds=skew)
    earliest = now - timedelta(days=days)
    opened = dict(line_opened_at)
    paid_out = dict(disbursed_at)
    errors: list[EventError] = []
    for index, event in events:
        at: datetime = event["occurred_at"]
        kind = event["kind"]
        # Times in messages in UTC, as the canonical form has them: local time before 1901 is
        # Shanghai's mean solar time (+08:05:43), which would only confuse.
        when = {"at": at.astimezone(UTC).isoformat()}
        problem: tuple[str, str] | None = None
        if at > latest:
            problem = (
                "in_future",
                _("%(at)s is in the future: later than now by more than %(skew)s seconds.")
                % {**when, "skew": skew},
            )
        elif at < earliest:
            problem = (
                "too_old",
                _("%(at)s is more than %(days)s days ago, the back-dating limit.")
                % {**when, "days": days},
            )
        elif kind == EventKind.DRAWDOWN and at < opened.get(event["customer_no"], at):
            problem = (
                "before_line_opened",
                _("%(at)s is before the line opened, at %(opened)s.")
                % {**when, "opened": opened[event["customer_no"]].astimezone(UTC).isoformat()},
            )
        elif kind == EventKind.REPAYMENT and at < paid_out.get(event["loan_no"], at):
            problem = (
                "before_disbursement",
                _("%(at)s is before the loan was paid out, at %(paid)s.")
                % {**when, "paid": paid_out[event["loan_no"]].astimezone(UTC).isoformat()},
            )
        if problem is not None:
            errors.append(
                {
                    "index": index,
                    "event_id": event["event_id"],
                    "field": "occurred_at",
                    "code": problem[0],
                    "message": str(problem[1]),
                }
            )
        # What this event opens counts for the events after it; the book's own record wins.
        if kind == EventKind.LINE_OPENED:
            opened.setdefault(event["customer_no"], at)
        elif kind == EventKind.DRAWDOWN:
            paid_out.setdefault(event["loan_no"], at)
    return errors
