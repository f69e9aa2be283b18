"""Find rings of linked identities book-wide now (what the nightly task does), e.g. right
after seeding the demo book, and say what was found and how long it took.

    manage.py rings_check
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from accounts.audit import audit_context
from accounts.choices import AuditSource
from monitoring.services.graph import linked_identities_check
from monitoring.services.shadow import shadow_rings_record


class Command(BaseCommand):
    help = "Find rings of linked identities book-wide and alert their members."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        with audit_context(source=AuditSource.COMMAND, reference="rings_check"):
            result = linked_identities_check(actor=None)
            shadow = shadow_rings_record()
        elapsed = time.perf_counter() - started
        if result.version_id is None:
            self.stdout.write("No active, enabled version of the linked-identities rule.")
            return
        self.stdout.write(
            f"{result.rings} rings, {result.members} members, {result.alerts_raised} new alerts, "
            f"{shadow} new shadow hits in {elapsed:.2f} s"
        )
