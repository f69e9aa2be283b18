"""Borrowers' histories, built in bulk: a few set-based queries for a whole batch of events,
never one per event or per rule.

What is loaded depends on what the rules to be judged need (`Needs`): the book's rows of the
borrowers from `since` (drawdowns, repayments with the principal they paid, transfers out),
their devices and cards, the card bindings they reported, and for some rules rows of other
borrowers (the same identity, the same card, transfers into their cards along a fund-flow
path).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Min, Q, Sum

from core.prepared import Prepared, rows_together
from lending.models import (
    BankAccount,
    Borrower,
    Device,
    Drawdown,
    LimitChange,
    Repayment,
    TransferOut,
)
from monitoring.choices import EventKind
from monitoring.models import Event
from monitoring.rules.base import (
    ZERO,
    BorrowerHistory,
    CardRec,
    DeviceRec,
    DrawdownRec,
    FlowLink,
    Lists,
    Network,
    OtherBorrower,
    RepaymentRec,
    SeenRec,
    TransferRec,
)


@dataclass(frozen=True, slots=True)
class FlowNeed:
    """Fund-flow paths to look for: into these repaying borrowers, between start and end,
    over at most `max_hops` transfers."""

    receivers: frozenset[int]
    start: datetime
    end: datetime
    max_hops: int


@dataclass(frozen=True, slots=True)
class Needs:
    """What the rules being judged read beyond the borrowers' own rows."""

    transfers: bool = True
    own_cards: bool = False
    same_identity: bool = False
    card_sharers: bool = False
    flow: FlowNeed | None = None


def _drawdown(row: dict[str, object]) -> DrawdownRec:
    return DrawdownRec(
        pk=row["pk"],  # type: ignore[arg-type]
        loan_no=row["loan_no"],  # type: ignore[arg-type]
        amount=row["amount"],  # type: ignore[arg-type]
        at=row["disbursed_at"],  # type: ignore[arg-type]
        bank_account_id=row["bank_account_id"],  # type: ignore[arg-type]
        device_pk=row["device_id"],  # type: ignore[arg-type]
    )


DRAWDOWN_FIELDS = ("pk", "borrower_id", "loan_no", "amount", "disbursed_at", "bank_account_id")
TRANSFER_FIELDS = (
    "pk",
    "borrower_id",
    "reference",
    "amount",
    "occurred_at",
    "counterparty_name",
    "counterparty_account",
    "counterparty_is_lender",
)


def _transfer(row: dict[str, object]) -> TransferRec:
    return TransferRec(
        pk=row["pk"],  # type: ignore[arg-type]
        borrower_id=row["borrower_id"],  # type: ignore[arg-type]
        reference=row["reference"],  # type: ignore[arg-type]
        amount=row["amount"],  # type: ignore[arg-type]
        at=row["occurred_at"],  # type: ignore[arg-type]
        counterparty_name=row["counterparty_name"],  # type: ignore[arg-type]
        counterparty_account=row["counterparty_account"],  # type: ignore[arg-type]
        counterparty_is_lender=row["counterparty_is_lender"],  # type: ignore[arg-type]
    )


# A drawdown check or a single event loads one borrower: for so few, the queries below run
# precompiled (core.prepared: the ORM's compiling costs more than the round trip); a batch's
# many borrowers run them as the QuerySets they are.
PREPARED_UP_TO = 4
PEOPLE_FIELDS = (
    "pk",
    "customer_no",
    "employer",
    "registered_at",
    "identity_check",
    "identity_checked_at",
    "national_id",
    "national_id_last4",
    "mobile",
    "line__credit_limit",
    "line__used",
    "line__status",
)
PEOPLE = Prepared(
    lambda ids: (
        Borrower.objects.filter(pk__in=ids, line__isnull=False).order_by().values(*PEOPLE_FIELDS)
    ),
    {"ids": "ints"},
)
DRAWDOWNS = Prepared(
    lambda ids, since: (
        Drawdown.objects.filter(borrower_id__in=ids, disbursed_at__gte=since)
        .order_by("disbursed_at", "pk")
        .values(*DRAWDOWN_FIELDS, "device_id")
    ),
    {"ids": "ints", "since": "at"},
)
REPAYMENTS = Prepared(
    lambda ids, since: (
        Repayment.objects.filter(borrower_id__in=ids, paid_at__gte=since)
        .order_by("paid_at", "pk")
        .annotate(principal=Sum("allocations__principal"))
        .values(
            "pk",
            "borrower_id",
            "reference",
            "drawdown_id",
            "drawdown__loan_no",
            "amount",
            "principal",
            "paid_at",
            "bank_account_id",
        )
    ),
    {"ids": "ints", "since": "at"},
)
TRANSFERS = Prepared(
    lambda ids, since: (
        TransferOut.objects.filter(borrower_id__in=ids, occurred_at__gte=since)
        .order_by("occurred_at", "pk")
        .values(*TRANSFER_FIELDS)
    ),
    {"ids": "ints", "since": "at"},
)
DEVICES = Prepared(
    lambda ids: (
        Device.objects.filter(borrower_id__in=ids)
        .order_by()
        .values("pk", "borrower_id", "device_id", "first_seen_at")
    ),
    {"ids": "ints"},
)
CARDS = Prepared(
    lambda ids: (
        BankAccount.objects.filter(borrower_id__in=ids)
        .order_by()
        .values("pk", "borrower_id", "card_no", "first_seen_at")
    ),
    {"ids": "ints"},
)
LIMIT_CHANGES = Prepared(
    lambda ids, since: (
        LimitChange.objects.filter(line__borrower_id__in=ids, effective_at__gte=since)
        .order_by("effective_at", "id")
        .values_list("line__borrower_id", "effective_at", "old_limit", "new_limit")
    ),
    {"ids": "ints", "since": "at"},
)
SAME_IDENTITY = Prepared(
    lambda last4s, national_ids, mobiles: (
        Borrower.objects.filter(
            Q(national_id_last4__in=last4s, national_id__in=national_ids) | Q(mobile__in=mobiles)
        )
        .order_by()
        .values("pk", "customer_no", "national_id", "mobile", "registered_at")
    ),
    {"last4s": "strs", "national_ids": "strs", "mobiles": "strs"},
)


# Cards the borrowers' drawdowns were paid out to, with the first payout to each.
PAYOUT_CARDS = Prepared(
    lambda ids: (
        Drawdown.objects.filter(borrower_id__in=ids)
        .values("borrower_id", "bank_account_id")
        .annotate(first=Min("disbursed_at"))
        .order_by()
    ),
    {"ids": "ints"},
)
# Cards the borrowers bound by a reported bank-card change.
CARD_BINDINGS = Prepared(
    lambda ids: (
        Event.objects.filter(borrower_id__in=ids, kind=EventKind.BANK_ACCOUNT_CHANGE)
        .order_by()
        .values_list("borrower_id", "event_id", "occurred_at", "result")
    ),
    {"ids": "ints"},
)


# Every card of another borrower with a card number of these borrowers'.
CARD_SHARERS = Prepared(
    lambda ids: (
        BankAccount.objects.filter(
            card_no__in=BankAccount.objects.filter(borrower_id__in=ids).values("card_no")
        )
        .order_by()
        .values("borrower_id", "borrower__customer_no", "card_no", "first_seen_at")
    ),
    {"ids": "ints"},
)
# The first hop of a fund-flow path: transfers into these borrowers' cards in [start, end].
FIRST_HOP = Prepared(
    lambda ids, start, end: (
        TransferOut.objects.filter(
            counterparty_account__in=BankAccount.objects.filter(borrower_id__in=ids).values(
                "card_no"
            ),
            occurred_at__gte=start,
            occurred_at__lte=end,
        )
        .order_by("-occurred_at", "-pk")  # as the later hops' QuerySet (the model's ordering)
        .values(*TRANSFER_FIELDS, "borrower__customer_no")
    ),
    {"ids": "ints", "start": "at", "end": "at"},
)


def _run(prepared: Prepared, size: int, **arguments: Any) -> Iterable[Any]:
    """The rows of a prepared query for `size` borrowers: precompiled for a few of them, the
    QuerySet itself for a batch."""
    if size <= PREPARED_UP_TO:
        return prepared.rows(**arguments)
    return prepared.build(**arguments)


def histories_load(
    *, borrower_ids: Iterable[int], since: datetime, lists: Lists, needs: Needs
) -> dict[int, BorrowerHistory]:
    """The histories of these borrowers, by id, from `since` to now (see the module doc).

    Borrowers without a credit line are left out (no event of theirs reaches the rules).
    """
    ids = sorted(set(borrower_ids))
    if not ids:
        return {}
    # The borrowers and their rows, read together (rows of a borrower without a line, left
    # out below, are skipped).
    every = tuple(ids)
    queries: dict[str, tuple[Prepared, dict[str, Any]]] = {
        "people": (PEOPLE, {"ids": every}),
        "drawdowns": (DRAWDOWNS, {"ids": every, "since": since}),
        "repayments": (REPAYMENTS, {"ids": every, "since": since}),
        "devices": (DEVICES, {"ids": every}),
        "cards": (CARDS, {"ids": every}),
        "limit_changes": (LIMIT_CHANGES, {"ids": every, "since": since}),
    }
    if needs.transfers:
        queries["transfers"] = (TRANSFERS, {"ids": every, "since": since})
    if needs.own_cards:
        queries["payout_cards"] = (PAYOUT_CARDS, {"ids": every})
        queries["card_bindings"] = (CARD_BINDINGS, {"ids": every})
    if needs.card_sharers:
        queries["card_sharers"] = (CARD_SHARERS, {"ids": every})
    if needs.flow is not None and needs.flow.receivers:
        flow = needs.flow
        queries["first_hop"] = (
            FIRST_HOP,
            {"ids": tuple(sorted(flow.receivers)), "start": flow.start, "end": flow.end},
        )
    if len(ids) <= PREPARED_UP_TO:
        results = dict(zip(queries, rows_together(*queries.values()), strict=True))
    else:
        results = {
            name: list(prepared.build(**arguments))
            for name, (prepared, arguments) in queries.items()
        }
    people_rows, drawdowns, repayments = (
        results["people"],
        results["drawdowns"],
        results["repayments"],
    )
    devices, cards, limit_changes = results["devices"], results["cards"], results["limit_changes"]
    people: list[dict[str, Any]] = [dict(row) for row in people_rows]
    network = Network()
    histories = {
        p["pk"]: BorrowerHistory(
            borrower_id=p["pk"],
            customer_no=p["customer_no"],
            since=since,
            credit_limit=p["line__credit_limit"],
            used_now=p["line__used"],
            line_status=p["line__status"],
            employer=p["employer"],
            registered_at=p["registered_at"],
            identity_check=p["identity_check"],
            identity_checked_at=p["identity_checked_at"],
            lists=lists,
            network=network,
        )
        for p in people
    }
    ids = sorted(histories)
    for row in drawdowns:
        if row["borrower_id"] in histories:
            histories[row["borrower_id"]].drawdowns.append(_drawdown(row))
    for row in repayments:
        if row["borrower_id"] not in histories:
            continue
        histories[row["borrower_id"]].repayments.append(
            RepaymentRec(
                pk=row["pk"],
                reference=row["reference"],
                drawdown_id=row["drawdown_id"],
                loan_no=row["drawdown__loan_no"],
                amount=row["amount"],
                principal=row["principal"] or ZERO,
                at=row["paid_at"],
                bank_account_id=row["bank_account_id"],
            )
        )
    for row in results.get("transfers", []):
        if row["borrower_id"] in histories:
            histories[row["borrower_id"]].transfers.append(_transfer(row))
    for row in devices:
        if row["borrower_id"] in histories:
            histories[row["borrower_id"]].devices[row["pk"]] = DeviceRec(
                row["pk"], row["device_id"], row["first_seen_at"]
            )
    for row in cards:
        if row["borrower_id"] in histories:
            histories[row["borrower_id"]].cards[row["pk"]] = CardRec(
                row["pk"], row["card_no"], row["first_seen_at"]
            )
    for borrower_id, at, old, new in limit_changes:
        if borrower_id in histories:
            histories[borrower_id].limit_changes.append((at, old, new))
    if needs.own_cards:
        _own_cards_load(histories, results["payout_cards"], results["card_bindings"])
    if needs.same_identity:
        _same_identity_load(histories, people)
    if needs.card_sharers:
        _card_sharers_load(histories, results["card_sharers"])
    if needs.flow is not None:
        _network_load(network, histories, needs.flow, results.get("first_hop", []))
    return histories


def _own_cards_load(
    histories: dict[int, BorrowerHistory], payout_cards: list[Any], bindings: list[Any]
) -> None:
    """Cards drawdowns were paid out to (over the whole history: an old payout card is still
    the borrower's), and cards bound by a reported bank-card change (Event rows): the rows of
    PAYOUT_CARDS and CARD_BINDINGS."""
    for row in payout_cards:
        if row["borrower_id"] in histories:
            histories[row["borrower_id"]].own_cards[row["bank_account_id"]] = row["first"]
    for borrower_id, event_id, at, result in bindings:
        card_pk = (result or {}).get("bank_account_id")
        if card_pk is None or borrower_id not in histories:
            continue
        history = histories[borrower_id]
        history.seen.append(SeenRec(EventKind.BANK_ACCOUNT_CHANGE, event_id, at, str(card_pk)))
        known = history.own_cards.get(card_pk)
        if known is None or at < known:
            history.own_cards[card_pk] = at


def _same_identity_load(
    histories: dict[int, BorrowerHistory], people: list[dict[str, Any]]
) -> None:
    """Other borrowers with one of these national ID numbers or mobiles. The ID is matched
    through its indexed last four characters (the full number has no index of its own)."""
    if not people:
        return
    by_id = {p["national_id"]: p["pk"] for p in people if p["pk"] in histories}
    by_mobile = {p["mobile"]: p["pk"] for p in people if p["pk"] in histories}
    national_ids = defaultdict(set)
    mobiles = defaultdict(set)
    for p in people:
        national_ids[p["national_id"]].add(p["pk"])
        mobiles[p["mobile"]].add(p["pk"])
    arguments = {
        "last4s": tuple(sorted({p["national_id_last4"] for p in people})),
        "national_ids": tuple(sorted(by_id)),
        "mobiles": tuple(sorted(by_mobile)),
    }
    rows: Iterable[dict[str, Any]] = _run(SAME_IDENTITY, len(people), **arguments)
    for row in rows:
        for what, owners in (
            ("national_id", national_ids.get(row["national_id"], set())),
            ("mobile", mobiles.get(row["mobile"], set())),
        ):
            for owner in owners:
                if owner != row["pk"] and owner in histories:
                    histories[owner].same_identity.append(
                        OtherBorrower(row["pk"], row["customer_no"], what, row["registered_at"])
                    )


def _card_sharers_load(histories: dict[int, BorrowerHistory], rows: list[Any]) -> None:
    """Other borrowers the book has these borrowers' cards for (the rows of CARD_SHARERS)."""
    owners: dict[str, set[int]] = defaultdict(set)
    for history in histories.values():
        for card in history.cards.values():
            owners[card.card_no].add(history.borrower_id)
    for row in rows:
        for owner in owners[row["card_no"]]:
            if owner != row["borrower_id"]:
                histories[owner].card_sharers.setdefault(row["card_no"], []).append(
                    OtherBorrower(
                        row["borrower_id"],
                        row["borrower__customer_no"],
                        "card",
                        row["first_seen_at"],
                    )
                )


def _network_load(
    network: Network,
    histories: dict[int, BorrowerHistory],
    need: FlowNeed,
    first_hop: list[Any],
) -> None:
    """Walk back from the repaying borrowers, one hop a round: transfers into their cards
    within [start, end] (the first hop's are `first_hop`, FIRST_HOP's rows, read with the
    histories), then the senders' drawdowns in that window and, for the next hop, the
    senders' cards. Two or three queries a hop, whatever the number of events."""
    for history in histories.values():
        network.customer_nos.setdefault(history.borrower_id, history.customer_no)
    cards: dict[str, set[int]] = defaultdict(set)
    for receiver in need.receivers:
        if receiver in histories:
            for card in histories[receiver].cards.values():
                cards[card.card_no].add(receiver)
    expanded = set(need.receivers)
    for _hop in range(need.max_hops):
        if not cards:
            return
        senders: set[int] = set()
        inbound = (
            first_hop
            if _hop == 0
            else TransferOut.objects.filter(
                counterparty_account__in=list(cards),
                occurred_at__gte=need.start,
                occurred_at__lte=need.end,
            ).values(*TRANSFER_FIELDS, "borrower__customer_no")
        )
        for row in inbound:
            if row["counterparty_account"] not in cards:
                continue
            transfer = _transfer(row)
            network.customer_nos[transfer.borrower_id] = row["borrower__customer_no"]
            for receiver in cards[row["counterparty_account"]]:
                if receiver != transfer.borrower_id:
                    network.inbound.setdefault(receiver, []).append(FlowLink(transfer, receiver))
                    senders.add(transfer.borrower_id)
        fresh = senders - expanded
        if not fresh:
            return
        expanded |= fresh
        for row in (
            Drawdown.objects.filter(
                borrower_id__in=fresh, disbursed_at__gte=need.start, disbursed_at__lte=need.end
            )
            .order_by("disbursed_at", "pk")
            .values(*DRAWDOWN_FIELDS)
        ):
            network.drawdowns.setdefault(row["borrower_id"], []).append(
                _drawdown({**row, "device_id": None})
            )
        cards = defaultdict(set)
        if _hop + 1 < need.max_hops:
            for row in BankAccount.objects.filter(borrower_id__in=fresh).values(
                "borrower_id", "card_no"
            ):
                cards[row["card_no"]].add(row["borrower_id"])
