"""Rules and their versions over the API, with the pages' permissions: every risk staff
member reads; a manager, the head of risk or an administrator drafts, moves versions and
runs backtests.

GET  /api/v1/rules/                                   every rule with its live figures
GET  /api/v1/rules/<kind>/                            one rule with all its versions
POST /api/v1/rules/<kind>/versions/                   {"params", "severity", "enabled", "note"}
POST /api/v1/rules/<kind>/versions/<n>/<action>/      action: shadow, activate, retire
GET  /api/v1/rules/<kind>/backtests/                  the rule's latest backtests
POST /api/v1/rules/<kind>/backtests/                  {"version", "window_start", "window_end"}

Refusals are the services' DomainErrors: 409 with their code (rule_params_invalid with
extra.errors by parameter, rule_version_wrong_status, backtest_window_invalid).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.api.permissions import IsRiskStaff
from monitoring.choices import RuleKind, Severity
from monitoring.models import Backtest, Rule, RuleVersion
from monitoring.selectors.rules import backtests_of, rule_rows, rule_versions, version_precision
from monitoring.services import graph  # noqa: F401 - registers the ring rule's thresholds
from monitoring.services.backtest import BACKTEST_ROLES, backtest_request
from monitoring.services.graph import ring_params
from monitoring.services.rules import (
    RULE_EDITOR_ROLES,
    rule_version_activate,
    rule_version_draft,
    rule_version_retire,
    rule_version_shadow,
)

if TYPE_CHECKING:
    from accounts.models import User


def _actor(request: Request) -> User:
    """The signed-in staff member (IsRiskStaff has turned everyone else away)."""
    return cast("User", request.user)


class IsRuleEditor(IsRiskStaff):
    """Reads for every risk staff member; writes for those who change rules (as the pages)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        roles = BACKTEST_ROLES if getattr(view, "backtests", False) else RULE_EDITOR_ROLES
        return _actor(request).role in roles


class VersionOutputSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )
    activated_by = serializers.CharField(
        source="activated_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = RuleVersion
        fields = [
            "version",
            "status",
            "params",
            "severity",
            "enabled",
            "note",
            "created_at",
            "created_by",
            "activated_at",
            "activated_by",
            "shadow_from",
            "retired_at",
        ]
        read_only_fields = fields


class RuleRowSerializer(serializers.Serializer):
    kind = serializers.CharField(source="rule.kind")
    name = serializers.CharField(source="rule.get_kind_display")
    category = serializers.CharField(source="rule.category")
    active_version = serializers.IntegerField(
        source="active.version", allow_null=True, default=None
    )
    shadow_version = serializers.IntegerField(
        source="shadow.version", allow_null=True, default=None
    )
    severity = serializers.IntegerField(source="active.severity", allow_null=True, default=None)
    enabled = serializers.BooleanField(source="active.enabled", default=False)
    alerts_7d = serializers.IntegerField()
    alerts_30d = serializers.IntegerField()
    precision = serializers.DecimalField(
        source="precision.rate", max_digits=6, decimal_places=4, allow_null=True
    )
    confirmed = serializers.IntegerField(source="precision.confirmed")
    false_positive = serializers.IntegerField(source="precision.false_positive")
    lift = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)


class BacktestOutputSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="rule_version.version", read_only=True)

    class Meta:
        model = Backtest
        fields = [
            "id",
            "version",
            "window_start",
            "window_end",
            "status",
            "requested_at",
            "finished_at",
            "events_replayed",
            "alerts",
            "borrowers",
            "population",
            "hit_bad",
            "population_bad",
            "hit_bad_rate",
            "base_rate",
            "lift",
            "outcome_incomplete",
            "result",
            "error",
        ]
        read_only_fields = fields


def _rule(kind: str) -> Rule:
    return get_object_or_404(Rule, kind=kind if kind in RuleKind.values else "")


class RuleListApi(APIView):
    permission_classes = [IsRiskStaff]

    @extend_schema(responses=RuleRowSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RuleRowSerializer(rule_rows(), many=True).data)


class RuleDetailApi(APIView):
    permission_classes = [IsRiskStaff]

    @extend_schema(operation_id="v1_rules_detail", responses=VersionOutputSerializer(many=True))
    def get(self, request: Request, kind: str) -> Response:
        rule = _rule(kind)
        versions = list(rule_versions(rule))
        precision = version_precision([v.pk for v in versions])
        rows = []
        for version, data in zip(
            versions, VersionOutputSerializer(versions, many=True).data, strict=True
        ):
            found = precision[version.pk]
            rows.append(
                {
                    **data,
                    "precision": str(found.rate) if found.rate is not None else None,
                    "confirmed": found.confirmed,
                    "false_positive": found.false_positive,
                }
            )
        return Response(
            {
                "kind": rule.kind,
                "name": str(rule.get_kind_display()),
                "category": rule.category,
                "versions": rows,
            }
        )


class RuleVersionDraftApi(APIView):
    permission_classes = [IsRuleEditor]

    class RuleVersionDraftInputSerializer(serializers.Serializer):
        params = serializers.DictField(default=dict)
        severity = serializers.ChoiceField(choices=Severity.choices, required=False)
        enabled = serializers.BooleanField(default=True)
        note = serializers.CharField(max_length=500)

    @extend_schema(
        request=RuleVersionDraftInputSerializer, responses={201: VersionOutputSerializer}
    )
    def post(self, request: Request, kind: str) -> Response:
        rule = _rule(kind)
        payload = self.RuleVersionDraftInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if rule.kind == RuleKind.LINKED_IDENTITIES:
            ring_params(data["params"])  # the ring rule's own cross-field checks (409)
        version = rule_version_draft(
            actor=_actor(request),
            rule=rule,
            params=data["params"],
            severity=data.get("severity"),
            enabled=data["enabled"],
            note=data["note"],
        )
        return Response(VersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


ACTIONS = {
    "shadow": rule_version_shadow,
    "activate": rule_version_activate,
    "retire": rule_version_retire,
}


class RuleVersionActionApi(APIView):
    permission_classes = [IsRuleEditor]

    @extend_schema(
        operation_id="v1_rules_versions_action", request=None, responses=VersionOutputSerializer
    )
    def post(self, request: Request, kind: str, number: int, action: str) -> Response:
        rule = _rule(kind)
        version = get_object_or_404(RuleVersion, rule=rule, version=number)
        service = ACTIONS.get(action)
        if service is None:
            return Response({"message": "unknown action", "code": "not_found"}, status=404)
        version = service(actor=_actor(request), version=version)
        return Response(VersionOutputSerializer(version).data)


class RuleBacktestApi(APIView):
    permission_classes = [IsRuleEditor]
    backtests = True

    class BacktestStartInputSerializer(serializers.Serializer):
        version = serializers.IntegerField(min_value=1)
        window_start = serializers.DateTimeField()
        window_end = serializers.DateTimeField()

    @extend_schema(responses=BacktestOutputSerializer(many=True))
    def get(self, request: Request, kind: str) -> Response:
        return Response(BacktestOutputSerializer(backtests_of(_rule(kind)), many=True).data)

    @extend_schema(request=BacktestStartInputSerializer, responses={202: BacktestOutputSerializer})
    def post(self, request: Request, kind: str) -> Response:
        rule = _rule(kind)
        payload = self.BacktestStartInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        version = get_object_or_404(RuleVersion, rule=rule, version=data["version"])
        backtest = backtest_request(
            actor=_actor(request),
            version=version,
            window_start=data["window_start"],
            window_end=data["window_end"],
        )
        return Response(BacktestOutputSerializer(backtest).data, status=status.HTTP_202_ACCEPTED)
