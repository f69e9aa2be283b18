"""Print the API token of a service account, issuing one if it has none (or --rotate)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rest_framework.authtoken.models import Token

from accounts.audit import audit_context
from accounts.choices import AuditSource
from accounts.errors import NotAServiceAccount
from accounts.models import User
from accounts.services import service_token_issue


class Command(BaseCommand):
    help = "Print a service account's API token; issue one when it has none, or with --rotate."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the service account, e.g. lending-core")
        parser.add_argument(
            "--rotate", action="store_true", help="issue a new token; the old one stops working"
        )

    def handle(self, *args: Any, username: str, rotate: bool, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No login named {username!r}.")
        existing = Token.objects.filter(user=user).first()
        if existing is not None and not rotate:
            self.stdout.write(existing.key)
            return
        try:
            with audit_context(source=AuditSource.COMMAND, reference="issue_service_token"):
                key = service_token_issue(actor=None, user=user)
        except NotAServiceAccount as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(key)
