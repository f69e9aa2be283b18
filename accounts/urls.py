from __future__ import annotations

from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.RiskOpsLoginView.as_view(), name="login"),
    path("logout/", views.RiskOpsLogoutView.as_view(), name="logout"),
    path("password/", views.RiskOpsPasswordChangeView.as_view(), name="password-change"),
    path(
        "password/done/", views.RiskOpsPasswordChangeDoneView.as_view(), name="password-change-done"
    ),
]
