"""Django's changepassword, through accounts.services.user_set_password (an audit row)."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands.changepassword import Command as DjangoCommand
from django.core.management.base import CommandError

from accounts.audit import audit_context
from accounts.choices import AuditSource, Role
from accounts.errors import ServiceAccountPassword, WeakPassword
from accounts.models import User
from accounts.services import user_set_password

MAX_TRIES = 3


def _ask(prompt: str) -> str:
    password = getpass.getpass(prompt=prompt)
    if not password:
        raise CommandError("aborted")
    return password


class Command(DjangoCommand):
    def handle(self, *args: Any, **options: Any) -> str:
        username = options["username"] or getpass.getuser()
        user = User.objects.using(options["database"]).filter(username=username).first()
        if user is None:
            raise CommandError(f"user '{username}' does not exist")
        if user.role == Role.SERVICE:
            raise CommandError(ServiceAccountPassword().message)
        self.stdout.write(f"Changing password for user '{user}'")
        for _ in range(MAX_TRIES):
            first = _ask("Password: ")
            if first != _ask("Password (again): "):
                self.stdout.write("Passwords do not match. Please try again.")
                continue
            try:
                with audit_context(source=AuditSource.COMMAND, reference="changepassword"):
                    user_set_password(actor=None, user=user, password=first)
            except WeakPassword as exc:
                self.stderr.write(exc.message)
                continue
            return f"Password changed successfully for user '{user}'"
        raise CommandError(f"Aborting password change for user '{user}' after {MAX_TRIES} attempts")
