"""Receivers of Django's own sign-in signals; each only calls an accounts service.

STYLE §13 keeps audit rows out of signals. These are the exception the design allows: the
events are accounts' own (Django's login(), logout() and authenticate() announce them only by
signal), and the receiver does no work itself; the service writes the row.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.models import User
from accounts.services import login_failure_record, login_record, logout_record


def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    login_record(user=user)


def on_logged_out(
    sender: Any, request: HttpRequest | None, user: User | None, **kwargs: Any
) -> None:
    logout_record(user=user if isinstance(user, User) else None)


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Only the username is read; Django has already masked the password in `credentials`.
    username = credentials.get(User.USERNAME_FIELD)
    login_failure_record(username=username if isinstance(username, str) else "")
