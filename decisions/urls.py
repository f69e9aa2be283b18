from __future__ import annotations

from django.urls import path

from decisions.views import scoring as views

app_name = "decisions"
urlpatterns = [
    path("scorecards/", views.scorecard_list_view, name="scorecard-list"),
    path("scorecards/<int:model_id>/", views.scorecard_detail, name="scorecard-detail"),
    path("scorecards/<int:model_id>/status/", views.scorecard_status_view, name="scorecard-status"),
    path("features/", views.feature_list, name="feature-list"),
    path("policies/", views.policy_list, name="policy-list"),
    path("policies/draft/", views.policy_draft_view, name="policy-draft"),
    path("policies/draft/simulation/", views.policy_simulate_view, name="policy-simulate"),
    path("policies/<int:policy_id>/", views.policy_detail, name="policy-detail"),
    path(
        "policies/<int:policy_id>/simulation/",
        views.policy_version_simulation,
        name="policy-simulation",
    ),
    path("policies/<int:policy_id>/activate/", views.policy_activate_view, name="policy-activate"),
    path("borrowers/<int:borrower_id>/score/", views.borrower_score, name="borrower-score"),
    path("borrowers/<int:borrower_id>/reasons/", views.borrower_reasons, name="borrower-reasons"),
]
