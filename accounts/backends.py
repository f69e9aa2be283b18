"""The password backend: Django's, refusing service accounts a password sign-in.

A service account (the lending core) authenticates to the API with its token only. Even if it
somehow has a usable password (one set before migration 0003, or by raw SQL), this backend
refuses it a password sign-in, on the login page, the admin's and DRF's session login alike,
so it never gets a session for the pages. The refusal looks like any wrong password and is
audited as a failed sign-in (Django sends user_login_failed).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts.choices import Role
from accounts.models import User


class PasswordBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and user.role == Role.SERVICE:
            return None
        return user
