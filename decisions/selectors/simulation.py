"""What a limit policy would do to the book today, applying nothing (the simulation)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from decisions.features import chunk_features
from decisions.policy import CUT, FREEZE, HOLD, RAISE
from lending import caps
from lending.choices import LineStatus
from lending.selectors import borrower_id_chunks

CHUNK = 20_000  # borrowers read and decided at a time (a whole-book run's chunk)


def _chunks(borrower_ids: Sequence[int] | None) -> Iterator[list[int]]:
    if borrower_ids is None:
        yield from borrower_id_chunks(size=CHUNK)
        return
    ids = sorted(int(i) for i in borrower_ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def policy_simulation(
    *, rules: Any, as_of: date, borrower_ids: Sequence[int] | None = None
) -> dict[str, Any]:
    """What a policy would do to the book today, applying nothing.

    For every open line: the decision (raise, hold, cut, freeze) the live review would make,
    read and decided by the same code a whole-book run uses (decisions.services.reviews:
    chunk_state, chunk_decide), a chunk of borrowers at a time: the latest two acting scores,
    the features as of `as_of`, the last cut and raise, locks, pending overrides and fraud
    flags. Returns {"rows": [{band, raise, hold, cut, freeze, lines, exposure_before,
    exposure_after, change}], "totals": {...}, "figure": a Plotly figure dict (exposure
    change by band)}.
    """
    # Imported here: the services import decisions.selectors (a cycle at import time).
    from decisions.services.reviews import ACTIONS, chunk_decide, chunk_state, scores_now

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
    for ids in _chunks(borrower_ids):
        scores = scores_now(ids)
        state = chunk_state(
            borrower_ids=ids,
            today=as_of,
            features=chunk_features(borrower_ids=ids, as_of=as_of),
            current=scores.current,
            previous=scores.previous,
        )
        action, new_limit, bands, _reasons = chunk_decide(
            rules, state, today=as_of, product_cap=cap
        )
        for row, code, after, band in zip(
            state.lines, action.tolist(), new_limit.tolist(), bands, strict=True
        ):
            if row[4] == LineStatus.CLOSED:
                continue
            cell = table[band]
            cell[ACTIONS[code]] += 1
            cell["lines"] += 1
            cell["exposure_before"] += row[2]
            cell["exposure_after"] += Decimal(after).scaleb(-2)
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
