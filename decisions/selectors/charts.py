"""Plotly figure dicts shared by the decisions pages: one frame, one set of colours.

Pages emit a figure with json_script and static/js/charts.js draws it (no inline script)."""

from __future__ import annotations

from typing import Any

from decisions.choices import LimitAction

# Chart colours by limit action, the same on every page.
ACTION_COLOURS = {
    LimitAction.RAISE: "#1f7a4d",
    LimitAction.HOLD: "#9aa5b5",
    LimitAction.CUT: "#c77700",
    LimitAction.FREEZE: "#1b5a8c",
}
# Two models side by side (champion / challenger, or any two versions).
MODEL_COLOURS = ("#2b59c3", "#c77700")
CHART_CONFIG = {"displayModeBar": False, "responsive": True}


def figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> dict[str, Any]:
    """A figure with the pages' margins, height and config; `layout` overrides them."""
    base = {"margin": {"t": 10, "r": 10, "l": 50, "b": 40}, "height": 260}
    return {"data": data, "layout": {**base, **layout}, "config": CHART_CONFIG}
