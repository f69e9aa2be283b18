"""Rule pages: the rules list, a rule's versions with their evidence (backtest, shadow, test
panel), the version editor and the buttons that move a version. Filled in below."""

from __future__ import annotations

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from accounts.decorators import AuthenticatedRequest, staff_required


@require_GET
@staff_required
def rule_list(request: AuthenticatedRequest) -> HttpResponse:
    """Every rule with its active version (placeholder until the page lands)."""
    return HttpResponse("")
