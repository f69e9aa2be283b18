"""Book-wide reads for other apps' whole-book jobs: borrower id chunks, per-borrower columns
and set-based aggregates as of a date (decisions' features and reviews read these)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import DecimalField, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from lending.models import (
    Borrower,
    CreditLine,
    DeclaredAsset,
    Drawdown,
    Instalment,
    LimitChange,
    TransferOut,
)

if TYPE_CHECKING:
    pass

ZERO = Decimal("0.00")
# The home page's figures are cached this long: a million-line aggregate need not run on every
# page view, and a minute-old figure is fine for a headline (the page shows its as-of time).
# Cities change rarely; the filter's drop-down reads them from a cache (a DISTINCT over a
# million borrowers is not free).
CITY_CHOICES_CACHE_SECONDS = 600


def borrower_id_chunks(*, size: int) -> Iterator[list[int]]:
    """Every borrower id in ascending order, `size` at a time (keyset, no OFFSET)."""
    last = 0
    while True:
        ids = list(
            Borrower.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


# --- the limit in force at a moment (LimitChange) ----------------------------------------------


def limit_at_expression(
    at: datetime, *, inclusive: bool = True, line: str = "pk", current: str = "credit_limit"
) -> Coalesce:
    """An expression for the limit a credit line had at `at` (to annotate a CreditLine
    queryset with; from another model, `line` and `current` name the line's id and limit,
    such as "line__id" and "line__credit_limit" on Borrower): the new limit of its last
    change at `at` or before (strictly before with inclusive=False), else the old limit of its
    first change after, else the limit it has now (a line with no change kept its opening
    limit). Two index probes on (line, effective_at) per line."""
    upto = Q(effective_at__lte=at) if inclusive else Q(effective_at__lt=at)
    changes = LimitChange.objects.filter(line_id=OuterRef(line))
    last = changes.filter(upto).order_by("-effective_at", "-id").values("new_limit")[:1]
    first = changes.exclude(upto).order_by("effective_at", "id").values("old_limit")[:1]
    return Coalesce(
        Subquery(last),
        Subquery(first),
        F(current),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def limit_as_of(*, line_id: int, at: datetime) -> Decimal | None:
    """The limit line `line_id` had at `at` (a change effective exactly at `at` is in force);
    None for no such line. One query."""
    limit: Decimal | None = (
        CreditLine.objects.filter(pk=line_id)
        .annotate(limit_then=limit_at_expression(at))
        .values_list("limit_then", flat=True)
        .first()
    )
    return limit


def limits_as_of(*, borrower_ids: Sequence[int], at: datetime) -> dict[int, Decimal]:
    """The limit each borrower's line had at `at`, by borrower id (borrowers without a line
    left out): limit_as_of for a chunk of lines, in one query."""
    return dict(
        CreditLine.objects.filter(borrower_id__in=list(borrower_ids))
        .annotate(limit_then=limit_at_expression(at))
        .values_list("borrower_id", "limit_then")
    )


def limit_history(*, line_id: int, limit: int = 200) -> list[LimitChange]:
    """The line's limit and status changes, oldest first (the newest `limit` of them), for a
    chart: one query. Before the first, the line had that row's old limit (no row: the limit
    it has now)."""
    rows = list(
        LimitChange.objects.filter(line_id=line_id).order_by("-effective_at", "-id")[:limit]
    )
    rows.reverse()
    return rows


def _columns(rows: Iterable[tuple[Any, ...]], names: Sequence[str]) -> dict[str, list[Any]]:
    data: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        for name, value in zip(names, row, strict=True):
            data[name].append(value)
    return data


def book_columns(*, borrower_ids: Sequence[int], as_of: date) -> dict[str, dict[str, list[Any]]]:
    """What happened to `borrower_ids` up to the close of `as_of`, as plain columns.

    Six queries whatever the number of borrowers: borrowers, lines (the limit in force at the
    close of `as_of`, from the line's LimitChange history), instalments (with their
    drawdown's borrower and disbursement), drawdowns (with their last due date), transfers out
    and declared assets. Rows after `as_of` are left out where the row has a date of its own;
    an instalment's `paid_off_at` may lie after `as_of` (the caller reads it point in time).
    No access check: for book-wide system jobs (scoring, training), never for a page.
    """
    end = _end_of(as_of)
    ids = list(borrower_ids)
    borrowers = Borrower.objects.filter(pk__in=ids).values_list(
        "pk", "income_band", "identity_check"
    )
    # The limit in force at the close of as_of, not today's (LimitChange).
    lines = (
        CreditLine.objects.filter(borrower_id__in=ids)
        .annotate(limit_then=limit_at_expression(end, inclusive=False))
        .values_list("borrower_id", "limit_then", "opened_at")
    )
    instalments = (
        Instalment.objects.filter(drawdown__borrower_id__in=ids, drawdown__disbursed_at__lt=end)
        .annotate(total=F("principal_due") + F("interest_due"))
        .values_list(
            "drawdown__borrower_id",
            "drawdown__disbursed_at",
            "due_date",
            "principal_due",
            "total",
            "paid_off_at",
        )
    )
    drawdowns = (
        Drawdown.objects.filter(borrower_id__in=ids, disbursed_at__lt=end)
        .annotate(last_due=Max("instalments__due_date"))
        .values_list("borrower_id", "amount", "disbursed_at", "settled_at", "last_due")
    )
    transfers = TransferOut.objects.filter(borrower_id__in=ids, occurred_at__lt=end).values_list(
        "borrower_id", "occurred_at", "counterparty_is_lender"
    )
    assets = DeclaredAsset.objects.filter(borrower_id__in=ids, declared_at__lt=end).values_list(
        "borrower_id", "amount", "verified", "declared_at"
    )
    return {
        "borrowers": _columns(borrowers, ("id", "income_band", "identity_check")),
        "lines": _columns(lines, ("borrower_id", "credit_limit", "opened_at")),
        "instalments": _columns(
            instalments,
            (
                "borrower_id",
                "disbursed_at",
                "due_date",
                "principal_due",
                "total_due",
                "paid_off_at",
            ),
        ),
        "drawdowns": _columns(
            drawdowns, ("borrower_id", "amount", "disbursed_at", "settled_at", "last_due")
        ),
        "transfers": _columns(transfers, ("borrower_id", "occurred_at", "to_lender")),
        "assets": _columns(assets, ("borrower_id", "amount", "verified", "declared_at")),
    }


def _end_of(day: date) -> datetime:
    """The first moment after `day` in the project's time zone."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


# --- the book as aggregates per borrower, computed by PostgreSQL (set-based) -----------------

# Local (Shanghai) calendar dates and hours: the zone has had no daylight saving since 1991,
# but AT TIME ZONE keeps this exact whatever the zone.
_ZONE = "Asia/Shanghai"


def _id_filter(column: str, ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
    """A WHERE fragment for `column` in `ids`: a range when the ids are contiguous (the planner
    then walks the index once), otherwise = ANY(array)."""
    if ids and ids[-1] - ids[0] + 1 == len(ids) and list(ids) == sorted(ids):
        return f"{column} BETWEEN %(lo)s AND %(hi)s", {"lo": ids[0], "hi": ids[-1]}
    return f"{column} = ANY(%(ids)s)", {"ids": list(ids)}


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def book_aggregates(
    *, borrower_ids: Sequence[int], as_of: date, small_drawdown: float, transfer_hours: int
) -> dict[str, list[tuple[Any, ...]]]:
    """What happened to `borrower_ids` up to the close of `as_of`, aggregated per borrower by
    PostgreSQL in four GROUP BY statements (no row per instalment leaves the database).

    Numbers only: money as float8, dates as whole days before `as_of`, times as Shanghai
    local days and hours. Returns rows (first column the borrower id, ascending) per part:

    - "borrowers": id, income_band, identity_mismatch (0/1), credit_limit (in force at the
      close of as_of: the line's LimitChange history, as limit_at_expression), days_open
      (fractional days from the line's opening to the start of as_of; NULL without a line),
      verified_assets (verified assets declared by then);
    - "instalments" (of loans disbursed by then; cleared = paid off by then; late = whole
      days from the due date to the clearing day or as_of, for instalments due before as_of):
      id, max_late, max_late_12m, late_12m, open_principal, due_30d, on_time_streak
      (instalments due since the last late one);
    - "drawdowns" (disbursed by then): id, in_90d, small_90d (<= `small_drawdown` yuan),
      in_180d,
      amount_180d, night_180d (00:00-04:59), early_settlements (settled by then, before the
      loan's last due date);
    - "transfers": id, transfers to a lender in the 90 days to as_of within `transfer_hours`
      after a drawdown.

    No access check: for book-wide system jobs (scoring, training), never for a page. PostgreSQL
    only; decisions.features computes the same from book_columns on SQLite.
    """
    ids = sorted(int(i) for i in borrower_ids)
    if not ids:
        return {"borrowers": [], "instalments": [], "drawdowns": [], "transfers": []}
    day = timezone.make_aware(datetime.combine(as_of, time.min))
    params: dict[str, Any] = {
        "day": day,
        "end": _end_of(as_of),
        "as_of": as_of,
        "zone": _ZONE,
        "small": small_drawdown,
        "soon": timedelta(hours=transfer_hours),
    }
    b_where, extra = _id_filter("b.id", ids)
    params.update(extra)
    d_where, _same = _id_filter("d.borrower_id", ids)
    t_where, _same = _id_filter("t.borrower_id", ids)
    a_where, _same = _id_filter("a.borrower_id", ids)
    borrowers = _fetch(
        f"""
        SELECT b.id, b.income_band, (b.identity_check = 'mismatched')::int,
               COALESCE(
                   (SELECT h.new_limit FROM {LimitChange._meta.db_table} h
                    WHERE h.line_id = l.id AND h.effective_at < %(end)s
                    ORDER BY h.effective_at DESC, h.id DESC LIMIT 1),
                   (SELECT h.old_limit FROM {LimitChange._meta.db_table} h
                    WHERE h.line_id = l.id AND h.effective_at >= %(end)s
                    ORDER BY h.effective_at, h.id LIMIT 1),
                   l.credit_limit)::float8,
               EXTRACT(EPOCH FROM (%(day)s - l.opened_at)) / 86400.0,
               COALESCE(a.total, 0)
        FROM {Borrower._meta.db_table} b
        LEFT JOIN {CreditLine._meta.db_table} l ON l.borrower_id = b.id
        LEFT JOIN (
            SELECT a.borrower_id, SUM(a.amount)::float8 AS total
            FROM {DeclaredAsset._meta.db_table} a
            WHERE {a_where} AND a.verified AND a.declared_at < %(end)s
            GROUP BY a.borrower_id
        ) a ON a.borrower_id = b.id
        WHERE {b_where}
        ORDER BY b.id
        """,  # noqa: S608 (names from model meta; values are parameters)
        params,
    )
    instalments = _fetch(
        f"""
        WITH rows AS (
            SELECT d.borrower_id AS b, i.due_date AS due,
                   i.principal_due::float8 AS principal,
                   (i.principal_due + i.interest_due)::float8 AS total,
                   CASE WHEN i.paid_off_at < %(end)s
                        THEN (i.paid_off_at AT TIME ZONE %(zone)s)::date END AS cleared
            FROM {Instalment._meta.db_table} i
            JOIN {Drawdown._meta.db_table} d ON d.id = i.drawdown_id
            WHERE {d_where} AND d.disbursed_at < %(end)s
        ), late AS (
            SELECT b, due, principal, total, cleared,
                   CASE WHEN due < %(as_of)s
                        THEN GREATEST(COALESCE(cleared, %(as_of)s) - due, 0) ELSE 0 END AS late
            FROM rows
        ), marked AS (
            SELECT *, MAX(due) FILTER (WHERE late > 0) OVER (PARTITION BY b) AS last_late
            FROM late
        )
        SELECT b,
               MAX(late),
               COALESCE(MAX(late) FILTER (WHERE due >= %(as_of)s - 365), 0),
               COUNT(*) FILTER (WHERE late > 0 AND due >= %(as_of)s - 365),
               COALESCE(SUM(principal) FILTER (WHERE cleared IS NULL), 0),
               COALESCE(SUM(total) FILTER (WHERE due >= %(as_of)s AND due < %(as_of)s + 30), 0),
               COUNT(*) FILTER (WHERE due < %(as_of)s AND (last_late IS NULL OR due > last_late))
        FROM marked
        GROUP BY b
        ORDER BY b
        """,  # noqa: S608 (names from model meta; values are parameters)
        params,
    )
    drawdowns = _fetch(
        f"""
        WITH loans AS (
            SELECT d.id, d.borrower_id AS b, d.amount::float8 AS amount, d.settled_at,
                   %(as_of)s - (d.disbursed_at AT TIME ZONE %(zone)s)::date AS age,
                   EXTRACT(HOUR FROM d.disbursed_at AT TIME ZONE %(zone)s) AS hour
            FROM {Drawdown._meta.db_table} d
            WHERE {d_where} AND d.disbursed_at < %(end)s
        ), settled AS (
            SELECT i.drawdown_id, MAX(i.due_date) AS last_due
            FROM {Instalment._meta.db_table} i
            JOIN loans ON loans.id = i.drawdown_id AND loans.settled_at < %(end)s
            GROUP BY i.drawdown_id
        )
        SELECT b,
               COUNT(*) FILTER (WHERE age < 90),
               COUNT(*) FILTER (WHERE age < 90 AND amount <= %(small)s),
               COUNT(*) FILTER (WHERE age < 180),
               COALESCE(SUM(amount) FILTER (WHERE age < 180), 0),
               COUNT(*) FILTER (WHERE age < 180 AND hour < 5),
               COUNT(*) FILTER (WHERE (settled_at AT TIME ZONE %(zone)s) < settled.last_due)
        FROM loans
        LEFT JOIN settled ON settled.drawdown_id = loans.id
        GROUP BY b
        ORDER BY b
        """,  # noqa: S608 (names from model meta; values are parameters)
        params,
    )
    transfers = _fetch(
        f"""
        SELECT t.borrower_id, COUNT(*)
        FROM {TransferOut._meta.db_table} t
        WHERE {t_where} AND t.counterparty_is_lender AND t.occurred_at < %(end)s
          AND %(as_of)s - (t.occurred_at AT TIME ZONE %(zone)s)::date < 90
          AND EXISTS (
              SELECT 1 FROM {Drawdown._meta.db_table} d
              WHERE d.borrower_id = t.borrower_id
                AND d.disbursed_at <= t.occurred_at
                AND d.disbursed_at >= t.occurred_at - %(soon)s
          )
        GROUP BY t.borrower_id
        ORDER BY t.borrower_id
        """,  # noqa: S608 (names from model meta; values are parameters)
        params,
    )
    return {
        "borrowers": borrowers,
        "instalments": instalments,
        "drawdowns": drawdowns,
        "transfers": transfers,
    }


def line_review_columns(*, borrower_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """What the limit policy reads of each line of `borrower_ids`, as it stands now, ordered by
    borrower id: borrower_id, line id, credit_limit, used (Decimal), status, status_code,
    status_reason, locked_until, oldest_unpaid_due (dates or None). Borrowers without a line
    are left out. One query whatever the number of lines: over the span of the ids (a range is
    cheaper to send than a list of 20,000 ids), the others dropped here."""
    wanted = set(borrower_ids)
    if not wanted:
        return []
    rows = (
        CreditLine.objects.filter(borrower_id__gte=min(wanted), borrower_id__lte=max(wanted))
        .order_by("borrower_id")
        .values_list(
            "borrower_id",
            "pk",
            "credit_limit",
            "used",
            "status",
            "status_code",
            "status_reason",
            "locked_until",
            "oldest_unpaid_due",
        )
    )
    return [row for row in rows if row[0] in wanted]
