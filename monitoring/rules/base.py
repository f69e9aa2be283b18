"""What a rule sees and what it answers: the event judged, the borrower's history as it
stood at the event's own time, and the hits.

Rules are pure functions (one module per kind, `evaluate(params, history, event)`), so the
live path (monitoring.services.evaluation inside event ingestion), a backtest, a shadow
version, the test panel and the demo backfill all judge an event the same way. Nothing here
touches the database: monitoring.rules.history loads the histories in bulk.

Point in time: a history holds the borrower's records from some time before the earliest
event of a batch up to now; a rule reads only what had happened by the event's own
`occurred_at` (records at exactly that time count, the event's own among them), so a late,
replayed or back-filled event is judged as it would have been live.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule fired on a borrower.

    `evidence` names what fired it (event ids, loan numbers, transfer references, linked
    borrowers), JSON-safe. `dedupe_key` starts with the rule's kind and names the hit, so the
    same hit judged again (a replay, a re-evaluation after a late event, a backfill) raises
    nothing twice, whatever the version. `severity` None means the version's own; a rule sets
    it when it escalates (a repetition). `event_pk` is the Event row judged (None for a
    hypothetical event, e.g. the drawdown check).
    """

    kind: str
    borrower_id: int
    occurred_at: datetime
    evidence: dict[str, Any]
    dedupe_key: str
    event_pk: int | None = None
    severity: int | None = None


@dataclass(frozen=True, slots=True)
class EventView:
    """The event being judged, as rules see it: its kind and time, and the book rows it
    touched (from Event.result), or for a hypothetical event the values given."""

    pk: int | None
    event_id: str
    kind: str
    borrower_id: int
    occurred_at: datetime
    amount: Decimal | None = None
    loan_no: str | None = None
    drawdown_id: int | None = None
    repayment_id: int | None = None
    transfer_out_id: int | None = None
    bank_account_id: int | None = None
    device_pk: int | None = None

    @classmethod
    def from_event(cls, event: Any) -> EventView:
        """From a recorded monitoring.models.Event (its masked payload and its result)."""
        payload, result = event.payload or {}, event.result or {}
        amount = payload.get("amount")
        return cls(
            pk=event.pk,
            event_id=event.event_id,
            kind=event.kind,
            borrower_id=event.borrower_id,
            occurred_at=event.occurred_at,
            amount=Decimal(amount) if amount is not None else None,
            loan_no=payload.get("loan_no"),
            drawdown_id=result.get("drawdown_id"),
            repayment_id=result.get("repayment_id"),
            transfer_out_id=result.get("transfer_out_id"),
            bank_account_id=result.get("bank_account_id"),
            device_pk=result.get("device_record_id"),
        )


# --- the records of a history -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrawdownRec:
    pk: int
    loan_no: str
    amount: Decimal
    at: datetime
    bank_account_id: int
    device_pk: int | None


@dataclass(frozen=True, slots=True)
class RepaymentRec:
    pk: int
    reference: str
    drawdown_id: int
    loan_no: str
    amount: Decimal
    principal: Decimal  # the principal it paid (RepaymentAllocation), for the used balance
    at: datetime
    bank_account_id: int | None


@dataclass(frozen=True, slots=True)
class TransferRec:
    pk: int
    borrower_id: int
    reference: str
    amount: Decimal
    at: datetime
    counterparty_name: str
    counterparty_account: str
    counterparty_is_lender: bool


@dataclass(frozen=True, slots=True)
class DeviceRec:
    pk: int
    device_id: str
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class CardRec:
    pk: int
    card_no: str
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class SeenRec:
    """A login, device change or bank-card binding the lending core reported (an Event)."""

    kind: str
    event_id: str
    at: datetime
    ref: str  # the device id (login, device_change), or the BankAccount pk (card binding)


@dataclass(frozen=True, slots=True)
class OtherBorrower:
    """Another borrower sharing something with this one (an identity field, a card)."""

    borrower_id: int
    customer_no: str
    what: str  # "national_id", "mobile", "card"
    since: datetime  # when the other borrower had it (registered, or first seen)


@dataclass(slots=True)
class Lists:
    """The entries of the managed lists, normalised (monitoring.rules.lists): the active
    versions' (`entries`), and, when loaded for a span of events (monitoring.services.rules.
    lists_in_force), each version in force during it: (from, until or None, entries), so a
    rule asks `has(..., at=event time)` and a replayed or back-filled event is judged with the
    list as it stood then."""

    entries: dict[str, frozenset[str]] = field(default_factory=dict)
    versions: dict[str, tuple[tuple[datetime, datetime | None, frozenset[str]], ...]] | None = None

    def has(self, kind: str, value: str | None, at: datetime | None = None) -> bool:
        return bool(value) and normalise(value or "") in self.in_force(kind, at)

    def in_force(self, kind: str, at: datetime | None = None) -> frozenset[str]:
        """The entries of the `kind` list in force at `at` (None: the active version's); before
        any version was active, none."""
        if at is None or self.versions is None:
            return self.entries.get(kind, frozenset())
        found: frozenset[str] = frozenset()
        for since, until, entries in self.versions.get(kind, ()):  # oldest activation first
            if since <= at and (until is None or at < until):
                found = entries
        return found


def normalise(value: str) -> str:
    """A list entry or a value looked up in a list: trimmed, case-folded, inner spaces one."""
    return " ".join(value.split()).casefold()


@dataclass(frozen=True, slots=True)
class FlowLink:
    """One hop of a fund-flow path: a transfer out of `transfer.borrower_id` into a card of
    `to_borrower_id`."""

    transfer: TransferRec
    to_borrower_id: int


@dataclass(slots=True)
class Network:
    """Cross-borrower records a batch needs for fund-flow paths, loaded in bulk: transfers
    into the cards of the borrowers on a path (by receiving borrower), and the drawdowns of
    the senders."""

    inbound: dict[int, list[FlowLink]] = field(default_factory=dict)
    drawdowns: dict[int, list[DrawdownRec]] = field(default_factory=dict)
    customer_nos: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class BorrowerHistory:
    """One borrower's records from `since` up to now, and their line as it stands now.

    Records are sorted by time. Rules ask for what had happened by a time (`*_between`,
    `used_at`); nothing here is filtered to the event already, because one history serves
    every event of the borrower in a batch.
    """

    borrower_id: int
    customer_no: str
    since: datetime
    credit_limit: Decimal
    used_now: Decimal
    line_status: str
    employer: str
    registered_at: datetime
    identity_check: str
    identity_checked_at: datetime | None
    drawdowns: list[DrawdownRec] = field(default_factory=list)
    repayments: list[RepaymentRec] = field(default_factory=list)
    transfers: list[TransferRec] = field(default_factory=list)
    devices: dict[int, DeviceRec] = field(default_factory=dict)
    cards: dict[int, CardRec] = field(default_factory=dict)
    # The borrower's own cards (BankAccount pk) and since when: paid out to by a drawdown, or
    # bound by a bank-card change; loaded over the whole history, not from `since`.
    own_cards: dict[int, datetime] = field(default_factory=dict)
    seen: list[SeenRec] = field(default_factory=list)
    same_identity: list[OtherBorrower] = field(default_factory=list)
    card_sharers: dict[str, list[OtherBorrower]] = field(default_factory=dict)
    lists: Lists = field(default_factory=Lists)
    network: Network = field(default_factory=Network)
    # The line's limit changes from `since` on, oldest first: (effective_at, old, new)
    # (lending.models.LimitChange; history.histories_load). Read through limit_at.
    limit_changes: list[tuple[datetime, Decimal, Decimal]] = field(default_factory=list)

    def drawdowns_between(self, start: datetime, end: datetime) -> list[DrawdownRec]:
        """Drawdowns paid out at `start` or later and at `end` or earlier."""
        return [d for d in self.drawdowns if start <= d.at <= end]

    def transfers_between(self, start: datetime, end: datetime) -> list[TransferRec]:
        return [t for t in self.transfers if start <= t.at <= end]

    def repayments_between(self, start: datetime, end: datetime) -> list[RepaymentRec]:
        return [r for r in self.repayments if start <= r.at <= end]

    def limit_at(self, at: datetime) -> Decimal:
        """The line's limit in force at `at` (a change effective exactly then included): a
        back-filled or replayed event is judged with the limit it met, not today's."""
        limit = None
        for effective_at, old, new in self.limit_changes:
            if effective_at <= at:
                limit = new
            else:
                return old if limit is None else limit
        return self.credit_limit if limit is None else limit

    def used_at(self, at: datetime) -> Decimal:
        """The line's drawn principal just after everything at `at` had happened: today's
        balance with what came later undone (drawdowns after `at` taken off, the principal
        repaid after it put back). Write-offs and limit changes are not undone."""
        used = self.used_now
        used -= sum((d.amount for d in self.drawdowns if d.at > at), ZERO)
        used += sum((r.principal for r in self.repayments if r.at > at), ZERO)
        return max(used, ZERO)


def local_time(at: datetime) -> time:
    """The wall-clock time of `at` in Shanghai."""
    return at.astimezone(SHANGHAI).time()


def hours(value: Any) -> timedelta:
    """A rule parameter in hours (an int or a decimal string) as a timedelta."""
    return timedelta(seconds=float(Decimal(str(value)) * 3600))


def money(value: Any) -> Decimal:
    return Decimal(str(value))


def loan_nos(drawdowns: Iterable[DrawdownRec]) -> list[str]:
    return [d.loan_no for d in drawdowns]


def iso(at: datetime) -> str:
    return at.isoformat()
