from __future__ import annotations

from django.urls import path

from decisions.api import overrides

# Included under api/v1/ by riskops/urls.py, without a namespace.
urlpatterns = [
    path("overrides/", overrides.ProposalListApi.as_view(), name="override-list-api"),
    path("overrides/inbox/", overrides.ProposalInboxApi.as_view(), name="override-inbox-api"),
    path("overrides/<int:pk>/", overrides.ProposalDetailApi.as_view(), name="override-detail-api"),
    path(
        "overrides/<int:pk>/evidence/",
        overrides.ProposalEvidenceApi.as_view(),
        name="override-evidence-api",
    ),
    path(
        "overrides/<int:pk>/<slug:action>/",
        overrides.ProposalDecideApi.as_view(),
        name="override-decide-api",
    ),
]
