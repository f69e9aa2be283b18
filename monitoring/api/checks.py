"""POST /api/v1/drawdown-checks/: the lending core asks before money leaves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import StrictJSONParser
from lending import caps
from lending.choices import Purpose
from monitoring.api.serializers import ErrorSerializer
from monitoring.api.views import IsEventPoster
from monitoring.choices import CheckDecision
from monitoring.services.checks import drawdown_check


class DrawdownCheckApi(APIView):
    """Approve, review or decline a drawdown before it is paid out; every answer recorded."""

    permission_classes = [IsEventPoster]
    parser_classes = [StrictJSONParser]

    class DrawdownCheckInputSerializer(serializers.Serializer):
        customer_no = serializers.CharField(max_length=32)
        amount = serializers.DecimalField(
            max_digits=14, decimal_places=2, min_value=Decimal("0.01")
        )
        term_months = serializers.IntegerField(min_value=1, max_value=caps.MAX_TERM_MONTHS)
        purpose = serializers.ChoiceField(choices=Purpose.choices)
        device_id = serializers.CharField(max_length=64, required=False, default="")
        card_no = serializers.CharField(max_length=19, required=False, default="")

    class DrawdownCheckOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        decision = serializers.ChoiceField(choices=CheckDecision.choices)
        reasons = serializers.ListField(child=serializers.DictField())
        checked_at = serializers.DateTimeField()
        alert_id = serializers.IntegerField(allow_null=True)

    @extend_schema(
        operation_id="drawdown_check",
        summary="Ask whether a drawdown may go ahead",
        description=(
            "Answers approve, review or decline with reason codes: from the line (status, "
            "available, days past due: a line past due is never approved), the purpose's "
            "tolerance in the limit policy in force, and the real-time monitoring rules "
            "judged on the drawdown as if paid out now. Nothing is paid out or recorded in "
            "the book; the answer itself is recorded, and a review opens a case."
        ),
        request=DrawdownCheckInputSerializer,
        responses={
            200: DrawdownCheckOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description=_("Invalid input.")),
            403: OpenApiResponse(ErrorSerializer, description=_("Not the lending core.")),
            409: OpenApiResponse(ErrorSerializer, description=_("Unknown borrower.")),
        },
    )
    def post(self, request: Request) -> Response:
        payload = self.DrawdownCheckInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(payload.validated_data)
        check = drawdown_check(actor=request.user, **data)  # type: ignore[arg-type]
        body = {
            "id": check.pk,
            "decision": check.decision,
            "reasons": check.reasons,
            "checked_at": check.checked_at,
            "alert_id": check.alert_id,
        }
        return Response(self.DrawdownCheckOutputSerializer(body).data, status=status.HTTP_200_OK)
