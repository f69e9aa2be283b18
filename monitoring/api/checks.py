"""/api/v1/drawdown-checks/: the lending core asks before money leaves (POST); risk staff list
the recorded answers (GET, the staff page's filters) and read one (/drawdown-checks/<id>/)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import masking
from core.api import StrictJSONParser
from lending import caps
from lending.choices import Purpose
from monitoring.api.permissions import IsRiskStaff
from monitoring.api.serializers import ErrorSerializer
from monitoring.api.views import IsEventPoster
from monitoring.choices import CheckDecision
from monitoring.filters_checks import DrawdownCheckFilter
from monitoring.models import DrawdownCheck
from monitoring.selectors.checks import check_visible_to
from monitoring.services.checks import drawdown_check


class CheckPage(CursorPagination):
    """Newest first, ?limit= (default 50, at most 500) and the `next`/`previous` links' cursor:
    no COUNT and no OFFSET, however many checks there are."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = ("-checked_at", "-id")


class DrawdownCheckOutputSerializer(serializers.ModelSerializer):
    """A recorded check as staff see it: the borrower by customer number and masked name."""

    customer_no = serializers.CharField(source="borrower.customer_no", read_only=True)
    borrower_name = serializers.SerializerMethodField()

    class Meta:
        model = DrawdownCheck
        fields = [
            "id",
            "borrower_id",
            "customer_no",
            "borrower_name",
            "amount",
            "term_months",
            "purpose",
            "device_id",
            "card_last4",
            "decision",
            "reasons",
            "rule_hits",
            "line_status",
            "available",
            "dpd",
            "score",
            "checked_at",
            "alert_id",
        ]
        read_only_fields = fields

    def get_borrower_name(self, check: DrawdownCheck) -> str:
        return masking.mask_name(check.borrower.name)


class DrawdownCheckApi(generics.ListAPIView):
    """POST: approve, review or decline a drawdown before it is paid out; every answer
    recorded (the lending core). GET: the recorded answers, newest first, filtered like the
    staff page (risk staff)."""

    parser_classes = [StrictJSONParser]
    serializer_class = DrawdownCheckOutputSerializer
    filterset_class = DrawdownCheckFilter
    pagination_class = CheckPage

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "POST":
            return [IsEventPoster()]
        return [IsRiskStaff()]

    def get_queryset(self) -> QuerySet[DrawdownCheck]:
        return check_visible_to(user=self.request.user)

    class DrawdownCheckInputSerializer(serializers.Serializer):
        customer_no = serializers.CharField(max_length=32)
        amount = serializers.DecimalField(
            max_digits=14, decimal_places=2, min_value=Decimal("0.01")
        )
        term_months = serializers.IntegerField(min_value=1, max_value=caps.MAX_TERM_MONTHS)
        purpose = serializers.ChoiceField(choices=Purpose.choices)
        device_id = serializers.CharField(max_length=64, required=False, default="")
        card_no = serializers.CharField(max_length=19, required=False, default="")

    class DrawdownCheckAnswerSerializer(serializers.Serializer):
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
            200: DrawdownCheckAnswerSerializer,
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
        return Response(self.DrawdownCheckAnswerSerializer(body).data, status=status.HTTP_200_OK)

    @extend_schema(
        operation_id="drawdown_check_list",
        summary="List recorded drawdown checks",
        description=(
            "Newest first, by cursor pages. Filters (the staff page's): customer_no (prefix), "
            "borrower (id), decision, purpose, checked_from and checked_to (days, inclusive). "
            "An invalid filter value is a 400 naming it, never the unfiltered list."
        ),
        responses={
            200: DrawdownCheckOutputSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description=_("Invalid filter.")),
            403: OpenApiResponse(ErrorSerializer, description=_("Not risk staff.")),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class DrawdownCheckDetailApi(generics.RetrieveAPIView):
    """One recorded check (risk staff)."""

    permission_classes = [IsRiskStaff]
    serializer_class = DrawdownCheckOutputSerializer

    def get_queryset(self) -> QuerySet[DrawdownCheck]:
        return check_visible_to(user=self.request.user)
