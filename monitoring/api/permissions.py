"""Who may use monitoring's staff endpoints: the same people as the pages."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class IsRiskStaff(BasePermission):
    """Active risk staff (analyst and up). Borrowers and the lending core's service account
    are refused, as on the pages; the services re-check who may act on which case."""

    message = _("Only risk staff may use this endpoint.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(getattr(request.user, "is_risk_staff", False))
