"""Event ingestion: the lending core's events recorded once each and applied to the book."""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    OperationalError,
    transaction,
)
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.audit import audit, audit_deferred
from accounts.choices import Role
from accounts.masking import mask_card, mask_mobile, mask_name, mask_national_id
from core.bulk import rows_update
from core.errors import DomainError
from core.prepared import Prepared, concrete_attnames, model_rows
from lending import services as lending
from lending.errors import UnknownBorrower, UnknownLoan
from lending.models import Borrower, CreditLine, Drawdown
from lending.services._common import activity_batched
from lending.services.batch import book_batch, loan_of_batch
from monitoring.choices import EventKind
from monitoring.errors import (
    EventBatchInvalid,
    EventBatchRefused,
    EventBatchRetry,
    EventError,
    EventIdReused,
    EventPostNotAllowed,
    LoanOfAnotherCustomer,
)
from monitoring.models import Event
from monitoring.services.evaluation import events_evaluate
from monitoring.validation import canonical, events_check_dates, events_parse

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

# Roles whose logins may post events: the lending core's machine account, and administrators
# (to replay a feed by hand).
EVENT_POSTER_ROLES = frozenset({Role.SERVICE, Role.ADMIN})

# Which field of the event a refusal from the book is about, by its code; the rest concern
# the event as a whole (field None) unless the refusal names its field itself.
REFUSAL_FIELD = {
    "unknown_borrower": "customer_no",
    "line_not_active": "customer_no",
    "line_closed": "customer_no",
    "unknown_loan": "loan_no",
    "loan_of_another_customer": "loan_no",
    "drawdown_not_active": "loan_no",
    "invalid_amount": "amount",
    "insufficient_available": "amount",
    "overpayment": "amount",
    "invalid_term": "term_months",
    "invalid_rate": "daily_rate",
    "invalid_date": "occurred_at",
    "event_id_reused": "event_id",
}
# The book's own idempotency key per kind, where a reused key with other data is refused.
KEY_FIELD = {
    EventKind.LINE_OPENED: "customer_no",
    EventKind.DRAWDOWN: "loan_no",
    EventKind.REPAYMENT: "event_id",
    EventKind.TRANSFER_OUT: "event_id",
}
# Lending services name times after what they mean; an event has one time, occurred_at.
TIME_FIELDS = {"registered_at", "opened_at", "disbursed_at", "paid_at", "seen_at"}
# Personal data an event may carry, and how Event.payload keeps it: masked, as staff pages
# show it (RULES §6.2). The full values live once, on the borrower's own records, behind the
# reveal-with-a-reason flow; the event log keeps no second unmasked copy (PIPL art. 6).
PAYLOAD_MASKS: dict[str, Callable[[str], str]] = {
    "name": mask_name,
    "national_id": mask_national_id,
    "mobile": mask_mobile,
    "card_no": mask_card,
    "counterparty_account": mask_card,
}
# The key salt of Event.payload_digest. Keyed (with SECRET_KEY), so the digest of a guessed
# payload cannot be computed by whoever reads the table to confirm a national ID or card.
PAYLOAD_DIGEST_SALT = "riskops.monitoring.event-payload"
# How a lost race shows, by PostgreSQL's SQLSTATE and by SQLite's error name, with the reason
# EventBatchRetry gives. The other request has committed or rolled back by the time the error
# reaches us, so the same batch posted again succeeds, or replays what the other recorded.
# (Within one batch the services look a key up before inserting it, so a duplicate key can
# only be another request's.)
LOST_RACE_SQLSTATES = {
    "23505": "duplicate_key",  # unique_violation: a customer or card another request created
    "40001": "serialization_failure",
    "40P01": "deadlock",
    "55P03": "lock_timeout",  # lock_not_available
}
LOST_RACE_SQLITE_ERRORS = {
    "SQLITE_CONSTRAINT_UNIQUE": "duplicate_key",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "duplicate_key",
    "SQLITE_BUSY": "database_busy",  # the write lock was held past busy_timeout
    "SQLITE_LOCKED": "database_busy",
}
# From this many new events on, a batch's new rows of the book are written together at its
# end (lending.services.batch), not one statement each.
DEFER_INSERTS_FROM = 8
# Seconds the client is told to wait before posting a batch that lost a race again: the
# winner holds its locks for one batch's transaction, well under a second.
RETRY_AFTER_SECONDS = 1


def event_storage_form(payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """How an event is kept: (payload with personal data masked, digest of the full payload).

    `payload` is the validated event in its canonical form (monitoring.validation.canonical).
    The digest is a keyed HMAC-SHA256 of that form as compact, key-sorted JSON, so the same
    event, however it was written, has the same digest: replays are recognised by comparing
    digests, as the masked payload can no longer tell two ID numbers apart. Used by ingestion
    and by the demo seeder, which must store exactly what ingestion would.
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    digest = salted_hmac(PAYLOAD_DIGEST_SALT, text, algorithm="sha256").hexdigest()
    masked = {
        key: PAYLOAD_MASKS[key](value) if key in PAYLOAD_MASKS and isinstance(value, str) else value
        for key, value in payload.items()
    }
    return masked, digest


def event_ingest(*, actor: User | None, events: list[Any]) -> list[dict[str, Any]]:
    """Record a batch of lending-core events and apply each to the book, all or nothing.

    `events` are raw JSON-like dicts (the API's body, or the demo feed's); `actor` is the
    posting login, or None for the system (the demo feed). Steps:
    1. Check every event's form (monitoring.validation.events_parse); any error ->
       EventBatchInvalid listing them all, before any transaction is opened.
    2. In one durable transaction: look up the event ids already recorded. An id seen before
       (earlier, or earlier in this batch) with the same data (the same payload digest) is a
       replay; with other data it is refused (EventBatchRefused listing every such index,
       code event_id_reused). A batch of replays only is answered now, taking no lock.
    3. Lock the credit lines of the customers the new events concern, in id order (_lines_lock),
       then look again for their ids: a concurrent batch may have recorded some while this one
       waited, and they are replays now.
    4. Check the new events' times against the clock and the book
       (monitoring.validation.events_check_dates: not in the future, not older than the
       back-dating limit, not before the line opened or the loan was paid out); any error ->
       EventBatchInvalid listing them all. Nothing has been written yet.
    5. Claim the new ids by inserting their Event rows, in id order, so a concurrent request
       with the same ids waits on them.
    6. Apply the new events in order through the lending services. The first refusal
       (DomainError) rolls the whole batch back: EventBatchRefused with its index, field,
       code and message. Events after it were not tried.
    7. Store each event's answer in Event.result.
    8. Judge the new events against the live rules, still under the line locks, and raise
       their alerts in this transaction (_rules_judge); an event's answer lists the ids of
       the alerts it raised ("alerts").

    Event rows keep the payload masked and a digest of the full one (event_storage_form).
    A race lost to a concurrent request (an id or key it inserted first, a deadlock, a
    serialization failure, a lock held too long) rolls the batch back and raises
    EventBatchRetry: posting the same batch again is safe.

    Returns one dict per event, in order: index, event_id, kind, status ("recorded" or
    "replayed") and the ids it touched (borrower_id, drawdown_id, ...). A replay answers
    what the event's first posting answered, with status "replayed" and its index now.
    Raises EventPostNotAllowed for a login that is neither the service account nor an admin.
    """
    if actor is not None and not (actor.is_active and actor.role in EVENT_POSTER_ROLES):
        raise EventPostNotAllowed(actor=actor.get_username())
    parsed, errors = events_parse(events, max_events=settings.RISKOPS_EVENT_BATCH_MAX)
    if errors:
        raise EventBatchInvalid(errors)
    try:
        # Validation holds no lock; the transaction (and, on SQLite, the write lock) starts here.
        with transaction.atomic(durable=True):
            return _batch_apply(actor=actor, parsed=parsed)
    except (IntegrityError, OperationalError) as exc:
        reason = _lost_race(exc)
        if reason is None:
            raise
        logger.info("Event batch lost a race (%s); the client is told to retry.", reason)
        raise EventBatchRetry(reason=reason, retry_after=RETRY_AFTER_SECONDS) from exc


def _lost_race(exc: DatabaseError) -> str | None:
    """The reason to retry, when `exc` is a race lost to a concurrent request; else None."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate in LOST_RACE_SQLSTATES:
        return LOST_RACE_SQLSTATES[sqlstate]
    name = getattr(cause, "sqlite_errorname", None)
    if isinstance(name, str) and name in LOST_RACE_SQLITE_ERRORS:
        return LOST_RACE_SQLITE_ERRORS[name]
    return None


def _batch_apply(*, actor: User | None, parsed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps 2-7 of event_ingest, inside its transaction."""
    forms = [event_storage_form(canonical(event)) for event in parsed]
    stored = {row.event_id: row for row in _events_stored({e["event_id"] for e in parsed})}
    first_index = _new_events(parsed, forms, stored)
    if not first_index:  # a pure replay: answered from the stored results, nothing written
        return _replayed(parsed, stored)

    borrowers, lines = _lines_lock(parsed[i]["customer_no"] for i in first_index.values())
    line_opened_at = {
        customer_no: lines[borrower.pk].opened_at
        for customer_no, borrower in borrowers.items()
        if borrower.pk in lines
    }
    if borrowers:
        # We may have waited for the locks while a concurrent batch with some of these ids
        # committed; reading them now makes them replays instead of a duplicate-key error.
        late = {row.event_id: row for row in _events_stored(set(first_index))}
        if late:
            stored.update(late)
            first_index = _new_events(parsed, forms, stored)
            if not first_index:
                return _replayed(parsed, stored)

    new = [(index, parsed[index]) for index in first_index.values()]
    repaid = {event["loan_no"] for _, event in new if event["kind"] == EventKind.REPAYMENT}
    drawn = {event["loan_no"] for _, event in new if event["kind"] == EventKind.DRAWDOWN}
    # One look-up for both: when the repaid loans were paid out, and which drawn ones are new.
    known = _loans_known(repaid | drawn)
    date_errors = events_check_dates(
        new,
        now=timezone.now(),
        line_opened_at=line_opened_at,
        disbursed_at={loan_no: at for loan_no, (at, _owner) in known.items() if loan_no in repaid},
    )
    if date_errors:
        raise EventBatchInvalid(date_errors)

    claimed = {
        event["event_id"]: Event(
            event_id=event["event_id"],
            kind=event["kind"],
            occurred_at=event["occurred_at"],
            payload=forms[index][0],
            payload_digest=forms[index][1],
            posted_by=actor,
        )
        for index, event in new
    }
    try:
        # In id order: two batches sharing ids then wait on the first shared one, never each
        # on the other's. No savepoint: the duplicate-key error of a concurrent claim is
        # answered as a retry, and the batch's transaction rolls back with it.
        Event.objects.bulk_create(sorted(claimed.values(), key=lambda row: row.event_id))
    except IntegrityError as exc:
        raise EventBatchRetry(reason="event_in_flight", retry_after=RETRY_AFTER_SECONDS) from exc

    # The lending services' audit rows are appended together when the batch is applied (one
    # append lock and one write instead of three statements per row: audit_deferred); they
    # run as one batch of the book (lending.services.batch: the lines locked above, the
    # borrowers' cards and devices, the repaid loans and which keys are new, each read once;
    # the lines', cards' and devices' updates written once at its end); other apps hear of
    # each borrower's drawdowns and repayments once per batch (activity_batched).
    with audit_deferred(), activity_batched():
        owners = {loan_no: owner for loan_no, (_at, owner) in known.items() if loan_no in repaid}
        token = _loan_owners.set(owners)
        try:
            with book_batch(
                lines=lines.values(),
                new_loans=drawn - set(known),
                repaid_loans=repaid & set(known),
                references=[
                    event["event_id"]
                    for _, event in new
                    if event["kind"] in (EventKind.REPAYMENT, EventKind.TRANSFER_OUT)
                ],
                new_customers={
                    event["customer_no"]
                    for _, event in new
                    if event["kind"] == EventKind.LINE_OPENED
                }
                - set(borrowers),
                # Reserving ids pays from a few dozen new rows on; a single event inserts its
                # rows at once.
                defer_inserts=len(new) >= DEFER_INSERTS_FROM,
            ):
                results = _events_apply(
                    actor=actor,
                    parsed=parsed,
                    stored=stored,
                    claimed=claimed,
                    first_index=first_index,
                    borrowers=borrowers,
                )
        finally:
            _loan_owners.reset(token)
        # After the batch's updates are written: the rules read the lines and devices.
        _rules_judge(claimed.values())

        # One row for the batch: the book changes each event made are audited by the lending
        # services; this one says who posted what, and how much was new.
        audit(
            actor=actor,
            action="events.ingested",
            obj=next(iter(claimed.values())),
            after={
                "recorded": len(claimed),
                "replayed": len(parsed) - len(claimed),
                "event_ids": list(claimed)[:20],
            },
        )
    return results


def _events_apply(
    *,
    actor: User | None,
    parsed: list[dict[str, Any]],
    stored: dict[str, Event],
    claimed: dict[str, Event],
    first_index: dict[str, int],
    borrowers: dict[str, Borrower],
) -> list[dict[str, Any]]:
    """Step 6-7 of event_ingest: apply the new events in order, store each one's answer."""
    results: list[dict[str, Any]] = []
    applied: list[Event] = []
    for index, event in enumerate(parsed):
        event_id = event["event_id"]
        row = stored.get(event_id) or claimed[event_id]
        if event_id in stored or first_index[event_id] != index:
            results.append({**row.result, "index": index, "status": "replayed"})
            continue
        try:
            touched = APPLY[event["kind"]](actor=actor, event=event, borrowers=borrowers)
        except DomainError as exc:
            raise EventBatchRefused([_refusal(index, event, exc)]) from exc
        row.result = {
            "index": index,
            "event_id": event_id,
            "kind": event["kind"],
            "status": "recorded",
            **touched,
        }
        row.borrower_id = touched["borrower_id"]
        applied.append(row)
        results.append(row.result)
    # One statement for the batch's answers (before the rules run: their histories read the
    # events' borrowers).
    _results_store(applied, with_borrower=True)
    return results


def _results_store(rows: list[Event], *, with_borrower: bool) -> None:
    """Store these events' answers (and borrowers) in a few statements (core.bulk)."""
    rows_update(Event, rows, ["result", "borrower"] if with_borrower else ["result"])


def _rules_judge(rows: Iterable[Event]) -> None:
    """Step 8 of event_ingest: judge the new events against the live rules and raise their
    alerts in this transaction (monitoring.services.evaluation.events_evaluate).

    Here, while the batch's credit lines are locked: a concurrent batch of the same borrower
    waits for this one to commit, then judges its events with these in their history (and
    these again, if its events are earlier in event time), so no hit is lost to a race. An
    event that raised alerts answers with their ids ("alerts"), stored with its result.
    """
    recorded = [row for row in rows if row.borrower_id is not None]
    raised: dict[int, list[int]] = {}
    for rule_hit in events_evaluate(events=recorded):
        if rule_hit.alert_id is not None and rule_hit.hit.event_pk is not None:
            raised.setdefault(rule_hit.hit.event_pk, []).append(rule_hit.alert_id)
    alerted = [row for row in recorded if row.pk in raised]
    for row in alerted:
        row.result["alerts"] = sorted(raised[row.pk])
    if alerted:
        _results_store(alerted, with_borrower=False)


def _new_events(
    parsed: list[dict[str, Any]], forms: list[tuple[dict[str, Any], str]], stored: dict[str, Event]
) -> dict[str, int]:
    """Where each event id not recorded yet first appears in the batch (in batch order).

    Raises EventBatchRefused listing every event whose id was recorded, earlier or earlier in
    this batch, with other data (a different payload digest).
    """
    first_index: dict[str, int] = {}
    conflicts: list[EventError] = []
    for index, (event, (_, digest)) in enumerate(zip(parsed, forms, strict=True)):
        event_id = event["event_id"]
        if event_id in stored:
            seen_digest = stored[event_id].payload_digest
        elif event_id in first_index:
            seen_digest = forms[first_index[event_id]][1]
        else:
            first_index[event_id] = index
            continue
        if seen_digest != digest:
            conflicts.append(_refusal(index, event, EventIdReused(event_id=event_id)))
    if conflicts:
        raise EventBatchRefused(conflicts)
    return first_index


def _replayed(parsed: list[dict[str, Any]], stored: dict[str, Event]) -> list[dict[str, Any]]:
    """The answers of a batch whose every event was recorded before."""
    return [
        {**stored[event["event_id"]].result, "index": index, "status": "replayed"}
        for index, event in enumerate(parsed)
    ]


def _lines_lock(
    customer_nos: Iterable[str],
) -> tuple[dict[str, Borrower], dict[int, CreditLine]]:
    """Lock the credit lines of these customers, in id order; return the borrowers the book
    knows, by customer_no, and their lines, locked, by borrower id.

    Every service an event calls locks its borrower's line before anything else
    (lending.services, rule 3). Taking all of a batch's lines first, in one fixed order, makes
    two batches that touch the same lines queue one behind the other, where each would
    otherwise hold one line and wait for the other's: a deadlock. It also queues two requests
    adding the same card or device to one borrower, which no existing row could lock.
    """
    wanted = tuple(sorted(set(customer_nos)))
    few = len(wanted) <= PREPARED_UP_TO
    found = (
        model_rows(Borrower, BORROWERS.rows(customer_nos=wanted))
        if few
        else Borrower.objects.filter(customer_no__in=wanted)
    )
    borrowers = {borrower.customer_no: borrower for borrower in found}
    if not borrowers:
        return borrowers, {}
    ids = tuple(sorted(borrower.pk for borrower in borrowers.values()))
    lines = (
        model_rows(CreditLine, LINES_LOCKED.rows(ids=ids))
        if few
        else CreditLine.objects.select_for_update().filter(borrower_id__in=ids).order_by("pk")
    )
    return borrowers, {line.borrower_id: line for line in lines}


def _loans_known(loan_nos: Iterable[str]) -> dict[str, tuple[datetime, int]]:
    """When the book paid out each of these loans and to which borrower, by loan_no (those it
    knows)."""
    wanted = tuple(sorted(set(loan_nos)))
    if not wanted:
        return {}
    rows = (
        LOANS_KNOWN.rows(loan_nos=wanted)
        if len(wanted) <= PREPARED_UP_TO
        else LOANS_KNOWN.build(loan_nos=wanted)
    )
    return {loan_no: (disbursed_at, borrower_id) for loan_no, disbursed_at, borrower_id in rows}


# Up to this many ids a look-up runs precompiled (core.prepared): a single event's, a small
# batch's. A larger batch runs the QuerySet: its compiling is shared by hundreds of events.
PREPARED_UP_TO = 4
LOANS_KNOWN = Prepared(
    lambda loan_nos: (
        Drawdown.objects.filter(loan_no__in=loan_nos)
        .order_by()
        .values_list("loan_no", "disbursed_at", "borrower_id")
    ),
    {"loan_nos": "strs"},
)
BORROWERS = Prepared(
    lambda customer_nos: (
        Borrower.objects.filter(customer_no__in=customer_nos)
        .order_by()
        .values(*concrete_attnames(Borrower))
    ),
    {"customer_nos": "strs"},
)
# Locked in id order, as _lines_lock explains.
LINES_LOCKED = Prepared(
    lambda ids: (
        CreditLine.objects.select_for_update()
        .filter(borrower_id__in=ids)
        .order_by("pk")
        .values(*concrete_attnames(CreditLine))
    ),
    {"ids": "ints"},
)
EVENTS_STORED = Prepared(
    lambda event_ids: (
        Event.objects.filter(event_id__in=event_ids).order_by().values(*concrete_attnames(Event))
    ),
    {"event_ids": "strs"},
)


def _events_stored(event_ids: set[str]) -> list[Event]:
    """The recorded events with these ids."""
    if len(event_ids) > PREPARED_UP_TO:
        return list(Event.objects.filter(event_id__in=event_ids))
    rows = EVENTS_STORED.rows(event_ids=tuple(sorted(event_ids)))
    return model_rows(Event, rows)


# The owners of the loans a batch repays, read with its other look-ups (_loans_known): a
# loan's borrower never changes, so _repayment need not read it again per event.
_loan_owners: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar(
    "riskops_loan_owners", default=None
)


def _refusal(index: int | None, event: dict[str, Any], exc: DomainError) -> EventError:
    """One refusal as the API reports it, pointing at the event's field it concerns."""
    field = REFUSAL_FIELD.get(exc.code)
    # Lending refusals may name their field ("income band"; InvalidData lists "fields").
    named = exc.extra.get("field") or exc.extra.get("fields")
    if isinstance(named, str) and named and "," not in named:
        named = named.replace(" ", "_")
        field = "occurred_at" if named in TIME_FIELDS else named
    if exc.code == "duplicate_key_conflict":
        field = KEY_FIELD.get(event.get("kind", ""))
    return {
        "index": index,
        "event_id": event.get("event_id"),
        "field": field,
        "code": exc.code,
        "message": exc.message,
    }


def _direct(service: Callable[..., Any]) -> Callable[..., Any]:
    """A lending service without the savepoint its @transaction.atomic opens when it runs
    inside the batch's transaction (two statements per event). The batch needs none: any
    error an event raises rolls the whole batch back."""
    return getattr(service, "__wrapped__", service)


def _borrower(borrowers: dict[str, Borrower], customer_no: str) -> Borrower:
    try:
        return borrowers[customer_no]
    except KeyError:
        raise UnknownBorrower(customer_no=customer_no) from None


Applier = Callable[..., dict[str, int]]


def _line_opened(
    *, actor: User | None, event: dict[str, Any], borrowers: dict[str, Borrower]
) -> dict[str, int]:
    borrower = _direct(lending.borrower_register)(
        actor=actor,
        customer_no=event["customer_no"],
        name=event["name"],
        national_id=event["national_id"].upper(),
        mobile=event["mobile"],
        city=event["city"],
        employer=event["employer"],
        income_band=event["income_band"],
        registered_at=event["occurred_at"],
        credit_limit=event["credit_limit"],
        daily_rate=event["daily_rate"],
        opened_at=event["occurred_at"],
    )
    borrowers[borrower.customer_no] = borrower
    return {"borrower_id": borrower.pk, "line_id": borrower.line.pk}


def _drawdown(
    *, actor: User | None, event: dict[str, Any], borrowers: dict[str, Borrower]
) -> dict[str, int]:
    borrower = _borrower(borrowers, event["customer_no"])
    drawdown = _direct(lending.drawdown_create)(
        actor=actor,
        borrower=borrower,
        loan_no=event["loan_no"],
        amount=event["amount"],
        term_months=event["term_months"],
        repayment_mode=event["repayment_mode"],
        purpose=event["purpose"],
        card_no=event["card_no"],
        bank_name=event["bank_name"],
        device_id=event.get("device_id"),
        daily_rate=event.get("daily_rate"),
        disbursed_at=event["occurred_at"],
    )
    return {"borrower_id": borrower.pk, "drawdown_id": drawdown.pk}


def _repayment(
    *, actor: User | None, event: dict[str, Any], borrowers: dict[str, Borrower]
) -> dict[str, int]:
    borrower = _borrower(borrowers, event["customer_no"])
    # The loan must be the customer's: a repayment credited to someone else's loan would be
    # a silent error the lending core could not see.
    owners = _loan_owners.get() or {}
    # A loan paid out earlier in this batch is the batch's until it ends (not in the table yet).
    paid_out = loan_of_batch(event["loan_no"])
    owner_id = (
        owners.get(event["loan_no"])
        or (paid_out.borrower_id if paid_out is not None else None)
        or (
            Drawdown.objects.filter(loan_no=event["loan_no"])
            .values_list("borrower_id", flat=True)
            .first()
        )
    )
    if owner_id is None:
        raise UnknownLoan(loan_no=event["loan_no"])
    if owner_id != borrower.pk:
        raise LoanOfAnotherCustomer(loan_no=event["loan_no"], customer_no=event["customer_no"])
    repayment = _direct(lending.repayment_record)(
        actor=actor,
        loan_no=event["loan_no"],
        reference=event["event_id"],
        amount=event["amount"],
        paid_at=event["occurred_at"],
        card_no=event.get("card_no"),
    )
    return {
        "borrower_id": borrower.pk,
        "drawdown_id": repayment.drawdown_id,
        "repayment_id": repayment.pk,
    }


def _device(
    *, actor: User | None, event: dict[str, Any], borrowers: dict[str, Borrower]
) -> dict[str, int]:
    """login and device_change: the device is recorded (or its last-seen time moved)."""
    borrower = _borrower(borrowers, event["customer_no"])
    device = _direct(lending.device_seen)(
        actor=actor,
        borrower=borrower,
        device_id=event["device_id"],
        platform=event["platform"],
        seen_at=event["occurred_at"],
    )
    return {"borrower_id": borrower.pk, "device_record_id": device.pk}


def _bank_account(
    *, actor: User | None, event: dict[str, Any], borrowers: dict[str, Borrower]
) -> dict[str, int]:
    borrower = _borrower(borrowers, event["customer_no"])
    account = _direct(lending.bank_account_seen)(
        actor=actor,
        borrower=borrower,
        card_no=event["card_no"],
        bank_name=event["bank_name"],
        seen_at=event["occurred_at"],
    )
    return {"borrower_id": borrower.pk, "bank_account_id": account.pk}


def _transfer_out(
    *, actor: User | None, event: dict[str, Any], borrowers: dict[str, Borrower]
) -> dict[str, int]:
    borrower = _borrower(borrowers, event["customer_no"])
    transfer = _direct(lending.transfer_out_record)(
        actor=actor,
        borrower=borrower,
        reference=event["event_id"],
        amount=event["amount"],
        occurred_at=event["occurred_at"],
        counterparty_name=event["counterparty_name"],
        counterparty_account=event["counterparty_account"],
        counterparty_is_lender=event["counterparty_is_lender"],
        card_no=event.get("card_no"),
    )
    return {"borrower_id": borrower.pk, "transfer_out_id": transfer.pk}


APPLY: dict[str, Applier] = {
    EventKind.LINE_OPENED: _line_opened,
    EventKind.DRAWDOWN: _drawdown,
    EventKind.REPAYMENT: _repayment,
    EventKind.LOGIN: _device,
    EventKind.DEVICE_CHANGE: _device,
    EventKind.BANK_ACCOUNT_CHANGE: _bank_account,
    EventKind.TRANSFER_OUT: _transfer_out,
}
