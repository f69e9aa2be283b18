"""Reads for the alert pages: a keyset page of alerts, and an alert's evidence made readable.

The evidence is the JSON the rule wrote (monitoring/rules/*): codes, loan numbers, customer
numbers, amounts as strings, ISO times. Here each known key gets a label, amounts become
Decimals, times local datetimes, and every loan and borrower it names a link to that
borrower's page; an unknown key still shows, as text, so nothing a rule records is hidden.
A bounded number of queries whatever the evidence: one per kind of reference (loans, customer
numbers, borrower ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from lending.models import Borrower, Drawdown
from monitoring.choices import EventKind
from monitoring.models import Alert

PAGE_SIZE = 50


# --- keyset pages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertCursor:
    """A position in the newest-first list: (raised_at, id)."""

    at: datetime
    id: int

    def encode(self) -> str:
        micros = (self.at - _epoch()) // timedelta(microseconds=1)
        return f"{micros}.{self.id}"

    @classmethod
    def decode(cls, text: str) -> AlertCursor | None:
        """The cursor in `text`, or None when it is not one (a tampered link)."""
        parts = (text or "").split(".")
        if len(parts) != 2 or not all(p.isdigit() and len(p) <= 18 for p in parts):
            return None
        try:
            at = _epoch() + timedelta(microseconds=int(parts[0]))
        except OverflowError:
            return None
        return cls(at=at, id=int(parts[1]))

    @classmethod
    def of(cls, alert: Alert) -> AlertCursor:
        return cls(at=alert.raised_at, id=alert.pk)


def _epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.get_fixed_timezone(0))


@dataclass
class AlertPage:
    alerts: list[Alert]
    older: str = ""  # the cursor of the next (older) page, "" at the end
    newer: str = ""  # the cursor of the previous (newer) page, "" on the first page
    bad_cursor: bool = False


def alerts_page(
    queryset: QuerySet[Alert], *, after: str = "", before: str = "", size: int | None = None
) -> AlertPage:
    """One page of `queryset`, newest first. `after` = older than that cursor, `before` =
    newer than it; neither (or a tampered one) = the newest page. One query."""
    size = size or PAGE_SIZE
    rows = queryset.select_related("rule_version__rule", "borrower", "case")
    after_cursor = AlertCursor.decode(after) if after else None
    before_cursor = AlertCursor.decode(before) if before and not after_cursor else None
    bad = bool((after and after_cursor is None) or (before and not after and not before_cursor))
    if before_cursor is not None:
        newer_q = Q(raised_at__gt=before_cursor.at) | Q(
            raised_at=before_cursor.at, pk__gt=before_cursor.id
        )
        found = list(rows.filter(newer_q).order_by("raised_at", "id")[: size + 1])
        if found:  # else nothing is newer: the newest page below
            alerts = list(reversed(found[:size]))
            return AlertPage(
                alerts=alerts,
                older=AlertCursor.of(alerts[-1]).encode(),  # the cursor's own alert is older
                newer=AlertCursor.of(alerts[0]).encode() if len(found) > size else "",
            )
    if after_cursor is not None:
        rows = rows.filter(
            Q(raised_at__lt=after_cursor.at) | Q(raised_at=after_cursor.at, pk__lt=after_cursor.id)
        )
    found = list(rows.order_by("-raised_at", "-id")[: size + 1])
    alerts = found[:size]
    return AlertPage(
        alerts=alerts,
        older=AlertCursor.of(alerts[-1]).encode() if len(found) > size else "",
        # Past the end (an old link, the last alert since closed): the way back still shows.
        newer=(AlertCursor.of(alerts[0]).encode() if alerts else after) if after_cursor else "",
        bad_cursor=bad,
    )


# --- readable evidence ------------------------------------------------------------------------

LABELS: dict[str, Any] = {
    "event_id": _("Event"),
    "event_kind": _("Event kind"),
    "loan_no": _("Loan"),
    "loan_nos": _("Loans"),
    "origin_loan_no": _("Loan the money came from"),
    "repayment": _("Repayment reference"),
    "transfer": _("Transfer reference"),
    "amount": _("Amount"),
    "counterparty": _("Counterparty"),
    "card_last4": _("Card ending in"),
    "own_card": _("The borrower's own card"),
    "also_used_by": _("Card also used by"),
    "episodes": _("Borrow-to-repay episodes"),
    "episode_transfers": _("Transfers in those episodes"),
    "repeated": _("Repeated"),
    "available_before": _("Available before"),
    "device_id": _("Device"),
    "device_first_seen": _("Device first seen"),
    "local_time": _("Local time"),
    "share_of_limit_pct": _("Share of the limit (%)"),
    "credit_limit": _("Credit limit"),
    "used_before": _("Used before"),
    "used_after": _("Used after"),
    "rise_pct": _("Rise (%)"),
    "utilisation_pct": _("Utilisation (%)"),
    "count": _("Count"),
    "total": _("Total"),
    "first_at": _("First at"),
    "checked_at": _("Identity checked at"),
    "shared_with": _("Shares details with"),
    "fields": _("Details shared"),
    "ring_size": _("Ring size"),
    "members": _("Ring members"),
    "links": _("Links"),
    "links_total": _("Links in all"),
    "formed_at": _("Ring formed at"),
    "hops": _("Hops"),
    "path": _("Money path"),
}
MONEY_KEYS = {"amount", "available_before", "credit_limit", "used_before", "used_after", "total"}
TIME_KEYS = {"device_first_seen", "first_at", "checked_at", "formed_at"}
LOAN_KEYS = {"loan_no", "loan_nos", "origin_loan_no"}
CUSTOMER_KEYS = {"shared_with", "also_used_by"}
BOOL_KEYS = {"own_card", "repeated"}


@dataclass
class Part:
    """One value: text, or money, or a time; a link when it names a loan or a borrower."""

    text: str = ""
    url: str = ""
    money: Decimal | None = None
    at: datetime | None = None


@dataclass
class EvidenceRow:
    key: str
    label: str
    parts: list[Part] = field(default_factory=list)
    hops: list[dict[str, Any]] = field(default_factory=list)  # "path"
    links: list[dict[str, Any]] = field(default_factory=list)  # a ring's "links"


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _money(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _time(value: Any) -> datetime | None:
    parsed = parse_datetime(str(value)) if value else None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return timezone.localtime(parsed)


def _borrower_url(borrower_id: int | None, anchor: str = "") -> str:
    if borrower_id is None:
        return ""
    return reverse("lending:borrower-detail", args=[borrower_id]) + anchor


class _Lookups:
    """Every loan number, customer number and borrower id the evidence names, resolved in one
    query each."""

    def __init__(self, evidence: dict[str, Any]) -> None:
        loans: set[str] = set()
        customers: set[str] = set()
        ids: set[int] = set()
        for key in LOAN_KEYS:
            loans.update(str(v) for v in _as_list(evidence.get(key) or []) if v)
        for key in CUSTOMER_KEYS:
            customers.update(str(v) for v in _as_list(evidence.get(key) or []) if v)
        for hop in _as_list(evidence.get("path") or []):
            if isinstance(hop, dict):
                customers.update(str(hop.get(end, "")) for end in ("from", "to"))
        for member in _as_list(evidence.get("members") or []):
            if isinstance(member, dict) and isinstance(member.get("borrower_id"), int):
                ids.add(member["borrower_id"])
        for link in _as_list(evidence.get("links") or []):
            if isinstance(link, dict):
                ids.update(
                    i for i in _as_list(link.get("borrower_ids") or []) if isinstance(i, int)
                )
        self.loan_owner: dict[str, int] = (
            dict(Drawdown.objects.filter(loan_no__in=loans).values_list("loan_no", "borrower_id"))
            if loans
            else {}
        )
        self.customer_id: dict[str, int] = (
            dict(
                Borrower.objects.filter(customer_no__in=customers - {""}).values_list(
                    "customer_no", "pk"
                )
            )
            if customers - {""}
            else {}
        )
        self.id_customer: dict[int, str] = (
            dict(Borrower.objects.filter(pk__in=ids).values_list("pk", "customer_no"))
            if ids
            else {}
        )

    def loan(self, loan_no: str) -> Part:
        owner = self.loan_owner.get(loan_no)
        return Part(text=loan_no, url=_borrower_url(owner, f"#loan-{loan_no}"))

    def customer(self, customer_no: str) -> Part:
        return Part(text=customer_no, url=_borrower_url(self.customer_id.get(customer_no)))

    def borrower(self, borrower_id: int) -> Part:
        return Part(
            text=self.id_customer.get(borrower_id, f"#{borrower_id}"),
            url=_borrower_url(borrower_id) if borrower_id in self.id_customer else "",
        )


def _parts(key: str, value: Any, look: _Lookups) -> list[Part]:
    if key in LOAN_KEYS:
        return [look.loan(str(v)) for v in _as_list(value) if v]
    if key in CUSTOMER_KEYS:
        return [look.customer(str(v)) for v in _as_list(value) if v]
    if key in MONEY_KEYS and _money(value) is not None:
        return [Part(money=_money(value))]
    if key in TIME_KEYS and _time(value) is not None:
        return [Part(at=_time(value))]
    if key in BOOL_KEYS:
        return [Part(text=str(_("Yes") if value else _("No")))]
    if key == "event_kind":
        return [Part(text=str(dict(EventKind.choices).get(value, value)))]
    if key == "members":
        return [
            look.borrower(m["borrower_id"])
            for m in _as_list(value)
            if isinstance(m, dict) and isinstance(m.get("borrower_id"), int)
        ]
    return [Part(text=", ".join(str(v) for v in _as_list(value)))]


def alert_evidence(alert: Alert) -> list[EvidenceRow]:
    """The alert's evidence as labelled rows, in the order the rule wrote them."""
    evidence = alert.evidence if isinstance(alert.evidence, dict) else {"evidence": alert.evidence}
    look = _Lookups(evidence)
    rows: list[EvidenceRow] = []
    for key, value in evidence.items():
        row = EvidenceRow(key=key, label=str(LABELS.get(key, key)))
        if key == "path" and isinstance(value, list):
            row.hops = [
                {
                    "from": look.customer(str(hop.get("from", ""))),
                    "to": look.customer(str(hop.get("to", ""))),
                    "transfer": hop.get("transfer", ""),
                    "amount": _money(hop.get("amount")),
                    "at": _time(hop.get("at")),
                }
                for hop in value
                if isinstance(hop, dict)
            ]
        elif key == "links" and isinstance(value, list):
            row.links = [
                {
                    "kind": link.get("kind", ""),
                    "value": link.get("value", ""),
                    "borrowers": [
                        look.borrower(i)
                        for i in _as_list(link.get("borrower_ids") or [])
                        if isinstance(i, int)
                    ],
                }
                for link in value
                if isinstance(link, dict)
            ]
        else:
            row.parts = _parts(key, value, look)
        rows.append(row)
    return rows
