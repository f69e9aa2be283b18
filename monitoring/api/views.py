"""The lending core's way in: POST /api/v1/events/."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictJSONParser, error_response
from monitoring.api.serializers import ErrorSerializer, EventBatchResultSerializer
from monitoring.errors import EventBatchError, EventBatchInvalid
from monitoring.services import EVENT_POSTER_ROLES, event_ingest
from monitoring.validation import SERIALIZER_BY_KIND, events_unwrap


class IsEventPoster(BasePermission):
    """The lending core's service account, or an administrator."""

    message = _("Only the lending core's service account or an administrator may post events.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user and user.is_authenticated and getattr(user, "role", None) in EVENT_POSTER_ROLES
        )


# Plain strings as keys: the schema renderer cannot write enum members (str() of a TextChoices
# member is its value).
_BY_KIND: dict[str, serializers.Serializer[Any] | type[serializers.Serializer[Any]]] = {
    str(kind): serializer for kind, serializer in SERIALIZER_BY_KIND.items()
}

# One event, told apart by `kind` (a oneOf with a discriminator in the schema).
EVENT_SCHEMA = PolymorphicProxySerializer(
    component_name="Event",
    serializers=_BY_KIND,
    resource_type_field_name="kind",
    many=False,
)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="Event",
        serializers=_BY_KIND,
        resource_type_field_name="kind",
        many=True,
    )
)
class _EventListField(serializers.ListField):
    """Documentation only: the batch's events (parsed by the service, not by this field)."""


class EventBatchSerializer(serializers.Serializer):
    events = _EventListField(
        child=serializers.DictField(),
        min_length=1,
        max_length=1000,
        help_text=_("Up to 1,000 events, applied in order, all or nothing."),
    )


_WHEN = "2026-03-01T09:30:00+08:00"
_EXAMPLE_EVENT = {
    "event_id": "evt-0001",
    "kind": "drawdown",
    "occurred_at": _WHEN,
    "customer_no": "C00000001",
    "loan_no": "L2026030100001",
    "amount": "5000.00",
    "term_months": 12,
    "repayment_mode": "equal_instalment",
    "purpose": "daily",
    "card_no": "6222020000001234",
    "bank_name": "ICBC",
    "device_id": "dev-9f2c",
}


class EventIngestApi(APIView):
    """Events from the lending core, recorded once per event id and applied to the book."""

    permission_classes = [IsEventPoster]
    parser_classes = [StrictJSONParser]

    @extend_schema(
        operation_id="events_ingest",
        summary="Post lending-core events (one, or a batch of up to 1,000)",
        description=(
            'Send one event object, or `{"events": [...]}`. Events are applied in order in one '
            "transaction: if any is malformed (400) or refused by the book (409), nothing of "
            "the batch is recorded, and `errors` lists each problem with the event's `index` "
            "and `field`. An `event_id` already recorded with the same data is a replay: it "
            "is not applied again, and its result is the one it got the first time, with "
            "`status: replayed`. The same `event_id` with different data is refused (409, "
            "code `event_id_reused`). Times need a UTC offset and must be plausible: not "
            "later than now plus the clocks' skew, not older than the back-dating limit, not "
            "before the line opened or the loan was paid out. Digits are ASCII only; amounts "
            "are plain decimal strings or JSON numbers (no exponent, no separator, no NaN) "
            "with at most 2 decimals, daily rates at most 6. A batch that lost a race with a "
            "concurrent request answers 409 with code `retry` and a `Retry-After` header: "
            "nothing was recorded, post it again. Every error has the same body: `message`, "
            "`code`, `extra`, `errors`. Token authentication (`Authorization: Token <key>`) "
            "with a service account or an administrator."
        ),
        request=PolymorphicProxySerializer(
            component_name="EventIngestRequest",
            serializers=[EVENT_SCHEMA, EventBatchSerializer],
            resource_type_field_name=None,
            many=False,
        ),
        responses={
            200: OpenApiResponse(EventBatchResultSerializer, description=_("All recorded.")),
            400: OpenApiResponse(
                ErrorSerializer,
                description=_(
                    "Malformed input: a body that is not plain JSON (code parse_error), or "
                    "events with invalid or implausible fields (code invalid_events; every "
                    "error with its event's index and field). Nothing recorded."
                ),
            ),
            401: OpenApiResponse(ErrorSerializer, description=_("No or bad token.")),
            403: OpenApiResponse(
                ErrorSerializer, description=_("Not a service account or administrator.")
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description=_(
                    "Refused by the book (e.g. a frozen line, an unknown loan) or an event id "
                    "reused with other data (code events_refused); or a race lost to a "
                    "concurrent request (code retry, with a Retry-After header: post the same "
                    "batch again). Nothing recorded."
                ),
            ),
            413: OpenApiResponse(
                ErrorSerializer, description=_("The body is over the size limit (too_large).")
            ),
            415: OpenApiResponse(
                ErrorSerializer, description=_("The body is not application/json.")
            ),
        },
        examples=[
            OpenApiExample("One drawdown", value=_EXAMPLE_EVENT, request_only=True),
            OpenApiExample(
                "A batch",
                value={
                    "events": [
                        _EXAMPLE_EVENT,
                        {
                            "event_id": "evt-0002",
                            "kind": "repayment",
                            "occurred_at": _WHEN,
                            "customer_no": "C00000001",
                            "loan_no": "L2026030100001",
                            "amount": 458.33,
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Recorded",
                status_codes=["200"],
                response_only=True,
                value={
                    "results": [
                        {
                            "index": 0,
                            "event_id": "evt-0001",
                            "kind": "drawdown",
                            "status": "recorded",
                            "borrower_id": 1,
                            "drawdown_id": 42,
                        }
                    ]
                },
            ),
            OpenApiExample(
                "Malformed",
                status_codes=["400"],
                response_only=True,
                value={
                    "message": "The batch was not recorded: 2 invalid field(s).",
                    "code": "invalid_events",
                    "extra": {"count": 2},
                    "errors": [
                        {
                            "index": 3,
                            "event_id": "evt-0004",
                            "field": "amount",
                            "code": "max_decimal_places",
                            "message": "Ensure that there are no more than 2 decimal places.",
                        },
                        {
                            "index": 7,
                            "event_id": "evt-0008",
                            "field": "occurred_at",
                            "code": "in_future",
                            "message": "9999-12-31T15:00:00+00:00 is in the future: later "
                            "than now by more than 300 seconds.",
                        },
                    ],
                },
            ),
            OpenApiExample(
                "Lost a race",
                status_codes=["409"],
                response_only=True,
                value={
                    "message": "The batch was not recorded: a concurrent request got there "
                    "first (deadlock). Post it again.",
                    "code": "retry",
                    "extra": {"reason": "deadlock", "retry_after": 1},
                    "errors": [],
                },
            ),
            OpenApiExample(
                "Not JSON",
                status_codes=["400"],
                response_only=True,
                value={
                    "message": "The body nests arrays and objects more than 20 levels deep.",
                    "code": "parse_error",
                    "extra": {},
                    "errors": [],
                },
            ),
            OpenApiExample(
                "Refused",
                status_codes=["409"],
                response_only=True,
                value={
                    "message": "The batch was not recorded: 1 event(s) refused.",
                    "code": "events_refused",
                    "extra": {"count": 1},
                    "errors": [
                        {
                            "index": 0,
                            "event_id": "evt-0001",
                            "field": "customer_no",
                            "code": "line_not_active",
                            "message": "The credit line is frozen: it takes no drawdown.",
                        }
                    ],
                },
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        events, envelope_errors = events_unwrap(request.data)
        try:
            if envelope_errors:
                raise EventBatchInvalid(envelope_errors)
            # IsEventPoster lets only a signed-in User with a poster role this far; DRF types
            # request.user as possibly anonymous:
            results = event_ingest(actor=request.user, events=events)  # type: ignore[arg-type]
        except EventBatchError as exc:
            return error_response(
                status_code=(
                    status.HTTP_400_BAD_REQUEST
                    if isinstance(exc, EventBatchInvalid)
                    else status.HTTP_409_CONFLICT
                ),
                message=exc.message,
                code=exc.code,
                extra=exc.extra,
                errors=exc.errors,
            )
        # A lost race (EventBatchRetry) and other refusals go to core.api.exception_handler.
        return Response({"results": results})
