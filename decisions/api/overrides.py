"""Override proposals and decisions over the API, with the pages' rules (the same services).

GET  /api/v1/overrides/                       proposals, newest first (?status=, ?mine=1)
POST /api/v1/overrides/                       propose: {"borrower_id", "kind", "new_limit",
                                              "until", "reason_code", "justification",
                                              "case_ref"}
GET  /api/v1/overrides/inbox/                 what the caller may decide, oldest first
GET  /api/v1/overrides/<id>/                  one proposal, with whether the caller may decide
POST /api/v1/overrides/<id>/approve/          {"note", "password"} (password: large changes)
POST /api/v1/overrides/<id>/reject/           {"note"}
POST /api/v1/overrides/<id>/request-changes/  {"note"}
POST /api/v1/overrides/<id>/evidence/         multipart "files" (one or more): the proposer
                                              adds evidence while the proposal is in flight

Refusals are the services' DomainErrors: 409 with their code (no_authority, four_eyes,
override_hard_block, already_decided, step_up_required, ...). Risk staff only. Evidence files
go as multipart/form-data to .../evidence/ (the same checks as the pages' file fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from decisions.models.overrides import OverrideKind, OverrideProposal, OverrideStatus
from decisions.selectors.overrides import inbox_for, proposal_for, proposals_all
from decisions.services import (
    override_approve,
    override_propose,
    override_reject,
    override_request_changes,
)
from decisions.services.override_evidence import override_evidence_add
from decisions.services.overrides import may_decide, needs_step_up
from lending.models import CreditLine

if TYPE_CHECKING:
    from accounts.models import User


class IsRiskStaff(BasePermission):
    """Active risk staff, as on the pages; the services check who may decide what."""

    message = _("Only risk staff may use this endpoint.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(getattr(request.user, "is_risk_staff", False))


def _actor(request: Request) -> User:
    return cast("User", request.user)


class ProposalSerializer(serializers.ModelSerializer):
    customer_no = serializers.CharField(source="borrower.customer_no", read_only=True)
    reason_code = serializers.CharField(source="reason.code", read_only=True)
    proposed_by = serializers.CharField(source="proposed_by.username", read_only=True)
    decided_by = serializers.CharField(
        source="decided_by.username", read_only=True, allow_null=True, default=None
    )
    # Plain strings in the schema: their values are listed here, not as shared enum components.
    kind = serializers.CharField(read_only=True, help_text="limit, temporary, freeze, unfreeze")
    status = serializers.CharField(
        read_only=True,
        help_text="pending, changes (sent back to the proposer), approved, rejected, expired, "
        "withdrawn",
    )
    evidence = serializers.SerializerMethodField()

    class Meta:
        model = OverrideProposal
        fields = [
            "id",
            "borrower_id",
            "customer_no",
            "kind",
            "direction",
            "old_limit",
            "new_limit",
            "until",
            "reason_code",
            "justification",
            "case_ref",
            "band",
            "score",
            "status",
            "revision",
            "proposed_by",
            "proposed_at",
            "submitted_at",
            "expires_at",
            "review_note",
            "decided_by",
            "decided_at",
            "decision_note",
            "stepped_up",
            "reverted_at",
            "evidence",
        ]
        read_only_fields = fields

    def get_evidence(self, obj: OverrideProposal) -> list[dict[str, Any]]:
        return [
            {"id": e.pk, "name": e.original_name, "type": e.content_type, "size": e.size}
            for e in obj.evidence.all()
        ]


class ProposalDetailSerializer(ProposalSerializer):
    may_decide = serializers.SerializerMethodField()
    needs_password = serializers.SerializerMethodField()

    class Meta(ProposalSerializer.Meta):
        fields = [*ProposalSerializer.Meta.fields, "may_decide", "needs_password"]
        read_only_fields = fields

    def get_may_decide(self, obj: OverrideProposal) -> bool:
        return may_decide(self.context["user"], obj)

    def get_needs_password(self, obj: OverrideProposal) -> bool:
        user = self.context["user"]
        return may_decide(user, obj) and needs_step_up(user, obj)


class ProposeSerializer(serializers.Serializer):
    # Bounded as the database's ids are: a larger number is a 400, not an overflow.
    borrower_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    kind = serializers.CharField(
        max_length=10, help_text="limit, temporary (with until), freeze, unfreeze"
    )
    new_limit = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    until = serializers.DateField(required=False, allow_null=True)
    reason_code = serializers.CharField(max_length=32)
    justification = serializers.CharField(max_length=4000)
    case_ref = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate_kind(self, value: str) -> str:
        if value not in OverrideKind.values:
            raise serializers.ValidationError(_("Unknown kind of change."))
        return value


class DecisionSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=256, required=False, allow_blank=True, default="", write_only=True
    )


class Page(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


def _detail(proposal: OverrideProposal, user: User, code: int = 200) -> Response:
    return Response(ProposalDetailSerializer(proposal, context={"user": user}).data, status=code)


class ProposalListApi(generics.ListCreateAPIView):
    """Proposals, newest first; POST proposes a change to a borrower's line."""

    permission_classes = [IsRiskStaff]
    serializer_class = ProposalSerializer
    pagination_class = Page

    def get_queryset(self) -> QuerySet[OverrideProposal]:
        status_ = self.request.query_params.get("status", "")
        qs = proposals_all(status=status_ if status_ in OverrideStatus.values else "")
        if self.request.query_params.get("mine") == "1":
            qs = qs.filter(proposed_by=_actor(self.request))
        return qs.prefetch_related("evidence")

    @extend_schema(
        operation_id="overrides_propose",
        request=ProposeSerializer,
        responses={201: ProposalDetailSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ProposeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        line = get_object_or_404(CreditLine, borrower_id=v["borrower_id"])
        proposal = override_propose(
            actor=_actor(request),
            line=line,
            kind=v["kind"],
            new_limit=v.get("new_limit"),
            until=v.get("until"),
            reason_code=v["reason_code"],
            justification=v["justification"],
            case_ref=v.get("case_ref", ""),
        )
        return _detail(proposal, _actor(request), status.HTTP_201_CREATED)


class ProposalInboxApi(APIView):
    """What the caller may decide now, oldest first, with age and whether it is past SLA."""

    permission_classes = [IsRiskStaff]

    @extend_schema(responses={200: ProposalSerializer(many=True)})
    def get(self, request: Request) -> Response:
        items = inbox_for(_actor(request))
        rows = []
        for item in items:
            row = dict(ProposalSerializer(item.proposal).data)
            row["age_seconds"] = int(item.age.total_seconds())
            row["past_sla"] = item.overdue
            row["needs_password"] = item.step_up
            rows.append(row)
        return Response({"count": len(rows), "results": rows})


class ProposalDetailApi(APIView):
    permission_classes = [IsRiskStaff]

    @extend_schema(responses={200: ProposalDetailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return _detail(proposal_for(_actor(request), pk), _actor(request))


DECIDE = {
    "approve": override_approve,
    "reject": override_reject,
    "request-changes": override_request_changes,
}


class ProposalDecideApi(APIView):
    """Approve, reject or request changes; a decision someone else made first is 409
    already_decided, with the proposal's status in the message."""

    permission_classes = [IsRiskStaff]

    @extend_schema(
        operation_id="overrides_decide",
        request=DecisionSerializer,
        responses={200: ProposalDetailSerializer},
    )
    def post(self, request: Request, pk: int, action: str) -> Response:
        decide = DECIDE.get(action)
        if decide is None:
            raise Http404
        data = DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = _actor(request)
        proposal = proposal_for(user, pk)
        kwargs: dict[str, Any] = {"actor": user, "proposal": proposal}
        kwargs["note"] = data.validated_data["note"]
        if action == "approve":
            kwargs["password"] = data.validated_data["password"] or None
        proposal = decide(**kwargs)
        return _detail(proposal, user)


class EvidenceUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        help_text="PDF, JPEG or PNG files, checked by their first bytes.",
    )


class ProposalEvidenceApi(APIView):
    """The proposer adds evidence files (multipart "files") to their proposal in flight:
    201 with the proposal; 409 not_your_proposal, already_decided or evidence_refused."""

    permission_classes = [IsRiskStaff]
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="overrides_evidence_add",
        request={"multipart/form-data": EvidenceUploadSerializer},
        responses={201: ProposalDetailSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        user = _actor(request)
        proposal = proposal_for(user, pk)
        override_evidence_add(actor=user, proposal=proposal, files=request.FILES.getlist("files"))
        return _detail(proposal_for(user, pk), user, status.HTTP_201_CREATED)
