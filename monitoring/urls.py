from __future__ import annotations

from django.urls import path

from monitoring.views import rules

# Included under monitoring/ by riskops/urls.py: reverse("monitoring:rule-list").
# One block per room; add yours below (alerts, cases, borrowers, ...).
app_name = "monitoring"
urlpatterns = [
    # rules (H5)
    path("rules/", rules.rule_list, name="rule-list"),
]
