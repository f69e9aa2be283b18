"""Read-only admin for the lending book: every write goes through lending.services.

Personal data is shown masked (accounts.masking), in lists and on detail pages alike; the
full value is only revealed through lending.services.pii_reveal, which records who and why.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.masking import mask_card, mask_mobile, mask_name, mask_national_id
from lending.models import (
    BankAccount,
    BookSnapshot,
    Borrower,
    CreditLine,
    DeclaredAsset,
    Device,
    Drawdown,
    Instalment,
    PiiAccess,
    Repayment,
    RepaymentAllocation,
    TransferOut,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewing only: adding, changing or deleting here would bypass the services' audit."""

    list_per_page = 50
    # Counting a million rows on every page load is what makes admin lists slow.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Borrower)
class BorrowerAdmin(ReadOnlyAdmin):
    list_display = [
        "customer_no",
        "masked_name",
        "masked_national_id",
        "masked_mobile",
        "city",
        "income_band",
        "identity_check",
        "registered_at",
    ]
    list_filter = ["identity_check", "income_band"]
    # Exact or suffix searches an analyst can make from a masked screen.
    search_fields = ["=customer_no", "=national_id_last4", "=mobile_last4", "city"]
    readonly_fields = (
        "customer_no",
        "masked_name",
        "masked_national_id",
        "masked_mobile",
        "city",
        "employer",
        "income_band",
        "registered_at",
        "identity_check",
        "identity_check_source",
        "identity_checked_at",
    )
    fields = readonly_fields

    @admin.display(description=pgettext_lazy("person", "name"))
    def masked_name(self, obj: Borrower) -> str:
        return mask_name(obj.name)

    @admin.display(description=_("national ID number"))
    def masked_national_id(self, obj: Borrower) -> str:
        return mask_national_id(obj.national_id)

    @admin.display(description=_("mobile"))
    def masked_mobile(self, obj: Borrower) -> str:
        return mask_mobile(obj.mobile)


@admin.register(CreditLine)
class CreditLineAdmin(ReadOnlyAdmin):
    list_display = [
        "borrower",
        "credit_limit",
        "used",
        "status",
        "daily_rate",
        "oldest_unpaid_due",
        "opened_at",
    ]
    list_filter = ["status"]
    list_select_related = ["borrower"]
    search_fields = ["=borrower__customer_no"]


@admin.register(BankAccount)
class BankAccountAdmin(ReadOnlyAdmin):
    list_display = ["borrower", "bank_name", "masked_card", "first_seen_at", "last_seen_at"]
    list_select_related = ["borrower"]
    search_fields = ["=borrower__customer_no"]
    readonly_fields = ("borrower", "bank_name", "masked_card", "first_seen_at", "last_seen_at")
    fields = readonly_fields

    @admin.display(description=_("card number"))
    def masked_card(self, obj: BankAccount) -> str:
        return mask_card(obj.card_no)


@admin.register(Device)
class DeviceAdmin(ReadOnlyAdmin):
    list_display = ["device_id", "borrower", "platform", "first_seen_at", "last_seen_at"]
    list_select_related = ["borrower"]
    search_fields = ["=device_id", "=borrower__customer_no"]


class InstalmentInline(admin.TabularInline):
    model = Instalment
    extra = 0
    can_delete = False
    readonly_fields = (
        "seq",
        "due_date",
        "principal_due",
        "interest_due",
        "fee_due",
        "principal_paid",
        "interest_paid",
        "fee_paid",
        "paid_off_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Drawdown)
class DrawdownAdmin(ReadOnlyAdmin):
    list_display = [
        "loan_no",
        "borrower",
        "amount",
        "term_months",
        "repayment_mode",
        "apr",
        "status",
        "principal_outstanding",
        "disbursed_at",
    ]
    list_filter = ["status", "repayment_mode", "purpose"]
    list_select_related = ["borrower"]
    search_fields = ["=loan_no", "=borrower__customer_no"]
    exclude = ["bank_account"]  # its label would show the card; the card is PII
    inlines = [InstalmentInline]


@admin.register(Repayment)
class RepaymentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "drawdown", "borrower", "amount", "paid_at"]
    list_select_related = ["drawdown", "borrower"]
    search_fields = ["=reference", "=drawdown__loan_no", "=borrower__customer_no"]
    exclude = ["bank_account"]


@admin.register(RepaymentAllocation)
class RepaymentAllocationAdmin(ReadOnlyAdmin):
    list_display = ["repayment", "instalment", "fee", "interest", "principal"]
    list_select_related = ["repayment", "instalment"]
    search_fields = ["=repayment__reference"]


@admin.register(TransferOut)
class TransferOutAdmin(ReadOnlyAdmin):
    list_display = [
        "reference",
        "borrower",
        "amount",
        "counterparty_name",
        "counterparty_is_lender",
        "occurred_at",
    ]
    list_filter = ["counterparty_is_lender"]
    list_select_related = ["borrower"]
    search_fields = ["=reference", "=borrower__customer_no"]
    exclude = ["bank_account", "counterparty_account"]


@admin.register(DeclaredAsset)
class DeclaredAssetAdmin(ReadOnlyAdmin):
    list_display = ["borrower", "kind", "amount", "verified", "declared_at"]
    list_filter = ["kind", "verified"]
    list_select_related = ["borrower"]
    search_fields = ["=borrower__customer_no"]


@admin.register(BookSnapshot)
class BookSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["day", "borrowers", "open_lines", "total_limit", "outstanding", "taken_at"]
    date_hierarchy = "day"


@admin.register(PiiAccess)
class PiiAccessAdmin(admin.ModelAdmin):
    """The personal-data access log, read-only like everything else here."""

    list_display = ("at", "actor", "actor_role", "borrower", "field", "reason", "ip_address")
    list_filter = ("field", "actor_role")
    search_fields = ("actor__username", "reason", "reference")
    date_hierarchy = "at"
    list_select_related = ("actor", "borrower")
    raw_id_fields = ("actor", "borrower")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
