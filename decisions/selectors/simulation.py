"""What a limit policy would do to the book today, applying nothing (the simulation)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from decisions.features import book_features
from decisions.models import Score
from decisions.policy import CUT, FREEZE, HOLD, RAISE, LineState, review
from lending import caps
from lending.models import CreditLine


def policy_simulation(
    *, rules: Any, as_of: date, borrower_ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """What a policy would do to the book today, applying nothing.

    For every open line: the policy's decision (raise, hold, cut, freeze) from the same pure
    review the live policy runs, with the latest two acting scores and today's features.
    Returns {"rows": [{band, raise, hold, cut, freeze, lines, exposure_before, exposure_after,
    change}], "totals": {...}, "figure": a Plotly figure dict (exposure change by band)}.
    """
    features = book_features(as_of=as_of, borrower_ids=borrower_ids)
    ids = [int(i) for i in features.index]
    scores: dict[int, list[int]] = {}
    for borrower_id, total in (
        Score.objects.filter(borrower_id__in=ids, acting=True)
        .order_by("borrower_id", "-scored_at", "-id")
        .values_list("borrower_id", "total")
    ):
        scores.setdefault(borrower_id, [])
        if len(scores[borrower_id]) < 2:
            scores[borrower_id].append(total)
    lines = {
        row["borrower_id"]: row
        for row in CreditLine.objects.filter(borrower_id__in=ids).values(
            "borrower_id", "credit_limit", "used", "status", "locked_until", "oldest_unpaid_due"
        )
    }
    cap = caps.product_limit_cap()
    table: dict[str, dict[str, Any]] = {
        band.name: {
            "band": band.name,
            **dict.fromkeys((RAISE, HOLD, CUT, FREEZE), 0),
            "lines": 0,
            "exposure_before": Decimal(0),
            "exposure_after": Decimal(0),
        }
        for band in rules.bands
    }
    for borrower_id, row in zip(ids, features.itertuples(index=False), strict=True):
        line = lines.get(borrower_id)
        if line is None or line["status"] == "closed":
            continue
        history = scores.get(borrower_id, [])
        due = line["oldest_unpaid_due"]
        state = LineState(
            limit=line["credit_limit"],
            used=line["used"],
            dpd=max((as_of - due).days, 0) if due else 0,
            score=history[0] if history else None,
            previous_score=history[1] if len(history) > 1 else None,
            on_time_streak=int(row.on_time_streak),
            small_early_settlements=int(row.early_settlements),
            lender_transfers_90d=int(row.lender_transfers_90d),
            identity_mismatch=bool(row.identity_mismatch),
            fraud_confirmed=False,
            locked=line["locked_until"] is not None and line["locked_until"] > as_of,
            pending_override=False,
            last_cut_on=None,
            frozen=line["status"] == "frozen",
        )
        decision = review(rules, state, today=as_of, product_cap=cap)
        cell = table[decision.band]
        cell[decision.action] += 1
        cell["lines"] += 1
        cell["exposure_before"] += state.limit
        cell["exposure_after"] += decision.new_limit
    rows = list(table.values())
    for cell in rows:
        cell["change"] = cell["exposure_after"] - cell["exposure_before"]
    totals = {
        key: sum(
            (cell[key] for cell in rows), Decimal(0) if "exposure" in key or key == "change" else 0
        )
        for key in (
            RAISE,
            HOLD,
            CUT,
            FREEZE,
            "lines",
            "exposure_before",
            "exposure_after",
            "change",
        )
    }
    figure = {
        "data": [
            {
                "type": "bar",
                "name": action,
                "x": [cell["band"] for cell in rows],
                "y": [cell[action] for cell in rows],
            }
            for action in (RAISE, HOLD, CUT, FREEZE)
        ]
        + [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "exposure change",
                "x": [cell["band"] for cell in rows],
                "y": [float(cell["change"]) for cell in rows],
                "yaxis": "y2",
            }
        ],
        "layout": {
            "barmode": "stack",
            "yaxis": {"title": "lines"},
            "yaxis2": {"title": "¥", "overlaying": "y", "side": "right"},
            "margin": {"t": 20, "r": 60, "l": 50, "b": 40},
        },
    }
    return {"rows": rows, "totals": totals, "figure": figure}
