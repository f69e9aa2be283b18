from __future__ import annotations

from django.urls import path

from monitoring.api import alerts, cases, checks, rules
from monitoring.api.views import EventIngestApi

# Included under api/v1/ by riskops/urls.py, without a namespace: reverse("event-ingest").
urlpatterns = [
    path("events/", EventIngestApi.as_view(), name="event-ingest"),
    path("drawdown-checks/", checks.DrawdownCheckApi.as_view(), name="drawdown-check-api"),
    path(
        "drawdown-checks/<int:pk>/",
        checks.DrawdownCheckDetailApi.as_view(),
        name="drawdown-check-detail-api",
    ),
    # alerts and cases (H6)
    path("alerts/", alerts.AlertListApi.as_view(), name="alert-list-api"),
    path("alerts/<int:pk>/", alerts.AlertDetailApi.as_view(), name="alert-detail-api"),
    path("cases/", cases.CaseListApi.as_view(), name="case-list-api"),
    path("cases/next/", cases.CaseNextApi.as_view(), name="case-next-api"),
    path("cases/<int:case_id>/", cases.CaseDetailApi.as_view(), name="case-detail-api"),
    path("cases/<int:case_id>/claim/", cases.CaseClaimApi.as_view(), name="case-claim-api"),
    path("cases/<int:case_id>/comment/", cases.CaseCommentApi.as_view(), name="case-comment-api"),
    path("cases/<int:case_id>/resolve/", cases.CaseResolveApi.as_view(), name="case-resolve-api"),
    path(
        "cases/<int:case_id>/request-documents/",
        cases.CaseDocumentsRequestApi.as_view(),
        name="case-documents-api",
    ),
    # rules and their versions (H5)
    path("rules/", rules.RuleListApi.as_view(), name="rule-list-api"),
    path("rules/<slug:kind>/", rules.RuleDetailApi.as_view(), name="rule-detail-api"),
    path(
        "rules/<slug:kind>/versions/",
        rules.RuleVersionDraftApi.as_view(),
        name="rule-version-draft-api",
    ),
    path(
        "rules/<slug:kind>/versions/<int:number>/<slug:action>/",
        rules.RuleVersionActionApi.as_view(),
        name="rule-version-action-api",
    ),
    path("rules/<slug:kind>/backtests/", rules.RuleBacktestApi.as_view(), name="rule-backtest-api"),
]
