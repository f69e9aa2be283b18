from __future__ import annotations

from django.urls import path

from monitoring.views import alerts, cases, checks, portal, rules, timeline

# Included under monitoring/ by riskops/urls.py: reverse("monitoring:rule-list").
# One block per room; add yours below (alerts, cases, borrowers, ...).
app_name = "monitoring"
urlpatterns = [
    # rules (H5)
    path("rules/", rules.rule_list, name="rule-list"),
    path("rules/<slug:kind>/", rules.rule_detail, name="rule-detail"),
    path("rules/<slug:kind>/live/", rules.rule_live, name="rule-live"),
    path("rules/<slug:kind>/versions/new/", rules.version_new, name="rule-version-new"),
    path(
        "rules/<slug:kind>/versions/<int:number>/action/",
        rules.version_action,
        name="rule-version-action",
    ),
    path("rules/<slug:kind>/backtests/", rules.backtest_panel, name="rule-backtests"),
    path("rules/<slug:kind>/backtests/new/", rules.backtest_start, name="rule-backtest-start"),
    path("rules/<slug:kind>/test/", rules.test_panel, name="rule-test"),
    # the borrower's timeline and open-case badge, pulled into the borrower page (H7)
    path(
        "borrowers/<int:borrower_id>/timeline/",
        timeline.borrower_timeline_view,
        name="borrower-timeline",
    ),
    path(
        "borrowers/<int:borrower_id>/open-cases/",
        timeline.borrower_open_cases_view,
        name="borrower-open-cases",
    ),
    # alerts (H10)
    path("alerts/", alerts.alert_list, name="alert-list"),
    path("alerts/<int:alert_id>/", alerts.alert_detail, name="alert-detail"),
    # drawdown checks (issue 8)
    path("checks/", checks.check_list, name="drawdown-check-list"),
    # cases and queues (H6)
    path("cases/", cases.case_list, name="case-list"),
    path("cases/mine/", cases.my_cases, name="my-cases"),
    path("cases/export.csv", cases.case_export, name="case-export"),
    path("cases/bulk/", cases.case_bulk, name="case-bulk"),
    path("cases/team/", cases.team_view, name="case-team"),
    path("cases/pulse/", cases.case_pulse_view, name="case-pulse"),
    path("queues/<slug:kind>/", cases.queue_cases, name="queue-cases"),
    path("queues/<slug:kind>/next/", cases.case_next_view, name="case-next"),
    path("queues/<slug:kind>/sla/", cases.queue_sla_view, name="queue-sla"),
    path("cases/<int:case_id>/", cases.case_detail, name="case-detail"),
    path("cases/<int:case_id>/claim/", cases.case_claim_view, name="case-claim"),
    path("cases/<int:case_id>/release/", cases.case_release_view, name="case-release"),
    path("cases/<int:case_id>/assign/", cases.case_assign_view, name="case-assign"),
    path("cases/<int:case_id>/comment/", cases.case_comment_view, name="case-comment"),
    path("cases/<int:case_id>/evidence/", cases.case_evidence_view, name="case-evidence"),
    path(
        "cases/<int:case_id>/evidence/<int:evidence_id>/",
        cases.case_evidence_download,
        name="case-evidence-download",
    ),
    path("cases/<int:case_id>/resolve/", cases.case_resolve_view, name="case-resolve"),
    path("cases/<int:case_id>/reopen/", cases.case_reopen_view, name="case-reopen"),
    path("cases/<int:case_id>/limit-cut/", cases.case_limit_cut_view, name="case-limit-cut"),
    path("cases/<int:case_id>/documents/", cases.case_documents_view, name="case-documents"),
    path(
        "cases/<int:case_id>/documents/received/",
        cases.case_documents_received_view,
        name="case-documents-received",
    ),
    path(
        "cases/<int:case_id>/line/<str:action>/",
        cases.case_line_view,
        name="case-line",
    ),
    # the borrower sends requested documents (the portal's notice links here; issue 8)
    path("my-documents/<int:notice_id>/", portal.my_documents, name="my-documents"),
]
