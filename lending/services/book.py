"""The book's daily snapshot of headline figures."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.audit import audit
from lending import money
from lending.choices import (
    LineStatus,
)
from lending.models import (
    ZERO,
    BookSnapshot,
    Borrower,
    CreditLine,
)
from lending.selectors import amounts_owed

# --- book snapshot ----------------------------------------------------------------------------


def _end_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


@transaction.atomic  # not durable: a task calls it, and a test may compose it
def book_snapshot_take(*, day: date) -> BookSnapshot:
    """Store the book's headline figures as of the close of `day` (replaces that day's row).

    Borrowers registered and lines opened by the end of the day; open lines are those not
    closed; outstanding is the lines' used (principal outstanding); the balance by bucket
    places each line by its oldest unpaid due date, DPD counted at `day`
    (money.bucket_due_date_range), so the buckets add up to the outstanding. Beside the
    principal, what is owed on it (lending.selectors.amounts_owed: interest owed, penalty
    owed, the overdue amount) goes into the audit row "book_snapshot.taken" (the snapshot
    row has no columns for them yet). Three aggregate queries, whatever the size of the book.
    Balances are the lines' current ones: the task runs minutes after the day closes (and
    after the day close has booked that day's penalty), when they are still that day's.
    """
    end = _end_of_day(day)
    borrowers = Borrower.objects.filter(registered_at__lt=end).count()
    bucket_sums: dict[str, Sum] = {}
    for name, _low, _high in money.BUCKETS:
        earliest, latest = money.bucket_due_date_range(name, day)
        condition = Q()
        if earliest is not None:
            condition &= Q(oldest_unpaid_due__gte=earliest)
        if latest is not None:
            condition &= Q(oldest_unpaid_due__lte=latest)
        if name == "M0":
            condition |= Q(oldest_unpaid_due__isnull=True)
        bucket_sums[f"bucket_{name}"] = Sum("used", filter=condition)
    figures = CreditLine.objects.filter(opened_at__lt=end).aggregate(
        open_lines=Count("id", filter=~Q(status=LineStatus.CLOSED)),
        total_limit=Sum("credit_limit", filter=~Q(status=LineStatus.CLOSED)),
        outstanding=Sum("used"),
        **bucket_sums,
    )

    def fen(value: Decimal | None) -> Decimal:
        # Sums of fen amounts are exact; quantize only fixes how SQLite writes them.
        return (value or ZERO).quantize(money.FEN)

    owed = amounts_owed(day=day)
    balance_by_bucket = {
        name: str(fen(figures[f"bucket_{name}"])) for name, _low, _high in money.BUCKETS
    }
    snapshot, _created = BookSnapshot.objects.update_or_create(
        day=day,
        defaults={
            "borrowers": borrowers,
            "open_lines": figures["open_lines"] or 0,
            "total_limit": fen(figures["total_limit"]),
            "outstanding": fen(figures["outstanding"]),
            "balance_by_bucket": balance_by_bucket,
        },
    )
    audit(
        actor=None,
        action="book_snapshot.taken",
        obj=snapshot,
        after={
            "day": day,
            "borrowers": snapshot.borrowers,
            "open_lines": snapshot.open_lines,
            "outstanding": snapshot.outstanding,
            "interest_owed": owed["interest_owed"],
            "penalty_owed": owed["penalty_owed"],
            "overdue_amount": owed["overdue_amount"],
            "owed_total": snapshot.outstanding + owed["interest_owed"] + owed["penalty_owed"],
        },
    )
    return snapshot
