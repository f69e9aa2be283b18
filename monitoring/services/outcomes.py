"""What the book did later: which borrowers reached 30+ days past due within a while after a
given moment. The measure behind a rule's lift, in backtests and for live versions.

A borrower "went bad" after time t when one of their instalments was `dpd` or more days past
due at some moment in (t, t + days]: its due date plus `dpd` days falls on or before the end
of that window, and it was not yet paid off by then (nor by t). Already bad at t and still bad
counts too: the question is whether the alert was followed by serious delinquency. Written-off
loans stay unpaid, so they count. Read from lending's instalments directly (the book's own
record of when each was paid off), in chunks of borrowers, one query each.

The book knows its outcomes up to its last closed day (the last nightly day close done), not
up to "now": a borrower is judged only once their whole window lies on or before that day
(matured). One whose window is still open is neither good nor bad yet: counted apart
(Outcome.pending), never as good, or a recent cohort would look better than it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from lending.choices import DayCloseStatus
from lending.models import DayClose, Instalment

CHUNK = 20_000


@dataclass(frozen=True)
class Outcome:
    """How a group of borrowers fared: how many were judged (their window matured), how many
    of those went bad, the rate; and how many wait for their window to mature."""

    borrowers: int
    bad: int
    pending: int = 0

    @property
    def rate(self) -> Decimal | None:
        if not self.borrowers:
            return None
        return (Decimal(self.bad) / Decimal(self.borrowers)).quantize(
            Decimal("0.0001"), ROUND_HALF_UP
        )


def lift_of(hit: Outcome, base: Outcome) -> Decimal | None:
    """The alerted borrowers' bad rate over the population's: 2.00 means twice as likely."""
    if hit.rate is None or not base.rate:
        return None
    return (hit.rate / base.rate).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _local_date(at: datetime) -> date:
    return timezone.localtime(at).date()


def outcomes_known_through() -> date | None:
    """The book's last closed day: outcomes are known up to it (None: no day closed yet)."""
    return (
        DayClose.objects.filter(status=DayCloseStatus.DONE)
        .order_by("-day")
        .values_list("day", flat=True)
        .first()
    )


def matured(at: datetime, *, days: int = 90, through: date | None) -> bool:
    """Whether the `days`-day window after `at` has ended by the closed day `through`."""
    return through is not None and _local_date(at) + timedelta(days=days) <= through


def went_bad(
    reference: Mapping[int, datetime],
    *,
    dpd: int = 30,
    days: int = 90,
    through: date | None = None,
) -> set[int]:
    """The borrowers of `reference` (borrower id -> their moment t) whose window has matured
    by `through` (default: the book's last closed day) and who went `dpd`+ days past due
    within `days` after their t (module docstring)."""
    through = through or outcomes_known_through()
    bad: set[int] = set()
    if not reference or through is None:
        return bad
    ids = sorted(b for b, at in reference.items() if matured(at, days=days, through=through))
    for chunk in _chunks(ids):
        starts = [reference[b] for b in chunk]
        # Only instalments that could be `dpd` past due inside someone's window.
        latest_due = _local_date(max(starts)) + timedelta(days=days - dpd)
        rows = Instalment.objects.filter(
            drawdown__borrower_id__in=chunk, due_date__lte=latest_due
        ).values_list("drawdown__borrower_id", "due_date", "paid_off_at")
        for borrower_id, due_date, paid_off_at in rows.iterator(chunk_size=5000):
            if borrower_id in bad:
                continue
            t = _local_date(reference[borrower_id])
            reached = due_date + timedelta(days=dpd)
            if reached > t + timedelta(days=days):
                continue
            # Still unpaid on the day it reached `dpd` and still unpaid after t.
            if paid_off_at is None:
                bad.add(borrower_id)
                continue
            paid = _local_date(paid_off_at)
            if paid >= reached and paid > t:
                bad.add(borrower_id)
    return bad


def outcome_of(
    reference: Mapping[int, datetime], *, dpd: int = 30, days: int = 90
) -> tuple[Outcome, set[int]]:
    """(how the borrowers of `reference` fared, the ones who went bad): only those whose
    window matured by the book's last closed day are judged; the rest are pending."""
    through = outcomes_known_through()
    judged = sum(1 for at in reference.values() if matured(at, days=days, through=through))
    bad = went_bad(reference, dpd=dpd, days=days, through=through)
    return Outcome(borrowers=judged, bad=len(bad), pending=len(reference) - judged), bad
