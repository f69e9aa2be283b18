"""The borrower list as CSV: masked as the screen shows it, streamed a chunk at a time."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from accounts import masking
from lending.models import Borrower
from lending.selectors import with_delinquency

# Excel (what most risk teams open a CSV in) reads UTF-8 Chinese only after a byte-order mark.
BOM = "\ufeff"
# A cell a spreadsheet would run as a formula (CSV injection): written as text instead.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Line:
    """csv.writer's file: hands back each formatted line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def export_header() -> list[str]:
    return [
        _("Customer no."),
        _("Name"),
        _("Mobile"),
        _("City"),
        _("Limit"),
        _("Used"),
        _("Available"),
        _("Status"),
        _("DPD"),
        _("Bucket"),
        _("Opened"),
    ]


def export_rows(queryset: QuerySet[Borrower], *, today: date, chunk: int) -> Iterator[str]:
    """CSV lines (header first) for every borrower in `queryset`, in its order, masked.

    Reads `chunk` rows per round trip (a server-side cursor on PostgreSQL), so memory stays
    flat however many rows the selection holds.
    """
    writer = csv.writer(_Line())
    yield BOM + writer.writerow(export_header())
    batch: list[Borrower] = []
    for borrower in queryset.iterator(chunk_size=chunk):
        batch.append(borrower)
        if len(batch) >= chunk:
            yield from _lines(writer, batch, today)
            batch = []
    if batch:
        yield from _lines(writer, batch, today)


def _lines(writer: Any, batch: list[Borrower], today: date) -> Iterator[str]:
    with_delinquency(batch, today)
    for b in batch:
        line = getattr(b, "line", None)
        yield writer.writerow(
            [
                _cell(b.customer_no),
                _cell(masking.mask_name(b.name)),
                _cell(masking.mask_mobile(b.mobile)),
                _cell(b.city),
                line.credit_limit if line else "",
                line.used if line else "",
                line.available if line else "",
                _cell(line.get_status_display()) if line else "",
                getattr(b, "dpd", 0),
                getattr(b, "bucket", ""),
                line.opened_at.date().isoformat() if line else "",
            ]
        )
