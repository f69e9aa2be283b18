"""HTML input parsing for the login and password pages, and the admin's login forms.

The password forms validate; the change itself goes through accounts.services
(user_set_password), which writes the audit row.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    AdminUserCreationForm,
    AuthenticationForm,
    PasswordChangeForm,
)
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from accounts.models import User
from accounts.services import user_set_password

SERVICE_NO_PASSWORD = _(
    "Service accounts have no password: they use an API token. "
    "Choose “Disabled” for password-based authentication."
)


class LoginForm(AuthenticationForm):
    """Django's login form, with the browser hints a login page should carry."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "autofocus": True}
        )
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class RiskOpsPasswordChangeForm(PasswordChangeForm):
    """Django's password change form; the browser may suggest a new password."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["old_password"].widget.attrs.update({"autocomplete": "current-password"})
        for name in ("new_password1", "new_password2"):
            self.fields[name].widget.attrs.update({"autocomplete": "new-password"})

    def save(self, commit: bool = True) -> Any:
        """The login changes its own password, through the service (audit row).

        `self.user` becomes the saved login, so the view keeps this session signed in
        (update_session_auth_hash reads the new hash from it).
        """
        self.user = user_set_password(
            actor=self.user, user=self.user, password=self.cleaned_data["new_password1"]
        )
        return self.user


class UserAddForm(AdminUserCreationForm):
    """The admin's add form: a service account must be created without a password."""

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        data = self.cleaned_data
        if data.get("role") == Role.SERVICE and data.get("set_usable_password"):
            self.add_error(None, forms.ValidationError(SERVICE_NO_PASSWORD))
        return cleaned


class UserPasswordForm(AdminPasswordChangeForm):
    """The admin's password form; `actor` is the administrator (UserAdmin passes it)."""

    def __init__(self, user: User, *args: Any, actor: User | None = None, **kwargs: Any) -> None:
        self.actor = actor
        super().__init__(user, *args, **kwargs)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.user.role == Role.SERVICE and self.cleaned_data.get("set_usable_password"):
            # On the field: the admin's password page shows no form-wide errors.
            self.add_error("password1", forms.ValidationError(SERVICE_NO_PASSWORD))
        return cleaned

    def save(self, commit: bool = True) -> Any:
        password = (
            self.cleaned_data["password1"] if self.cleaned_data["set_usable_password"] else None
        )
        self.user = user_set_password(actor=self.actor, user=self.user, password=password)
        return self.user
