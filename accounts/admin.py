"""Admin pages: logins with their role; the audit and access logs as read-only lists."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent, PiiAccess, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin plus the role and the tied borrower."""

    list_display = ("username", "role", "borrower", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("username", "first_name", "last_name", "email")
    raw_id_fields = ("borrower",)
    fieldsets = (
        # Django's UserAdmin sets both; the stubs type them as optional, as on any ModelAdmin:
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Risk operations"), {"fields": ("role", "borrower")}),
    )
    add_fieldsets = (
        *(DjangoUserAdmin.add_fieldsets or ()),
        (_("Risk operations"), {"fields": ("role", "borrower")}),
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only logs: listed and viewable, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor_label", "action", "object_type", "object_id", "borrower", "source")
    list_filter = ("source", "action")
    search_fields = ("actor_label", "action", "object_id", "reference")
    date_hierarchy = "at"
    list_select_related = ("borrower",)
    raw_id_fields = ("actor", "borrower")


@admin.register(PiiAccess)
class PiiAccessAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "actor_role", "borrower", "field", "reason", "ip_address")
    list_filter = ("field", "actor_role")
    search_fields = ("actor__username", "reason", "reference")
    date_hierarchy = "at"
    list_select_related = ("actor", "borrower")
    raw_id_fields = ("actor", "borrower")
