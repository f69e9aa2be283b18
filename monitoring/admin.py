"""Events in the admin: read-only, they are a record of what the lending core sent."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from monitoring.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "kind", "borrower", "occurred_at", "received_at", "posted_by"]
    list_filter = ["kind"]
    search_fields = ["event_id", "borrower__customer_no"]
    date_hierarchy = "occurred_at"
    list_select_related = ["borrower", "posted_by"]
    readonly_fields = [
        "event_id", "kind", "borrower", "occurred_at", "received_at", "payload", "result",
        "posted_by",
    ]
    # Counting a large event table for the paginator is slow and adds nothing here.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
