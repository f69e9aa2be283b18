from __future__ import annotations

from django.urls import path

from monitoring.views import rules, timeline

# Included under monitoring/ by riskops/urls.py: reverse("monitoring:rule-list").
# One block per room; add yours below (alerts, cases, borrowers, ...).
app_name = "monitoring"
urlpatterns = [
    # rules (H5)
    path("rules/", rules.rule_list, name="rule-list"),
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
]
