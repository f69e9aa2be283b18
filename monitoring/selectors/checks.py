"""Reads of recorded drawdown checks for risk staff: who may see them, and a keyset page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from lending.choices import LineStatus
from lending.templatetags.book import cny
from monitoring.choices import RuleKind
from monitoring.models import DrawdownCheck

PAGE_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def reason_text(reason: Any) -> str:
    """A stored reason of a check ({"code", "decision", "detail"}) as an analyst reads it, in
    the page's language; an unknown code is shown as it is."""
    code = str(reason.get("code", "")) if isinstance(reason, dict) else str(reason)
    detail = reason.get("detail") or {} if isinstance(reason, dict) else {}
    if code.startswith("rule_") and code[5:] in RuleKind.values:
        return _("Rule: %(rule)s") % {"rule": RuleKind(code[5:]).label}
    if code.startswith("line_") and code[5:] in LineStatus.values:
        return _("Line status: %(status)s") % {"status": LineStatus(code[5:]).label}
    try:
        if code == "past_due":
            return _("Past due (%(dpd)s days)") % {"dpd": int(detail["dpd"])}
        if code == "over_available":
            return _("Over the available %(amount)s") % {"amount": cny(detail["available"])}
        if code == "term_over_scenario":
            return _("Term over the purpose's %(max)s months") % {"max": int(detail["max"])}
        if code == "share_over_scenario":
            share = f"{float(detail['max_share']) * 100:.0f}%"
            return _("Over the purpose's share of the limit (%(share)s)") % {"share": share}
        if code == "score_below_scenario":
            return _("Score under the purpose's floor (%(score)s)") % {
                "score": int(detail["min_score"])
            }
    except (KeyError, TypeError, ValueError):
        pass
    return code


def reason_texts(reasons: Any) -> list[str]:
    return [reason_text(r) for r in reasons or []]


def check_visible_to(*, user: Any) -> QuerySet[DrawdownCheck]:
    """Checks a login may see: all for active risk staff, none for anyone else (borrowers and
    the lending core's service account included: it asks, it does not browse)."""
    if user is None or not user.is_authenticated or not getattr(user, "is_risk_staff", False):
        return DrawdownCheck.objects.none()
    return DrawdownCheck.objects.select_related("borrower")


@dataclass
class CheckPage:
    checks: list[DrawdownCheck]
    older: str = ""  # the next (older) page's cursor, "" at the end
    bad_cursor: bool = False


def _encode(check: DrawdownCheck) -> str:
    return f"{(check.checked_at - _EPOCH) // timedelta(microseconds=1)}.{check.pk}"


def _decode(text: str) -> tuple[datetime, int] | None:
    parts = text.split(".")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= 18 for p in parts):
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(parts[0])), int(parts[1])
    except OverflowError:
        return None


def checks_page(
    queryset: QuerySet[DrawdownCheck], *, after: str = "", size: int = PAGE_SIZE
) -> CheckPage:
    """A page of `queryset`, newest first, older than the cursor `after` (a tampered cursor
    gives the newest page, said so). One query, no COUNT: the list may be millions long."""
    bad = False
    if after:
        position = _decode(after)
        if position is None:
            bad = True
        else:
            at, pk = position
            queryset = queryset.filter(Q(checked_at__lt=at) | Q(checked_at=at, pk__lt=pk))
    rows = list(queryset.order_by("-checked_at", "-id")[: size + 1])
    page = rows[:size]
    older = _encode(page[-1]) if len(rows) > size else ""
    return CheckPage(checks=page, older=older, bad_cursor=bad)
