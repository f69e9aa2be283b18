"""Alerts over the API: GET /api/v1/alerts/ (filtered like the pages) and /alerts/<id>/."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import generics, serializers
from rest_framework.pagination import LimitOffsetPagination

from monitoring.api.permissions import IsRiskStaff
from monitoring.filters import AlertFilter
from monitoring.models import Alert
from monitoring.selectors.cases import alert_visible_to


class ListPage(LimitOffsetPagination):
    """?limit= (default 50, at most 500) and ?offset=; answers count, next, previous, results."""

    default_limit = 50
    max_limit = 500


class AlertOutputSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule_version.rule.kind", read_only=True)
    rule_version = serializers.IntegerField(source="rule_version.version", read_only=True)
    customer_no = serializers.CharField(source="borrower.customer_no", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "borrower_id",
            "customer_no",
            "rule",
            "rule_version",
            "category",
            "severity",
            "evidence",
            "event_id",
            "occurred_at",
            "raised_at",
            "case_id",
        ]
        read_only_fields = fields


class AlertListApi(generics.ListAPIView):
    """Alerts, newest first, filtered by category, minimum severity, rule, customer number
    prefix, case (or none) and a raised-at window: the parameters of the pages' filter."""

    permission_classes = [IsRiskStaff]
    serializer_class = AlertOutputSerializer
    filterset_class = AlertFilter
    pagination_class = ListPage

    def get_queryset(self) -> QuerySet[Alert]:
        return alert_visible_to(user=self.request.user).order_by("-raised_at", "-id")


class AlertDetailApi(generics.RetrieveAPIView):
    permission_classes = [IsRiskStaff]
    serializer_class = AlertOutputSerializer

    def get_queryset(self) -> QuerySet[Alert]:
        return alert_visible_to(user=self.request.user)
