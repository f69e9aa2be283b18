"""Login, logout and password change pages (Django's views, RiskOps templates)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import reverse, reverse_lazy

from accounts.forms import LoginForm, RiskOpsPasswordChangeForm


class RiskOpsLoginView(auth_views.LoginView):
    """Staff land on the home page (or where they were going); borrowers on their own line.

    django-axes (settings.AXES_*) refuses a username locked after repeated failures, before the
    password is checked, and answers with accounts/locked_out.html.
    """

    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["failure_limit"] = settings.AXES_FAILURE_LIMIT  # the page tells the rule
        return context

    def get_success_url(self) -> str:
        user = self.request.user
        if getattr(user, "is_borrower", False):
            # A borrower has exactly one page; a `next` pointing at a staff page would be a 403.
            return reverse("lending:my-line")
        return super().get_success_url()


class RiskOpsLogoutView(auth_views.LogoutView):
    """POST only (Django 5): a link or prefetch cannot log anyone out."""


class RiskOpsPasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    form_class = RiskOpsPasswordChangeForm
    success_url = reverse_lazy("accounts:password-change-done")


class RiskOpsPasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"
