from __future__ import annotations

from django.urls import path

from decisions.views import policies, reports, runs, scoring

app_name = "decisions"
urlpatterns = [
    path("scorecards/", scoring.scorecard_list_view, name="scorecard-list"),
    path("scorecards/compare/", reports.model_comparison_view, name="model-comparison"),
    path("scorecards/<int:model_id>/", scoring.scorecard_detail, name="scorecard-detail"),
    path(
        "scorecards/<int:model_id>/status/", scoring.scorecard_status_view, name="scorecard-status"
    ),
    path("features/", scoring.feature_list, name="feature-list"),
    path("policies/", policies.policy_list_view, name="policy-list"),
    path("policies/draft/", policies.policy_draft_view, name="policy-draft"),
    path("policies/draft/simulation/", policies.policy_simulate_view, name="policy-simulate"),
    path("policies/<int:policy_id>/", policies.policy_detail, name="policy-detail"),
    path(
        "policies/<int:policy_id>/simulation/",
        policies.policy_version_simulation,
        name="policy-simulation",
    ),
    path(
        "policies/<int:policy_id>/activate/",
        policies.policy_activate_view,
        name="policy-activate",
    ),
    path("simulations/<int:simulation_id>/", policies.simulation_detail, name="simulation-detail"),
    path("runs/", runs.run_list, name="run-list"),
    path("runs/<int:run_pk>/", runs.run_detail, name="run-detail"),
    path(
        "runs/<int:run_pk>/chunks/<int:index>/requeue/",
        runs.chunk_requeue_view,
        name="chunk-requeue",
    ),
    path("borrowers/<int:borrower_id>/score/", scoring.borrower_score, name="borrower-score"),
    path("borrowers/<int:borrower_id>/reasons/", scoring.borrower_reasons, name="borrower-reasons"),
]

# Limit overrides (decisions.views.overrides).
from decisions.views import overrides as _overrides  # noqa: E402

urlpatterns += [
    path("overrides/", _overrides.inbox, name="override-inbox"),
    path("overrides/all/", _overrides.all_proposals, name="override-list"),
    path("overrides/next/", _overrides.next_item, name="override-next"),
    path("overrides/queue/", _overrides.queue_panel, name="override-queue-panel"),
    path("overrides/matrix/", _overrides.matrix, name="override-matrix"),
    path("overrides/report/", _overrides.report, name="override-report"),
    path("overrides/<int:pk>/", _overrides.detail, name="override-detail"),
    path("overrides/<int:pk>/decide/", _overrides.decide, name="override-decide"),
    path("overrides/<int:pk>/withdraw/", _overrides.withdraw, name="override-withdraw"),
    path("overrides/<int:pk>/edit/", _overrides.resubmit, name="override-resubmit"),
    path(
        "overrides/<int:pk>/evidence/<int:evidence_id>/",
        _overrides.evidence_file,
        name="override-evidence",
    ),
    path(
        "borrowers/<int:borrower_id>/overrides/",
        _overrides.borrower_panel,
        name="override-borrower-panel",
    ),
    path(
        "borrowers/<int:borrower_id>/overrides/new/",
        _overrides.propose,
        name="override-propose",
    ),
]
