"""monitoring.validation: what makes an event believable, and the layering it serves."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings

from monitoring.validation import events_check_dates


@pytest.mark.parametrize(
    ("events", "problems"),
    [
        # A drawdown on a line opened earlier in the batch, then one before it opened.
        (
            [
                {"kind": "line_opened", "customer_no": "C1", "at": "2026-02-01T10:00+08:00"},
                {
                    "kind": "drawdown",
                    "customer_no": "C1",
                    "loan_no": "L1",
                    "at": "2026-02-01T10:00+08:00",
                },
                {
                    "kind": "drawdown",
                    "customer_no": "C1",
                    "loan_no": "L2",
                    "at": "2026-02-01T09:59+08:00",
                },
            ],
            [(2, "before_line_opened")],
        ),
        # The book's line (opened 2026-01-05) wins over a replayed line_opened dated later.
        (
            [
                {"kind": "line_opened", "customer_no": "C00000001", "at": "2026-03-01T10:00+08:00"},
                {
                    "kind": "drawdown",
                    "customer_no": "C00000001",
                    "loan_no": "L1",
                    "at": "2026-02-01T10:00+08:00",
                },
            ],
            [],
        ),
        # A repayment on a loan drawn earlier in the batch, before and after the payout.
        (
            [
                {
                    "kind": "drawdown",
                    "customer_no": "C00000001",
                    "loan_no": "L1",
                    "at": "2026-02-01T10:00+08:00",
                },
                {
                    "kind": "repayment",
                    "customer_no": "C00000001",
                    "loan_no": "L1",
                    "at": "2026-02-01T09:00+08:00",
                },
                {
                    "kind": "repayment",
                    "customer_no": "C00000001",
                    "loan_no": "L1",
                    "at": "2026-02-01T10:00+08:00",
                },
                {
                    "kind": "repayment",
                    "customer_no": "C00000001",
                    "loan_no": "L-BOOK",
                    "at": "2026-01-31T10:00+08:00",
                },
            ],
            [(1, "before_disbursement"), (3, "before_disbursement")],
        ),
    ],
)
def test_event_times_are_checked_against_the_book_and_the_batch(events, problems):
    """events_check_dates alone: the book's dates given, earlier events of the batch counted."""
    now = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
    batch = [
        (
            index,
            {**event, "event_id": f"e{index}", "occurred_at": datetime.fromisoformat(event["at"])},
        )
        for index, event in enumerate(events)
    ]

    errors = events_check_dates(
        batch,
        now=now,
        line_opened_at={"C00000001": datetime(2026, 1, 5, 2, 0, tzinfo=UTC)},
        disbursed_at={"L-BOOK": datetime(2026, 2, 1, 2, 0, tzinfo=UTC)},
    )

    assert [(e["index"], e["code"]) for e in errors] == problems
    assert all(e["field"] == "occurred_at" for e in errors)


def test_the_service_layer_imports_nothing_of_the_api():
    """monitoring.services and what it parses events with import no API module, and the
    shared kernel core/ imports no app."""
    base = Path(settings.BASE_DIR)

    def imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        return found

    for module in ("monitoring/services/events.py", "monitoring/validation.py"):
        assert not {m for m in imports(base / module) if m.split(".")[-1] == "api" or ".api." in m}
    apps = {"accounts", "lending", "decisions", "monitoring", "bureau", "disputes", "demo"}
    for path in (base / "core").glob("*.py"):
        assert not {m for m in imports(path) if m.split(".")[0] in apps}, path
