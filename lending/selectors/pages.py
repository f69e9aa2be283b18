"""The reads behind the staff pages and the portal: search, the borrower list and its pager,
a borrower's page, the book's headline figures."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.selectors import audit_trail_for_borrower, pii_reveal_allowed
from lending import money
from lending.choices import Bucket, DrawdownStatus, LineStatus
from lending.models import (
    Borrower,
    CreditLine,
    Drawdown,
    Instalment,
    PiiAccess,
    Repayment,
    RepaymentAllocation,
)
from lending.search_keys import national_id_hash

if TYPE_CHECKING:
    from accounts.models import AuditEvent, User

ZERO = Decimal("0.00")
# The home page's figures are cached this long: a million-line aggregate need not run on every
# page view, and a minute-old figure is fine for a headline (the page shows its as-of time).
# The figures are kept this long: twice the beat's refresh interval, so a late refresh still
# finds them there.
BOOK_SUMMARY_CACHE_SECONDS = 120
# Cities change rarely; the filter's drop-down reads them from a cache (a DISTINCT over a
# million borrowers is not free).
CITY_CHOICES_CACHE_SECONDS = 600
# Rows per page of the borrower list.
PAGE_SIZE = 50
# How many audit rows the borrower page shows (newest first).
AUDIT_TRAIL_LIMIT = 100
# The staff borrower page shows this many newest repayments; the timeline has every one.
RECENT_REPAYMENTS = 20


def _today() -> date:
    return timezone.localdate()


def line_dpd(line: CreditLine, today: date) -> int:
    """Days past due of a line today (0 when nothing is overdue)."""
    return money.days_past_due(line.oldest_unpaid_due, today)


def line_bucket(line: CreditLine, today: date) -> str:
    """The line's delinquency bucket today: M0 .. M7."""
    return money.bucket_for(line_dpd(line, today))


def bucket_q(bucket: str, today: date, prefix: str = "line__") -> Q:
    """A filter on `oldest_unpaid_due` that selects the lines in `bucket` today.

    `prefix` is the path from the queried model to the line ("" when querying CreditLine).
    """
    low, high = money.bucket_due_date_range(bucket, today)
    column = f"{prefix}oldest_unpaid_due"
    condition = Q()
    if low is not None:
        condition &= Q(**{f"{column}__gte": low})
    if high is not None:
        condition &= Q(**{f"{column}__lte": high})
    if bucket == Bucket.M0:
        # Nothing owed at all is current too.
        condition |= Q(**{f"{column}__isnull": True})
    return condition


# A full national ID number (18 characters, the last a digit or X; or the old 15 digits) and a
# full mainland mobile number: searchable only by staff who may reveal them (search_q).
_FULL_NATIONAL_ID = re.compile(r"\d{17}[\dX]|\d{15}")
_FULL_MOBILE = re.compile(r"1\d{10}")
# What a masked screen shows (accounts.masking), pasted back: 138****5678 and
# 110101********1234 (any run of * or •, spaces ignored).
_MASKED_MOBILE = re.compile(r"(1\d{2})[*•]{2,8}(\d{4})")
_MASKED_NATIONAL_ID = re.compile(r"(\d{6})[*•]{4,10}(\d{3}[\dX])")
# A customer number's prefix: letters then digits (C2000), at least two characters.
_CUSTOMER_NO_PREFIX = re.compile(r"[A-Z]{1,4}\d{1,30}|[A-Z]{2,4}")


def search_q(term: str, *, user: User | None = None) -> Q:
    """What one search box matches, for `user`: no search confirms what their screen masks.

    Everyone: the customer number or its prefix, the borrower id, the last four digits of the
    national ID or mobile, and a masked mobile or ID number pasted from the screen (138****5678:
    the stored last four, indexed, then the prefix on those few rows). Staff who may reveal
    personal data (accounts.selectors.pii_reveal_allowed) also match a name by prefix, a full
    ID number (through its keyed digest, lending.search_keys: never the plaintext column) and
    a full mobile number. Anyone else (and `user=None`) matches a name by its surname only:
    the first character of the query, as the masked name shows it (张** for 张浩浩); so
    searching a guessed full name lists every borrower with that surname and confirms
    nothing. The list page says so in the search box (lending.filters).
    """
    term = term.strip()
    if not term:
        return Q()
    compact = "".join(term.split()).upper()
    masked_mobile = _MASKED_MOBILE.fullmatch(compact)
    if masked_mobile:
        prefix, last4 = masked_mobile.groups()
        return Q(mobile_last4=last4, mobile__startswith=prefix)
    masked_id = _MASKED_NATIONAL_ID.fullmatch(compact)
    if masked_id:
        prefix, last4 = masked_id.groups()
        return Q(national_id_last4=last4, national_id__startswith=prefix)
    full = pii_reveal_allowed(user)
    condition = Q(name__startswith=term if full else term[0]) | Q(customer_no=term.upper())
    if _CUSTOMER_NO_PREFIX.fullmatch(compact):
        condition |= Q(customer_no__startswith=compact)
    if full and _FULL_NATIONAL_ID.fullmatch(compact):
        condition |= Q(national_id_hash=national_id_hash(compact))
    if full and _FULL_MOBILE.fullmatch(compact):
        condition |= Q(mobile=compact)
    if term.isdigit():
        if len(term) == 4:
            condition |= Q(national_id_last4=term) | Q(mobile_last4=term)
        if len(term) <= 18:  # a bigint id; longer digit strings cannot be one
            condition |= Q(pk=int(term))
    return condition


@dataclass(frozen=True)
class Sort:
    """A column the borrower list sorts by: its SQL expression and how a cursor reads it.

    `inverted`: the expression runs the other way from the column's label (DPD is today minus
    the oldest unpaid due date, so most overdue first is that date ascending).
    """

    label: Any
    expression: Any
    parse: Any
    inverted: bool = False


# A sorted list walks an index on the credit line ((key, borrower_id), lending.models), so the
# first page and a deep page read only the rows they show, not a sort of the whole book. It
# therefore lists borrowers that have a line: every borrower the services register does (the
# line is opened in the same transaction); the unsorted list shows every borrower. No sort key
# is NULL (an owed-nothing line sorts as never overdue), so the keyset comparison holds.
NEVER_DUE = date(9999, 12, 31)
SORTS: dict[str, Sort] = {
    "limit": Sort(_("Limit"), F("line__credit_limit"), Decimal),
    "used": Sort(_("Used"), F("line__used"), Decimal),
    "dpd": Sort(
        _("DPD"),
        # The same expression as the index line_sort_dpd (lending.models), or it is not used.
        Coalesce("line__oldest_unpaid_due", Value(NEVER_DUE)),
        date.fromisoformat,
        inverted=True,
    ),
    "opened": Sort(_("Opened"), F("line__opened_at"), datetime.fromisoformat),
}


def borrower_visible_to(*, user: User) -> QuerySet[Borrower]:
    """The borrowers a login may see: staff all, a borrower login only its own, others none."""
    if not user.is_authenticated or not user.is_active:
        return Borrower.objects.none()
    if user.is_risk_staff:
        return Borrower.objects.all()
    if user.is_borrower and user.borrower_id is not None:
        return Borrower.objects.filter(pk=user.borrower_id)
    return Borrower.objects.none()


def borrower_list(
    *,
    user: User,
    search: str = "",
    status: str = "",
    bucket: str = "",
    city: str = "",
    today: date | None = None,
    sort: str = "",
) -> QuerySet[Borrower]:
    """Borrowers visible to `user` matching the search and filters, with the line.

    Newest first (-id) unless `sort` names one of SORTS; the sort key is annotated as
    `sort_key` so `keyset_page` can paginate on (key, id) without OFFSET or COUNT(*).
    """
    today = today or _today()
    queryset = borrower_visible_to(user=user).select_related("line")
    if search.strip():
        queryset = _searched(queryset, search_q(search, user=user))
    if status:
        queryset = queryset.filter(line__status=status)
    if bucket:
        queryset = queryset.filter(bucket_q(bucket, today))
    if city:
        queryset = queryset.filter(city=city)
    spec = SORTS.get(sort.lstrip("-"))
    if spec is None:
        return queryset.order_by("-id")
    descending = sort.startswith("-")
    # An inner join: the line drives the query along its sort index (see SORTS).
    queryset = queryset.filter(line__isnull=False).annotate(sort_key=spec.expression)
    if descending:
        return queryset.order_by(F("sort_key").desc(), "-id")
    return queryset.order_by(F("sort_key").asc(), "id")


# A search matching at most this many borrowers is listed by their ids (see _searched).
SEARCH_BY_IDS_UP_TO = 1000


def _searched(queryset: QuerySet[Borrower], condition: Q) -> QuerySet[Borrower]:
    """`queryset` narrowed to the borrowers matching a search `condition`.

    A search is an OR of prefix and equality conditions, each on its own index. For the
    newest-first page the planner may walk the primary key backwards, filtering, expecting
    the matches spread over the table; a customer-number prefix matches a thousand
    consecutive, old rows, and the walk reads half a million rows first (over 100 ms on a
    million borrowers). So the matches' ids are read first, through the indexes (a bounded
    bitmap scan), and when they are few the list is those ids, looked up by primary key. A
    broad search (a common surname) keeps the condition: its matches are dense, and the walk
    finds a page of them at once.
    """
    matching = queryset.filter(condition)
    ids = list(matching.order_by().values_list("pk", flat=True)[: SEARCH_BY_IDS_UP_TO + 1])
    if len(ids) > SEARCH_BY_IDS_UP_TO:
        return matching
    return queryset.filter(pk__in=ids)


@dataclass
class KeysetPage:
    """One page of a list ordered by -id, with the cursors for the neighbouring pages."""

    rows: list[Any]
    # int ids for the -id list; "value~id" strings for a sorted list (sorted_keyset_page)
    next_after: Any = None  # pass as ?after= for the next (older) page
    prev_before: Any = None  # pass as ?before= for the previous (newer) page
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_next(self) -> bool:
        return self.next_after is not None

    @property
    def has_prev(self) -> bool:
        return self.prev_before is not None


def keyset_page(
    queryset: QuerySet[Any],
    *,
    after: int | None = None,
    before: int | None = None,
    size: int | None = None,
) -> KeysetPage:
    """A page of `queryset` (ordered by -id) after or before a cursor id.

    Keyset pagination: `id < after` or `id > before` on the primary key index, one query, no
    OFFSET (which reads every skipped row) and no COUNT(*). One extra row is fetched to know
    whether another page exists. `size` defaults to PAGE_SIZE.
    """
    size = size or PAGE_SIZE
    if before is not None:
        rows = list(queryset.filter(pk__gt=before).order_by("id")[: size + 1])
        more = len(rows) > size
        rows = list(reversed(rows[:size]))
        return KeysetPage(
            rows=rows,
            # Coming back from an older page, there is always one after this page.
            next_after=rows[-1].pk if rows else None,
            prev_before=rows[0].pk if rows and more else None,
        )
    if after is not None:
        queryset = queryset.filter(pk__lt=after)
    rows = list(queryset.order_by("-id")[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows=rows,
        next_after=rows[-1].pk if rows and more else None,
        prev_before=rows[0].pk if rows and after is not None else None,
    )


def _sort_cursor(row: Any) -> str:
    value = row.sort_key
    text = value.isoformat() if isinstance(value, date | datetime) else str(value)
    return f"{text}~{row.pk}"


def parse_sort_cursor(text: str, sort: str) -> tuple[Any, int] | None:
    """A sorted list's cursor ("value~id") read back, or None when it is not one."""
    spec = SORTS.get(sort.lstrip("-"))
    value, sep, pk = text.rpartition("~")
    if spec is None or not sep or not pk.isdigit() or len(pk) > 18 or len(value) > 40:
        return None
    try:
        return spec.parse(value), int(pk)
    except (ValueError, ArithmeticError):
        return None


def sorted_keyset_page(
    queryset: QuerySet[Any],
    *,
    sort: str,
    after: tuple[Any, int] | None = None,
    before: tuple[Any, int] | None = None,
    last: bool = False,
    size: int | None = None,
) -> KeysetPage:
    """A page of `borrower_list(sort=...)` after or before a (key, id) cursor, or the last page.

    The same keyset idea as `keyset_page` on the pair (sort key, id): rows strictly beyond the
    cursor in the list's order, one query, no OFFSET. The cursors are strings ("value~id").
    """
    size = size or PAGE_SIZE
    spec = SORTS[sort.lstrip("-")]
    descending = sort.startswith("-") != spec.inverted
    forward = ("sort_key", "id") if not descending else ("-sort_key", "-id")
    backward = ("-sort_key", "-id") if not descending else ("sort_key", "id")

    def beyond(cursor: tuple[Any, int], *, towards_end: bool) -> Q:
        key, pk = cursor
        lesser = descending == towards_end  # moving to smaller values
        op = "lt" if lesser else "gt"
        # (key, id) beyond the cursor. The redundant `key <= cursor key` (or >=) is what lets
        # PostgreSQL start the index scan at the cursor: it does not split the OR itself.
        bound = Q(**{f"sort_key__{op}e": key})
        return bound & (Q(**{f"sort_key__{op}": key}) | Q(sort_key=key, **{f"pk__{op}": pk}))

    if before is not None or last:
        page_query = queryset.order_by(*backward)
        if before is not None:
            page_query = page_query.filter(beyond(before, towards_end=False))
        rows = list(page_query[: size + 1])
        more = len(rows) > size
        rows = list(reversed(rows[:size]))
        return KeysetPage(
            rows=rows,
            next_after=_sort_cursor(rows[-1]) if rows and not last else None,
            prev_before=_sort_cursor(rows[0]) if rows and more else None,
        )
    page_query = queryset.order_by(*forward)
    if after is not None:
        page_query = page_query.filter(beyond(after, towards_end=True))
    rows = list(page_query[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows=rows,
        next_after=_sort_cursor(rows[-1]) if rows and more else None,
        prev_before=_sort_cursor(rows[0]) if rows and after is not None else None,
    )


# Up to this many matches a filtered list is counted exactly (a bounded COUNT over at most
# this many rows); beyond, "more than".
EXACT_COUNT_LIMIT = 1000


def borrower_list_total(queryset: QuerySet[Borrower], *, filtered: bool) -> dict[str, Any]:
    """How many rows the list holds, as cheaply as it can be known.

    Unfiltered on PostgreSQL: the planner's row estimate for the table (pg_class.reltuples,
    kept by ANALYZE), shown as approximate: a COUNT(*) over a million rows costs more than the
    page. Otherwise an exact count of at most EXACT_COUNT_LIMIT + 1 rows: {"count": n,
    "approximate": bool, "more": bool}.
    """
    from django.db import connection

    if not filtered and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [Borrower._meta.db_table],
            )
            row = cursor.fetchone()
        estimate = int(row[0]) if row else -1
        if estimate >= 0:  # -1: never analysed; count instead
            return {"count": estimate, "approximate": True, "more": False}
    count = queryset.order_by()[: EXACT_COUNT_LIMIT + 1].count()
    return {
        "count": min(count, EXACT_COUNT_LIMIT),
        "approximate": False,
        "more": count > EXACT_COUNT_LIMIT,
    }


def with_delinquency(borrowers: list[Borrower], today: date) -> list[Borrower]:
    """Set `dpd` and `bucket` on borrowers loaded with their line (no query)."""
    for borrower in borrowers:
        line = getattr(borrower, "line", None)
        # dpd and bucket are display attributes for the templates, not model fields (hence the
        # attr-defined ignores):
        borrower.dpd = line_dpd(line, today) if line else 0  # type: ignore[attr-defined]
        borrower.bucket = money.bucket_for(borrower.dpd)  # type: ignore[attr-defined]
    return borrowers


def city_choices() -> list[str]:
    """The cities borrowers live in, for the list filter (cached)."""
    key = "lending:city_choices"
    cities: list[str] | None = cache.get(key)
    if cities is None:
        cities = list(Borrower.objects.order_by("city").values_list("city", flat=True).distinct())
        cache.set(key, cities, CITY_CHOICES_CACHE_SECONDS)
    return cities


def borrower_detail(
    *,
    user: User,
    borrower_id: int,
    today: date | None = None,
    collapse_settled: bool = False,
) -> Borrower:
    """One borrower with everything the borrower page shows, or Http404 if not visible.

    Loads the line, declared assets, devices, bank accounts, drawdowns with their schedule and
    repayments with their allocations, in a fixed number of queries. Each instalment gets
    `state` ("paid" / "due" / "overdue" / "penalty") and `days_overdue`; the borrower gets `dpd`
    and `bucket` (derived, lending.money), `overdue_amount` (overdue principal, interest and
    penalty accrued to today) and `payoff_today` (what settles every active loan today).

    `collapse_settled` (the staff page): the schedules of loans no longer active (settled,
    written off) are not loaded; each such drawdown gets `collapsed = True` and its schedule
    comes on demand (drawdown_schedule); only the RECENT_REPAYMENTS newest repayments are
    loaded, as `recent_repayments` (and `older_repayments`: whether there are more).
    Loans no longer active owe nothing today, so the header figures are
    the same either way. A long-standing borrower's page then costs what its active loans do.
    """
    today = today or _today()
    instalments = Instalment.objects.order_by("seq")
    if collapse_settled:
        instalments = instalments.filter(drawdown__status=DrawdownStatus.ACTIVE)
    allocations = RepaymentAllocation.objects.select_related("instalment").order_by(
        "instalment__seq"
    )
    drawdowns = Drawdown.objects.select_related("bank_account", "device").prefetch_related(
        Prefetch("instalments", queryset=instalments)
    )
    repayments = Repayment.objects.select_related("drawdown", "bank_account").prefetch_related(
        Prefetch("allocations", queryset=allocations)
    )
    repayments = repayments.order_by("-paid_at", "-id")
    lookups: list[Any] = [
        "assets",
        "devices",
        "bank_accounts",
        Prefetch("drawdowns", queryset=drawdowns.order_by("-disbursed_at", "-id")),
    ]
    if not collapse_settled:
        lookups.append(Prefetch("repayments", queryset=repayments))
    queryset = borrower_visible_to(user=user).select_related("line").prefetch_related(*lookups)
    try:
        borrower = queryset.get(pk=borrower_id)
    except Borrower.DoesNotExist as exc:
        raise Http404("No such borrower.") from exc
    if collapse_settled:
        # The newest repayments only (one more to know whether there are older ones): the
        # timeline's Repayments filter lists them all, a page at a time.
        recent = list(repayments.filter(borrower_id=borrower.pk)[: RECENT_REPAYMENTS + 1])
        borrower.recent_repayments = recent[:RECENT_REPAYMENTS]  # type: ignore[attr-defined]
        borrower.older_repayments = len(recent) > RECENT_REPAYMENTS  # type: ignore[attr-defined]
    with_delinquency([borrower], today)
    overdue_amount = payoff_today = ZERO
    for drawdown in borrower.drawdowns.all():
        active = drawdown.status == DrawdownStatus.ACTIVE
        # A display attribute: the page shows this loan as one line, its schedule on demand.
        drawdown.collapsed = collapse_settled and not active  # type: ignore[attr-defined]
        overdue, payoff = _decorate_schedule(drawdown, today)
        if active:
            overdue_amount += overdue
            payoff_today += payoff
    # Header figures (display attributes, not model fields): what is overdue now (principal,
    # interest and penalty accrued to today) and what settles every active loan today.
    borrower.overdue_amount = overdue_amount  # type: ignore[attr-defined]
    borrower.payoff_today = payoff_today  # type: ignore[attr-defined]
    # The staff page lists the collapsed loans apart, one line each.
    borrower.collapsed_loans = [  # type: ignore[attr-defined]
        drawdown
        for drawdown in borrower.drawdowns.all()
        if drawdown.collapsed  # type: ignore[attr-defined]
    ]
    return borrower


def _decorate_schedule(drawdown: Drawdown, today: date) -> tuple[Decimal, Decimal]:
    """Set the schedule's display attributes on the drawdown's prefetched instalments; return
    (overdue amount, payoff today) for an active loan, (0, 0) otherwise.

    One pass: penalty is accrued once, on copies, by the rule the repayment service applies
    (it is booked into fee_due only when money arrives); the payoff is computed from those
    same accrued copies (lending.money.payoff_amount accrues nothing more on them).
    """
    schedule = list(drawdown.instalments.all())
    if not schedule:
        return ZERO, ZERO
    accrued = [copy.copy(inst) for inst in schedule]
    unbooked = money.accrue_penalties(accrued, daily_rate=drawdown.daily_rate, on=today)
    active = drawdown.status == DrawdownStatus.ACTIVE
    overdue = ZERO
    for inst in schedule:
        # fees_to_date, due_to_date, state and days_overdue are display attributes for the
        # schedule tables, not model fields (hence the attr-defined ignores):
        fees_to_date = inst.fee_due + unbooked.get(inst.seq, ZERO)
        inst.fees_to_date = fees_to_date  # type: ignore[attr-defined]
        inst.due_to_date = inst.principal_due + inst.interest_due + fees_to_date  # type: ignore[attr-defined]
        if inst.remaining <= 0:
            inst.state, inst.days_overdue = "paid", 0  # type: ignore[attr-defined]
        elif money.is_cleared(inst):
            # Principal and interest paid: DPD has stopped; only penalty is still owed.
            inst.state, inst.days_overdue = "penalty", 0  # type: ignore[attr-defined]
        else:
            late = money.days_past_due(inst.due_date, today)
            inst.state = "overdue" if late else "due"  # type: ignore[attr-defined]
            inst.days_overdue = late  # type: ignore[attr-defined]
        if active and inst.due_date < today:
            overdue += max(
                fees_to_date + inst.principal_due + inst.interest_due - inst.total_paid, ZERO
            )
    if not active:
        return ZERO, ZERO
    # The same rule the repayment service settles by (lending.money.payoff_amount).
    payoff = money.payoff_amount(
        accrued,
        daily_rate=drawdown.daily_rate,
        disbursed_on=timezone.localdate(drawdown.disbursed_at),
        on=today,
    )
    return overdue, payoff


def drawdown_schedule(
    *, user: User, borrower_id: int, drawdown_id: int, today: date | None = None
) -> Drawdown:
    """One drawdown of a visible borrower with its schedule decorated as on the borrower page
    (the collapsed loans' schedule, loaded on demand); Http404 if either is not visible."""
    today = today or _today()
    visible = borrower_visible_to(user=user).filter(pk=borrower_id)
    drawdown = (
        Drawdown.objects.filter(pk=drawdown_id, borrower__in=visible)
        .prefetch_related(Prefetch("instalments", queryset=Instalment.objects.order_by("seq")))
        .first()
    )
    if drawdown is None:
        raise Http404("No such drawdown.")
    _decorate_schedule(drawdown, today)
    return drawdown


def borrower_audit_trail(*, user: User, borrower: Borrower) -> list[AuditEvent]:
    """The borrower's audit trail for staff (newest first, capped), empty for anyone else."""
    events = audit_trail_for_borrower(user=user, borrower_id=borrower.pk)
    return list(events.order_by("-at", "-id")[:AUDIT_TRAIL_LIMIT])


def amounts_owed(*, day: date) -> dict[str, Decimal]:
    """What borrowers owe on active loans beyond the principal outstanding, as the database
    holds it (the nightly day close books penalty through the day it closes).

    One aggregate over the instalments due by `day` (penalty accrues only after a due date)
    still owing something: principal and interest not yet paid, or penalty not yet paid.
    Returns, in yuan:
    - overdue_principal, overdue_interest: unpaid on instalments due before `day`;
    - interest_owed: unpaid interest on instalments due by `day` (due today included);
    - penalty_owed: penalty interest (罚息) booked and not yet paid (Instalment.fee_due less
      fee_paid: penalty is the only fee);
    - overdue_amount: overdue principal + overdue interest + penalty owed (the bureau's
      当前逾期总额, RULES §3A.6).
    """
    overdue = Q(due_date__lt=day)
    row = (
        Instalment.objects.filter(drawdown__status=DrawdownStatus.ACTIVE, due_date__lte=day)
        .filter(Q(paid_off_at__isnull=True) | Q(fee_paid__lt=F("fee_due")))
        .aggregate(
            overdue_principal=Sum(F("principal_due") - F("principal_paid"), filter=overdue),
            overdue_interest=Sum(F("interest_due") - F("interest_paid"), filter=overdue),
            interest_owed=Sum(F("interest_due") - F("interest_paid")),
            penalty_owed=Sum(F("fee_due") - F("fee_paid")),
        )
    )
    # Sums of fen amounts are exact; quantize only fixes how SQLite writes them.
    owed = {name: (value or ZERO).quantize(money.FEN) for name, value in row.items()}
    owed["overdue_amount"] = (
        owed["overdue_principal"] + owed["overdue_interest"] + owed["penalty_owed"]
    )
    return owed


def book_summary(*, today: date | None = None, refresh: bool = False) -> dict[str, Any]:
    """The book's headline figures, computed by the database and cached.

    A beat task recomputes them every minute (lending.tasks.book_summary_refresh_task, with
    `refresh`): on a million-borrower book they take about a second, which no one opening the
    home page should wait for. Without the task, the first request after the cache expires
    computes them.

    Three aggregate queries however large the book: the borrower count, one pass over the
    credit lines with conditional sums per delinquency bucket on `oldest_unpaid_due`, and one
    over the instalments still owing (amounts_owed). Outstanding balance is drawn principal
    (`CreditLine.used`). Returns borrowers, open_lines, total_limit, outstanding, utilisation
    (fraction or None), dpd1/dpd30/dpd90 (balance share, fraction or None), buckets (list of
    dicts: code, label, lines, balance, share), what is owed beyond principal (interest_owed,
    penalty_owed, overdue_amount, overdue_principal, overdue_interest: penalty as booked by
    the last day close), owed_total (outstanding + interest owed + penalty owed) and as_of.
    """
    today = today or _today()
    key = f"lending:book_summary:{today.isoformat()}"
    cached: dict[str, Any] | None = None if refresh else cache.get(key)
    if cached is not None:
        return cached

    open_q = ~Q(status=LineStatus.CLOSED)
    aggregates: dict[str, Any] = {
        "open_lines": Count("id", filter=open_q),
        "total_limit": Sum("credit_limit", filter=open_q),
        "outstanding": Sum("used"),
    }
    for code in Bucket.values:
        aggregates[f"lines_{code}"] = Count(
            "id", filter=bucket_q(code, today, prefix="") & Q(used__gt=0)
        )
        aggregates[f"balance_{code}"] = Sum("used", filter=bucket_q(code, today, prefix=""))
    # DPD x+ by balance (RULES §5.2): lines whose oldest unpaid due date is x or more days ago.
    for days in (1, 30, 90):
        aggregates[f"dpd{days}"] = Sum(
            "used", filter=Q(oldest_unpaid_due__lte=today - timedelta(days=days))
        )
    row = CreditLine.objects.aggregate(**aggregates)

    outstanding: Decimal = row["outstanding"] or ZERO
    total_limit: Decimal = row["total_limit"] or ZERO

    def share(amount: Decimal | None) -> Decimal | None:
        return (amount or ZERO) / outstanding if outstanding else None

    buckets = [
        {
            "code": code,
            "label": label,
            "lines": row[f"lines_{code}"],
            "balance": row[f"balance_{code}"] or ZERO,
            "share": share(row[f"balance_{code}"]),
        }
        for code, label in Bucket.choices
    ]
    owed = amounts_owed(day=today)
    summary = {
        "borrowers": Borrower.objects.count(),
        "open_lines": row["open_lines"],
        "total_limit": total_limit,
        "outstanding": outstanding,
        "utilisation": outstanding / total_limit if total_limit else None,
        "dpd1": share(row["dpd1"]),
        "dpd30": share(row["dpd30"]),
        "dpd90": share(row["dpd90"]),
        "buckets": buckets,
        **owed,
        "owed_total": outstanding + owed["interest_owed"] + owed["penalty_owed"],
        "as_of": timezone.now(),
        "today": today,
    }
    cache.set(key, summary, BOOK_SUMMARY_CACHE_SECONDS)
    return summary


def pii_accesses_for_borrower(*, user: User, borrower: Borrower) -> QuerySet[PiiAccess]:
    """Who revealed (or tried to reveal) which of a borrower's personal data, and why; risk
    staff only, empty for anyone else."""
    if not user.is_authenticated or not user.is_risk_staff:
        return PiiAccess.objects.none()
    return PiiAccess.objects.filter(borrower_id=borrower.pk).select_related("actor")


# --- the book as columns, for book-wide computations (scores, features) ----------------------
