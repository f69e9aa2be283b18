"""The book's rows as numpy arrays, and the states a risk team derives from them (DPD, buckets,
month-end states, first days past a DPD, linked groups). Conventions: demo.metrics."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Min
from django.utils import timezone

from demo.models import DemoBorrowerProfile
from lending.models import (
    BankAccount,
    Borrower,
    CreditLine,
    DayClose,
    Device,
    Drawdown,
    Instalment,
    RepaymentAllocation,
    TransferOut,
)
from lending.selectors.book import limit_at_expression

NEVER = 10**7  # a day number later than any date: "not (yet) happened"
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
SHANGHAI_OFFSET = 8 * 3600
BUCKET_LOWS = np.array([1, 31, 61, 91, 121, 151, 181])  # DPD at which M1..M7 begin
SETTLED, WRITTEN_OFF, NOT_ON_BOOK = 8, 9, -1
NIGHT_HOURS = 5  # 00:00-04:59
# The scorecard's observation point: this many month ends into the window; the outcome is
# 90+ DPD at any time after it, up to the as-of date.
OBSERVATION_MONTHS = 6


def _columns(queryset: Any, *fields: str) -> list[list[Any]]:
    """The columns of `queryset.values_list(*fields)`, as the database driver returns them.

    The ORM's per-value converters (a Decimal and an aware datetime for every cell) would cost
    more than everything else here on a large book, so the query's SQL runs on a cursor and
    the columns are converted whole by _days, _moments and _floats.
    """
    sql, params = queryset.values_list(*fields).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in fields]


def _floats(values: list[Any]) -> np.ndarray:
    return np.array([0.0 if v is None else float(v) for v in values], dtype=float)


def _days(values: list[Any]) -> np.ndarray:
    """Dates (date objects, or SQLite's "YYYY-MM-DD" text) as day numbers; NEVER for null."""
    out = np.full(len(values), NEVER, dtype=np.int64)
    for i, v in enumerate(values):
        if v is not None:
            out[i] = (date.fromisoformat(v) if isinstance(v, str) else v).toordinal()
    return out


def _moments(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Datetimes (aware; naive UTC or UTC text from SQLite) as (Shanghai day number, seconds
    since the epoch shifted to Shanghai); (NEVER, NaN) for null."""
    if values and any(isinstance(v, str) for v in values):
        stamps = np.array(["NaT" if v is None else v for v in values], dtype="datetime64[us]")
        seconds = stamps.astype("int64") / 1e6 + SHANGHAI_OFFSET
        seconds[np.isnat(stamps)] = np.nan
    else:
        seconds = np.array(
            [
                np.nan
                if v is None
                else (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp() + SHANGHAI_OFFSET
                for v in values
            ],
            dtype=float,
        )
    missing = np.isnan(seconds)
    days = np.floor(np.nan_to_num(seconds) / 86400).astype(np.int64) + EPOCH_ORDINAL
    return np.where(missing, NEVER, days), seconds


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _index(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Positions of `values` in the sorted id array `ids`."""
    return np.searchsorted(ids, values)


@dataclass
class Book:
    """The rows the figures need, as numpy arrays (days as ordinals, money as float)."""

    as_of: date
    start: date
    # borrowers (sorted by id) and their line
    b_id: np.ndarray
    b_band: np.ndarray
    b_identity: np.ndarray
    b_opened: np.ndarray
    b_limit: np.ndarray
    b_mobile: np.ndarray
    b_address: np.ndarray
    b_contact: np.ndarray
    # loans (sorted by id)
    l_id: np.ndarray
    l_borrower: np.ndarray  # index into borrowers
    l_amount: np.ndarray
    l_term: np.ndarray
    l_mode: np.ndarray
    l_day: np.ndarray
    l_hour: np.ndarray
    l_seconds: np.ndarray
    l_settled: np.ndarray
    l_written_off: np.ndarray
    l_wo_principal: np.ndarray
    l_outstanding: np.ndarray
    l_status: np.ndarray
    # instalments
    i_loan: np.ndarray  # index into loans
    i_seq: np.ndarray
    i_due: np.ndarray
    i_paid: np.ndarray  # day paid off (cleared), NEVER if not
    i_principal_unpaid: np.ndarray
    i_penalty_through: np.ndarray
    # principal repaid: (loan index, day, amount)
    p_loan: np.ndarray
    p_day: np.ndarray
    p_principal: np.ndarray
    # transfers out
    t_borrower: np.ndarray
    t_seconds: np.ndarray
    t_lender: np.ndarray
    # links between borrowers: (borrower index, key) per shared-able attribute
    links: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    cards: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.array([]),) * 2)
    day_close: bool = False
    risk: np.ndarray | None = None  # hidden: DemoBorrowerProfile.latent_risk, NaN if none


def load_book(*, as_of: date | None = None, months: int | None = None) -> Book:
    """Read the book. `as_of` defaults to the latest day close; the window starts `months`
    months earlier (default: the month the first line was opened)."""
    if as_of is None:
        latest = DayClose.objects.order_by("-day").values_list("day", flat=True).first()
        if latest is None:
            raise ValueError("No day close in the database: give the as-of date.")
        as_of = latest
    if months is None:
        first = CreditLine.objects.aggregate(first=Min("opened_at"))["first"]
        start = timezone.localdate(first) if first else as_of
    else:
        start = _add_months(as_of, -months)

    # The limit at the book's end (lending.models.LimitChange), not one the policy set later.
    end = timezone.make_aware(datetime.combine(as_of + timedelta(days=1), time.min))
    b_id, band, identity, mobile, address, contact, opened, limit = _columns(
        Borrower.objects.order_by("id").annotate(
            limit_then=limit_at_expression(
                end, inclusive=False, line="line__id", current="line__credit_limit"
            )
        ),
        "id",
        "income_band",
        "identity_check",
        "mobile",
        "home_address",
        "emergency_contact_mobile",
        "line__opened_at",
        "limit_then",
    )
    b_ids = np.array(b_id, dtype=np.int64)
    (
        l_id,
        l_borrower,
        amount,
        term,
        mode,
        disbursed,
        settled,
        written_off,
        wo_principal,
        outstanding,
        status,
    ) = _columns(
        Drawdown.objects.order_by("id"),
        "id",
        "borrower_id",
        "amount",
        "term_months",
        "repayment_mode",
        "disbursed_at",
        "settled_at",
        "written_off_at",
        "written_off_principal",
        "principal_outstanding",
        "status",
    )
    l_ids = np.array(l_id, dtype=np.int64)
    l_day, l_seconds = _moments(disbursed)
    i_loan, i_seq, i_due, i_paid, i_principal, i_principal_paid, i_through = _columns(
        Instalment.objects.all(),
        "drawdown_id",
        "seq",
        "due_date",
        "paid_off_at",
        "principal_due",
        "principal_paid",
        "penalty_through",
    )
    p_loan, p_paid_at, p_principal = _columns(
        RepaymentAllocation.objects.filter(principal__gt=0),
        "repayment__drawdown_id",
        "repayment__paid_at",
        "principal",
    )
    t_borrower, t_at, t_lender = _columns(
        TransferOut.objects.all(), "borrower_id", "occurred_at", "counterparty_is_lender"
    )
    book = Book(
        as_of=as_of,
        start=start,
        b_id=b_ids,
        b_band=np.array(band),
        b_identity=np.array(identity),
        b_opened=_moments(opened)[0],
        b_limit=_floats(limit),
        b_mobile=np.array(mobile),
        b_address=np.array(address),
        b_contact=np.array(contact),
        l_id=l_ids,
        l_borrower=_index(b_ids, np.array(l_borrower, dtype=np.int64)),
        l_amount=_floats(amount),
        l_term=np.array(term, dtype=np.int64),
        l_mode=np.array(mode),
        l_day=l_day,
        l_hour=np.floor(np.mod(np.nan_to_num(l_seconds), 86400) / 3600).astype(np.int64),
        l_seconds=l_seconds,
        l_settled=_moments(settled)[0],
        l_written_off=_moments(written_off)[0],
        l_wo_principal=_floats(wo_principal),
        l_outstanding=_floats(outstanding),
        l_status=np.array(status),
        i_loan=_index(l_ids, np.array(i_loan, dtype=np.int64)),
        i_seq=np.array(i_seq, dtype=np.int64),
        i_due=_days(i_due),
        i_paid=_moments(i_paid)[0],
        i_principal_unpaid=_floats(i_principal) - _floats(i_principal_paid),
        i_penalty_through=_days(i_through),
        p_loan=_index(l_ids, np.array(p_loan, dtype=np.int64)),
        p_day=_moments(p_paid_at)[0],
        p_principal=_floats(p_principal),
        t_borrower=_index(b_ids, np.array(t_borrower, dtype=np.int64)),
        t_seconds=_moments(t_at)[1],
        t_lender=np.array(t_lender, dtype=bool),
        day_close=DayClose.objects.filter(day=as_of).exists(),
    )
    dev_owner, dev_id, dev_ip = _columns(
        Device.objects.all(), "borrower_id", "device_id", "ip_address"
    )
    dev_b = _index(b_ids, np.array(dev_owner, dtype=np.int64))
    book.links["device"] = (dev_b, np.array(dev_id))
    with_ip = [i for i, ip in enumerate(dev_ip) if ip]
    book.links["ip"] = (dev_b[with_ip], np.array([dev_ip[i] for i in with_ip]))
    has_address = np.flatnonzero(book.b_address != "")
    book.links["address"] = (has_address, book.b_address[has_address])
    has_contact = np.flatnonzero(book.b_contact != "")
    # An emergency contact links to whoever else names the same number, or owns it.
    book.links["contact"] = (
        np.concatenate([has_contact, np.arange(len(b_ids))]),
        np.concatenate([book.b_contact[has_contact], book.b_mobile]),
    )
    card_owner, card_no = _columns(BankAccount.objects.all(), "borrower_id", "card_no")
    book.cards = (_index(b_ids, np.array(card_owner, dtype=np.int64)), np.array(card_no))
    risk = dict(DemoBorrowerProfile.objects.values_list("borrower_id", "latent_risk"))
    if risk:
        book.risk = np.array([risk.get(int(b), np.nan) for b in b_ids])
    return book


# --- derived states -----------------------------------------------------------------------


def month_ends(book: Book) -> list[date]:
    """The last day of every calendar month after the window's start, up to the as-of date."""
    ends: list[date] = []
    year, month = book.start.year, book.start.month
    while True:
        end = month_end(year, month)
        if end > book.as_of:
            return ends
        if end > book.start:
            ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def loan_dpd(book: Book, day: int) -> np.ndarray:
    """Each loan's DPD at the end of `day` (0 when nothing is overdue, or not yet drawn)."""
    late = (book.i_due < day) & (book.i_paid > day)
    oldest = np.full(len(book.l_id), NEVER, dtype=np.int64)
    np.minimum.at(oldest, book.i_loan[late], book.i_due[late])
    return np.where(oldest == NEVER, 0, day - oldest)


def bucket_of(dpd: np.ndarray) -> np.ndarray:
    """M0..M7 as 0..7."""
    return np.searchsorted(BUCKET_LOWS, dpd, side="right")


def loan_states(book: Book, day: int) -> tuple[np.ndarray, np.ndarray]:
    """(state, balance) of every loan at the end of `day`: state 0..7 for M0..M7, SETTLED,
    WRITTEN_OFF or NOT_ON_BOOK; balance the principal outstanding (0 unless on the book)."""
    state = bucket_of(loan_dpd(book, day))
    state = np.where(book.l_settled <= day, SETTLED, state)
    state = np.where(book.l_written_off <= day, WRITTEN_OFF, state)
    state = np.where(book.l_day > day, NOT_ON_BOOK, state)
    repaid = np.zeros(len(book.l_id))
    done = book.p_day <= day
    np.add.at(repaid, book.p_loan[done], book.p_principal[done])
    balance = np.where((state >= 0) & (state <= 7), book.l_amount - repaid, 0.0)
    return state, balance


def first_day_at(book: Book, dpd: int) -> np.ndarray:
    """Per loan, the first day it was dpd or more days past due (NEVER if not by the as-of
    date): an instalment unpaid at the end of its due date + dpd."""
    reached = book.i_paid > book.i_due + dpd
    day = np.where(reached, book.i_due + dpd, NEVER)
    day = np.where(day <= book.as_of.toordinal(), day, NEVER)
    first = np.full(len(book.l_id), NEVER, dtype=np.int64)
    np.minimum.at(first, book.i_loan, day)
    return first


def per_borrower_min(book: Book, per_loan: np.ndarray) -> np.ndarray:
    out = np.full(len(book.b_id), NEVER, dtype=np.int64)
    np.minimum.at(out, book.l_borrower, per_loan)
    return out


def clusters(book: Book, kinds: Iterable[str]) -> np.ndarray:
    """Per borrower, the size of its group of borrowers linked through any shared value of
    the given kinds (union-find over shared devices, IPs, addresses, emergency contacts)."""
    parent = np.arange(len(book.b_id))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for kind in kinds:
        owners, keys = book.links[kind]
        first_owner: dict[Any, int] = {}
        for owner, key in zip(owners.tolist(), keys.tolist(), strict=True):
            seen = first_owner.setdefault(key, owner)
            if seen != owner:
                a, b = find(seen), find(owner)
                if a != b:
                    parent[a] = b
    roots = np.array([find(i) for i in range(len(parent))])
    _, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    return counts[inverse]


def shared_share(owners: np.ndarray, keys: np.ndarray, at_least: int = 2) -> tuple[float, int]:
    """(share of distinct keys held by at least `at_least` distinct borrowers, how many)."""
    if len(keys) == 0:
        return 0.0, 0
    pairs = np.unique(np.stack([keys.astype(str), owners.astype(str)]), axis=1)
    _, counts = np.unique(pairs[0], return_counts=True)
    hits = int((counts >= at_least).sum())
    return hits / len(counts), hits


def drawer_bad(book: Book) -> tuple[np.ndarray, np.ndarray]:
    """(drew at least once, ever 90+ DPD by the as-of date) per borrower."""
    drawn = np.zeros(len(book.b_id), dtype=bool)
    drawn[book.l_borrower] = True
    bad = per_borrower_min(book, first_day_at(book, 90)) < NEVER
    return drawn, bad


def multi_lender_flags(book: Book, until_seconds: float = np.inf) -> np.ndarray:
    """Per borrower, transfers to another lender within a day after a drawdown (by then)."""
    order = np.lexsort((book.l_seconds, book.l_borrower))
    keys = book.l_borrower[order] * 1e10 + book.l_seconds[order]
    lender = book.t_lender & (book.t_seconds <= until_seconds)
    t_keys = book.t_borrower[lender] * 1e10 + book.t_seconds[lender]
    pos = np.searchsorted(keys, t_keys, side="right") - 1
    ok = pos >= 0
    prior = order[np.clip(pos, 0, None)]
    ok &= book.l_borrower[prior] == book.t_borrower[lender]
    ok &= (book.t_seconds[lender] - book.l_seconds[prior]) <= 86400
    counts = np.zeros(len(book.b_id), dtype=np.int64)
    np.add.at(counts, book.t_borrower[lender][ok], 1)
    return counts
