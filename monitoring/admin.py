"""Events in the admin: read-only, they are a record of what the lending core sent."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from monitoring.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "kind", "borrower", "occurred_at", "received_at", "posted_by"]
    list_filter = ["kind"]
    search_fields = ["event_id", "borrower__customer_no"]
    date_hierarchy = "occurred_at"
    list_select_related = ["borrower", "posted_by"]
    readonly_fields = (
        "event_id",
        "kind",
        "borrower",
        "occurred_at",
        "received_at",
        "posted_by",
        "payload_shown",
        "result",
    )
    fields = readonly_fields
    # Counting a large event table for the paginator is slow and adds nothing here.
    show_full_result_count = False

    # The payload is stored with its personal data already masked (event_storage_form); the
    # full values are on the borrower's records, behind the reveal-with-a-reason flow.
    @admin.display(description=_("payload (personal data masked)"))
    def payload_shown(self, obj: Event) -> str:
        text = json.dumps(obj.payload, ensure_ascii=False, indent=2)
        return format_html("<pre>{}</pre>", text)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
