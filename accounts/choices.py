from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Who a login is. Staff roles are ordered by authority; a borrower login sees only itself."""

    ANALYST = "analyst", _("Risk analyst")
    SENIOR_ANALYST = "senior_analyst", _("Senior analyst")
    MANAGER = "manager", _("Manager")
    HEAD_OF_RISK = "head_of_risk", _("Head of risk")
    ADMIN = "admin", _("Administrator")
    BORROWER = "borrower", _("Borrower")
    # A machine account (the lending core); authenticates to the API with a token, no pages.
    SERVICE = "service", _("Service account")


STAFF_ROLES = frozenset(
    {Role.ANALYST, Role.SENIOR_ANALYST, Role.MANAGER, Role.HEAD_OF_RISK, Role.ADMIN}
)


class AuditSource(models.TextChoices):
    """Where a state change came from."""

    WEB = "web", _("Web page")
    API = "api", _("API")
    TASK = "task", _("Background task")
    COMMAND = "command", _("Management command")
    SYSTEM = "system", _("System")
