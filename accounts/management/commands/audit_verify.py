"""Walk the audit log's hash chain; report the first broken row and exit non-zero."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain row by row, in id order. Prints the number of rows "
        "and the head (id and hash: keep it elsewhere to notice rows cut off the end later); "
        "exits 1 naming the first row whose content or link does not match."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"Audit chain broken at row id {report.broken_id}: {report.problem} "
                f"({report.rows - 1} rows before it verified; last good row id "
                f"{report.head_id}, hash {report.head_hash})."
            )
        self.stdout.write(
            f"Audit chain intact: {report.rows} rows; head id {report.head_id}, "
            f"hash {report.head_hash}."
        )
