from __future__ import annotations

from django.urls import path

from lending import views

app_name = "lending"
urlpatterns = [
    path("", views.borrower_list, name="borrower-list"),
    path("export.csv", views.borrower_list_export, name="borrower-export"),
    path("me/", views.my_line, name="my-line"),
    path("<int:borrower_id>/", views.borrower_detail, name="borrower-detail"),
    path("<int:borrower_id>/reveal/", views.pii_reveal_view, name="pii-reveal"),
    path(
        "<int:borrower_id>/loans/<int:drawdown_id>/schedule/",
        views.drawdown_schedule,
        name="drawdown-schedule",
    ),
]
