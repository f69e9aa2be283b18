"""Fund-flow path: a drawdown paid out, then transferred to another borrower who repays
with it within the window (24 hours by default), over up to `max_hops` transfers.

Judged on each repayment: walking back from the repaying borrower, a transfer out of
another borrower into one of the repayer's cards (the counterparty account is a card the
book has for the repayer), itself after a drawdown of the sender, or after money the sender
received the same way (the next hop); every step inside the window that ends at the
repayment. The hit goes to the repayer and to the borrower whose drawdown started the path,
with the path as evidence.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, EventKind, RuleKind, Severity
from monitoring.rules.base import BorrowerHistory, EventView, FlowLink, Hit, hours
from monitoring.rules.params import Param

KIND = RuleKind.FUND_FLOW_PATH
CATEGORY = AlertCategory.FRAUD
SEVERITY = Severity.HIGH
TRIGGERS = frozenset({EventKind.REPAYMENT})
LISTS: tuple[str, ...] = ()
PARAMS = (
    Param("window_hours", "decimal", "24", _("Drawdown to repayment within (hours)"), Decimal(1)),
    Param("max_hops", "int", 3, _("Transfers along the path, at most"), Decimal(1), Decimal(5)),
)


def lookback(params: dict[str, Any]) -> timedelta:
    return hours(params["window_hours"])


def find_path(
    history: BorrowerHistory, *, repayer_id: int, start: datetime, end: datetime, max_hops: int
) -> tuple[list[FlowLink], str] | None:
    """The shortest path (links from the originator to the repayer) and the loan that
    started it, or None. Breadth first, so the fewest hops win; each borrower once."""
    network = history.network
    frontier: list[tuple[int, datetime, list[FlowLink]]] = [(repayer_id, end, [])]
    visited = {repayer_id}
    for _hop in range(max_hops):
        following: list[tuple[int, datetime, list[FlowLink]]] = []
        for receiver, deadline, path in frontier:
            links = sorted(
                network.inbound.get(receiver, []), key=lambda link: link.transfer.at, reverse=True
            )
            for link in links:
                sender, at = link.transfer.borrower_id, link.transfer.at
                if sender in visited or not start <= at <= deadline:
                    continue
                drawn = [d for d in network.drawdowns.get(sender, []) if start <= d.at <= at]
                if drawn:
                    return [link, *path], drawn[-1].loan_no
                following.append((sender, at, [link, *path]))
        for sender, _at, _path in following:
            visited.add(sender)
        frontier = following
        if not frontier:
            return None
    return None


def evaluate(params: dict[str, Any], history: BorrowerHistory, event: EventView) -> list[Hit]:
    if event.kind != EventKind.REPAYMENT:
        return []
    repayment = next((r for r in history.repayments if r.pk == event.repayment_id), None)
    if repayment is None:
        return []
    found = find_path(
        history,
        repayer_id=event.borrower_id,
        start=repayment.at - hours(params["window_hours"]),
        end=repayment.at,
        max_hops=int(params["max_hops"]),
    )
    if found is None:
        return []
    path, loan_no = found
    originator = path[0].transfer.borrower_id
    names = history.network.customer_nos
    evidence = {
        "event_id": event.event_id,
        "repayment": repayment.reference,
        "loan_no": repayment.loan_no,
        "amount": str(repayment.amount),
        "origin_loan_no": loan_no,
        "path": [
            {
                "from": names.get(link.transfer.borrower_id, str(link.transfer.borrower_id)),
                "to": names.get(link.to_borrower_id, str(link.to_borrower_id)),
                "transfer": link.transfer.reference,
                "amount": str(link.transfer.amount),
                "at": link.transfer.at.isoformat(),
            }
            for link in path
        ],
        "hops": len(path),
    }
    key = f"{KIND}:{repayment.reference}"
    return [
        Hit(KIND, event.borrower_id, event.occurred_at, evidence, key, event.pk),
        Hit(KIND, originator, event.occurred_at, evidence, key, event.pk),
    ]
