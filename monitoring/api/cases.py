"""Cases over the API, with the pages' filters and rules.

GET  /api/v1/cases/                 list (CaseFilter's parameters; all statuses unless ?status=)
GET  /api/v1/cases/<id>/            one case with its alerts and comments
POST /api/v1/cases/next/            {"queue": "fraud"}: the queue's most urgent case, now yours
POST /api/v1/cases/<id>/claim/      take the case
POST /api/v1/cases/<id>/comment/    {"body": "..."}
POST /api/v1/cases/<id>/resolve/    {"disposition": "...", "note": "..."}
POST /api/v1/cases/<id>/request-documents/
                                    {"documents": ["income_proof", "other"], "other": "...",
                                     "note": "..."}: the borrower is asked; the case waits

Refusals are the services' DomainErrors: 409 with their code (e.g. case_assigned_to_another,
disposition_required, queue_empty). Staff only (IsRiskStaff), as the pages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lending.choices import DocumentKind
from lending.services.notices import OTHER_DOCUMENT_MAX_LENGTH
from monitoring.api.alerts import AlertOutputSerializer, ListPage
from monitoring.api.permissions import IsRiskStaff
from monitoring.choices import QueueKind
from monitoring.filters import CaseFilter
from monitoring.models import Case, CaseComment
from monitoring.selectors.cases import case_visible_to, queue_visible_to
from monitoring.services.case_documents import case_documents_request
from monitoring.services.cases import (
    COMMENT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    case_claim,
    case_comment,
    case_next,
    case_resolve,
    queues_ensure,
)

if TYPE_CHECKING:
    from accounts.models import User


def _actor(request: Request) -> User:
    """The signed-in staff member (IsRiskStaff has turned everyone else away)."""
    return cast("User", request.user)


class CaseOutputSerializer(serializers.ModelSerializer):
    queue = serializers.CharField(source="queue.kind", read_only=True)
    customer_no = serializers.CharField(source="borrower.customer_no", read_only=True)
    assignee = serializers.CharField(
        source="assignee.username", read_only=True, allow_null=True, default=None
    )
    resolved_by = serializers.CharField(
        source="resolved_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Case
        fields = [
            "id",
            "queue",
            "category",
            "status",
            "priority",
            "exposure",
            "borrower_id",
            "customer_no",
            "opened_at",
            "due_at",
            "assignee",
            "assigned_at",
            "disposition",
            "resolution_note",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields


class CommentOutputSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)

    class Meta:
        model = CaseComment
        fields = ["id", "author", "body", "created_at"]
        read_only_fields = fields


class CaseDetailSerializer(CaseOutputSerializer):
    alerts = AlertOutputSerializer(many=True, read_only=True)
    comments = CommentOutputSerializer(many=True, read_only=True)

    class Meta(CaseOutputSerializer.Meta):
        fields = [*CaseOutputSerializer.Meta.fields, "alerts", "comments"]
        read_only_fields = fields


def _detail(case_id: int, request: Request) -> Response:
    case = get_object_or_404(
        case_visible_to(user=request.user).prefetch_related(
            "alerts__rule_version__rule", "alerts__borrower", "comments__author"
        ),
        pk=case_id,
    )
    return Response(CaseDetailSerializer(case).data)


class CaseListApi(generics.ListAPIView):
    """Cases, most urgent first (or ?sort=), filtered like the case pages."""

    permission_classes = [IsRiskStaff]
    serializer_class = CaseOutputSerializer
    filterset_class = CaseFilter
    pagination_class = ListPage

    def get_queryset(self) -> QuerySet[Case]:
        return case_visible_to(user=self.request.user).order_by("-priority", "due_at", "id")


class CaseDetailApi(APIView):
    permission_classes = [IsRiskStaff]

    @extend_schema(responses=CaseDetailSerializer)
    def get(self, request: Request, case_id: int) -> Response:
        return _detail(case_id, request)


class CaseNextApi(APIView):
    """Pull the queue's most urgent unassigned open case; it is assigned to you."""

    permission_classes = [IsRiskStaff]

    class CaseNextInputSerializer(serializers.Serializer):
        queue = serializers.ChoiceField(choices=QueueKind.choices)

    @extend_schema(request=CaseNextInputSerializer, responses=CaseDetailSerializer)
    def post(self, request: Request) -> Response:
        payload = self.CaseNextInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        queues_ensure()
        queue = get_object_or_404(
            queue_visible_to(user=request.user), kind=payload.validated_data["queue"]
        )
        case = case_next(actor=_actor(request), queue=queue)
        return _detail(case.pk, request)


class CaseClaimApi(APIView):
    permission_classes = [IsRiskStaff]

    @extend_schema(request=None, responses=CaseDetailSerializer)
    def post(self, request: Request, case_id: int) -> Response:
        case = get_object_or_404(case_visible_to(user=request.user), pk=case_id)
        case_claim(actor=_actor(request), case=case)
        return _detail(case_id, request)


class CaseCommentApi(APIView):
    permission_classes = [IsRiskStaff]

    class CaseCommentInputSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=COMMENT_MAX_LENGTH, allow_blank=True)

    @extend_schema(request=CaseCommentInputSerializer, responses={201: CommentOutputSerializer})
    def post(self, request: Request, case_id: int) -> Response:
        payload = self.CaseCommentInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        case = get_object_or_404(case_visible_to(user=request.user), pk=case_id)
        comment = case_comment(
            actor=_actor(request), case=case, body=payload.validated_data["body"]
        )
        return Response(CommentOutputSerializer(comment).data, status=status.HTTP_201_CREATED)


class CaseResolveApi(APIView):
    permission_classes = [IsRiskStaff]

    class CaseResolveInputSerializer(serializers.Serializer):
        # Blank allowed here: the service refuses with its own code (disposition_required).
        disposition = serializers.CharField(max_length=32, allow_blank=True, required=False)
        note = serializers.CharField(max_length=NOTE_MAX_LENGTH, allow_blank=True, required=False)

    @extend_schema(request=CaseResolveInputSerializer, responses=CaseDetailSerializer)
    def post(self, request: Request, case_id: int) -> Response:
        payload = self.CaseResolveInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        case = get_object_or_404(case_visible_to(user=request.user), pk=case_id)
        case_resolve(
            actor=_actor(request),
            case=case,
            disposition=payload.validated_data.get("disposition", ""),
            note=payload.validated_data.get("note", ""),
        )
        return _detail(case_id, request)


class CaseDocumentsRequestApi(APIView):
    """Ask the case's borrower for documents (a notice in the portal); the case waits."""

    permission_classes = [IsRiskStaff]

    class CaseDocumentsRequestInputSerializer(serializers.Serializer):
        # Empty allowed here: the service refuses with its own code (documents_required).
        documents = serializers.ListField(
            child=serializers.ChoiceField(choices=DocumentKind.choices),
            allow_empty=True,
            max_length=len(DocumentKind.choices),
        )
        other = serializers.CharField(
            max_length=OTHER_DOCUMENT_MAX_LENGTH, allow_blank=True, required=False
        )
        note = serializers.CharField(max_length=NOTE_MAX_LENGTH, allow_blank=True, required=False)

    @extend_schema(request=CaseDocumentsRequestInputSerializer, responses=CaseDetailSerializer)
    def post(self, request: Request, case_id: int) -> Response:
        payload = self.CaseDocumentsRequestInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        case = get_object_or_404(case_visible_to(user=request.user), pk=case_id)
        data = payload.validated_data
        case_documents_request(
            actor=_actor(request),
            case=case,
            documents=data["documents"],
            other=data.get("other", ""),
            note=data.get("note", ""),
        )
        return _detail(case_id, request)
