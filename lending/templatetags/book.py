"""Template filters for the book's figures: money, rates, percentages, SVG bar widths."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template

from lending import money as money_math

register = template.Library()

DASH = "—"


def _grouped(value: Decimal | int, places: int) -> str:
    # Money is grouped in threes with a comma in both languages (the financial convention in
    # China too); Django's zh-Hans format groups by four with no separator at all.
    return f"{value:,.{places}f}"


@register.filter
def cny(value: Any) -> str:
    """¥12,345.67 (grouped, two decimals); a dash when there is no figure."""
    if value is None or value == "":
        return DASH
    return "¥" + _grouped(Decimal(value), 2)


@register.filter
def amount(value: Any) -> str:
    """12,345.67 without the currency sign, for dense table columns."""
    if value is None or value == "":
        return DASH
    return _grouped(Decimal(value), 2)


@register.filter
def percent(value: Any, places: int = 2) -> str:
    """A fraction as a percentage: Decimal("0.1825") -> 18.25%."""
    if value is None or value == "":
        return DASH
    scaled = (Decimal(value) * 100).quantize(Decimal(1).scaleb(-int(places)), ROUND_HALF_UP)
    return f"{scaled:.{int(places)}f}%"


@register.filter
def daily_rate_percent(value: Any) -> str:
    """A daily rate as a percentage per day with four places: 0.000500 -> 0.0500%."""
    return percent(value, 4)


@register.filter
def apr_from_daily(value: Any) -> str:
    """The annual rate a daily rate implies (daily x 365, RULES §4C), two places: 18.25%."""
    if value is None or value == "":
        return DASH
    return percent(money_math.simple_apr(Decimal(value)))


@register.filter
def bar_width(value: Any) -> str:
    """A fraction as an SVG width percentage with a dot decimal ("12.5%"), whatever the locale."""
    if value is None or value == "":
        return "0%"
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


@register.simple_tag
def bar_offsets(buckets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each bucket with its x offset in a stacked bar (running sum of the previous shares)."""
    running = Decimal(0)
    placed = []
    for bucket in buckets:
        share = bucket["share"] or Decimal(0)
        placed.append({**bucket, "x": running, "width": share})
        running += share
    return placed


@register.filter
def grouped(value: Any) -> str:
    """A whole number with thousands separators: 1234567 -> 1,234,567."""
    if value is None or value == "":
        return DASH
    return _grouped(int(value), 0)


@register.filter
def days_overdue(drawdown: Any) -> int:
    """Days past due of a drawdown's oldest overdue instalment, 0 if none is overdue.

    Reads the `days_overdue` the borrower selector puts on each prefetched instalment
    (lending.selectors.borrower_detail), so it costs no query; a drawdown loaded without that
    display state reads 0.
    """
    return max(
        (getattr(inst, "days_overdue", 0) or 0 for inst in drawdown.instalments.all()), default=0
    )
