"""The lending book: borrowers, their credit line, drawdowns and schedules, repayments.

Money is Decimal with two places (fen); daily rates have six places (0.000500 = 0.05%/day).
Days past due and the delinquency bucket are never stored by hand: the line keeps the due date
of its oldest unpaid instalment (maintained by the services from the schedule) and DPD is
today minus that date, so it is right on any day without a nightly job (lending.money).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, NoReturn, TypedDict

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.choices import Role
from accounts.models import AppendOnlyQuerySet
from lending import caps
from lending.choices import (
    AssetKind,
    Bucket,
    DayCloseStatus,
    DrawdownStatus,
    IdentityCheckResult,
    IncomeBand,
    LimitChangeKind,
    LineStatus,
    LineStatusCode,
    NoticeKind,
    PiiField,
    Purpose,
    RepaymentMode,
    TransitionKind,
)


class _DecimalShape(TypedDict):
    """DecimalField size arguments, typed so `**MONEY` checks against the field's signature."""

    max_digits: int
    decimal_places: int


MONEY: _DecimalShape = {"max_digits": 14, "decimal_places": 2}
RATE: _DecimalShape = {"max_digits": 8, "decimal_places": 6}
ZERO = Decimal("0.00")


class Borrower(models.Model):
    """A person with a credit line. Personal data is shown masked unless revealed (PiiAccess)."""

    customer_no = models.CharField(_("customer number"), max_length=32, unique=True)
    # "person": a borrower's name is 姓名; a bare "name" (a scorecard's) is 名称.
    name = models.CharField(pgettext_lazy("person", "name"), max_length=64, db_index=True)
    national_id = models.CharField(_("national ID number"), max_length=18)
    # Suffixes kept for search by what an analyst can see on a masked screen.
    national_id_last4 = models.CharField(_("ID last 4"), max_length=4, db_index=True)
    # A keyed digest of the full number (lending.search_keys): staff search a full ID number
    # through it, never through the plaintext column, which is not indexed for search.
    national_id_hash = models.CharField(
        _("ID number digest"), max_length=64, blank=True, db_index=True, editable=False
    )
    mobile = models.CharField(_("mobile"), max_length=11, db_index=True)
    mobile_last4 = models.CharField(_("mobile last 4"), max_length=4, db_index=True)
    city = models.CharField(_("city"), max_length=32, db_index=True)
    employer = models.CharField(_("employer"), max_length=100, blank=True)
    income_band = models.CharField(_("income band"), max_length=8, choices=IncomeBand.choices)
    registered_at = models.DateTimeField(_("registered at"))
    identity_check = models.CharField(
        _("identity check"),
        max_length=12,
        choices=IdentityCheckResult.choices,
        default=IdentityCheckResult.NOT_CHECKED,
    )
    identity_check_source = models.CharField(_("identity check source"), max_length=64, blank=True)
    identity_checked_at = models.DateTimeField(_("identity checked at"), null=True, blank=True)
    # Personal data shown masked like the rest; indexed because shared addresses and emergency
    # contacts across borrowers are ring signals (monitoring's linked-identity rule).
    home_address = models.CharField(_("home address"), max_length=200, blank=True, db_index=True)
    emergency_contact_name = models.CharField(_("emergency contact"), max_length=64, blank=True)
    emergency_contact_mobile = models.CharField(
        _("emergency contact mobile"), max_length=11, blank=True, db_index=True
    )

    class Meta:
        verbose_name = _("borrower")
        verbose_name_plural = _("borrowers")
        ordering = ["-id"]
        indexes = [
            # The list's name search is a prefix match (LIKE 'x%'); on PostgreSQL only an index
            # with the pattern operator class serves it under a non-C collation. Other
            # databases ignore the operator class and get a plain index.
            models.Index(
                fields=["name"], name="borrower_name_prefix", opclasses=["varchar_pattern_ops"]
            ),
            # The list's customer-number prefix search (C2000...), the same way.
            models.Index(
                fields=["customer_no"],
                name="borrower_customer_no_prefix",
                opclasses=["varchar_pattern_ops"],
            ),
        ]

    def __str__(self) -> str:
        return self.customer_no


class CreditLine(models.Model):
    """A borrower's revolving line: the limit, what is drawn, and whether it may be used."""

    borrower = models.OneToOneField(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="line"
    )
    credit_limit = models.DecimalField(_("limit"), **MONEY)
    # Outstanding principal across the line's drawdowns.
    used = models.DecimalField(_("used"), default=ZERO, **MONEY)
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=LineStatus.choices,
        default=LineStatus.ACTIVE,
    )
    daily_rate = models.DecimalField(_("daily rate"), **RATE)
    opened_at = models.DateTimeField(_("opened at"))
    # Until this date no automatic limit change may touch the line (a manual decision holds).
    locked_until = models.DateField(_("locked until"), null=True, blank=True)
    # Why the line is in its status: a code translated when shown, plus the person's own note.
    status_code = models.CharField(
        _("status reason"),
        max_length=20,
        choices=LineStatusCode.choices,
        default=LineStatusCode.OPENED,
    )
    status_reason = models.CharField(_("status note"), max_length=200, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # Derived from the schedule by the services, never set by hand: the due date of the oldest
    # instalment not yet fully paid, on any drawdown. None when nothing is owed.
    oldest_unpaid_due = models.DateField(_("oldest unpaid due date"), null=True, blank=True)

    class Meta:
        verbose_name = _("credit line")
        verbose_name_plural = _("credit lines")
        constraints = [
            models.CheckConstraint(
                name="line_limit_not_negative", condition=Q(credit_limit__gte=0)
            ),
            models.CheckConstraint(name="line_used_not_negative", condition=Q(used__gte=0)),
            # used <= limit is checked when money leaves (drawdown_create), not held forever:
            # a limit cut below the drawn balance is allowed and leaves nothing available.
            # The absolute bounds below hold whatever the configuration (lending.caps).
            models.CheckConstraint(
                name="line_limit_within_cap",
                condition=Q(credit_limit__lte=caps.ABSOLUTE_LIMIT_CAP),
            ),
            models.CheckConstraint(
                name="line_daily_rate_in_range",
                condition=Q(daily_rate__gt=0) & Q(daily_rate__lte=caps.ABSOLUTE_MAX_DAILY_RATE),
            ),
        ]
        indexes = [
            # A plain index: db_index=True on a CharField adds a second, LIKE-prefix one that
            # no query uses and every limit change (a non-HOT update) has to maintain.
            models.Index(fields=["status"], name="line_status"),
            models.Index(fields=["oldest_unpaid_due"], name="line_oldest_unpaid_due"),
            # The borrower list's sorts (lending.selectors.SORTS) walk these, (key, borrower)
            # so that ties page by borrower id: the first and any deep page read 51 rows.
            models.Index(fields=["credit_limit", "borrower"], name="line_sort_limit"),
            models.Index(fields=["used", "borrower"], name="line_sort_used"),
            models.Index(fields=["opened_at", "borrower"], name="line_sort_opened"),
            models.Index(
                Coalesce("oldest_unpaid_due", models.Value(date(9999, 12, 31))),
                models.F("borrower_id"),
                name="line_sort_dpd",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.borrower_id}: {self.credit_limit}"

    @property
    def available(self) -> Decimal:
        if self.status != LineStatus.ACTIVE:
            return ZERO
        return max(self.credit_limit - self.used, ZERO)


class LimitChange(models.Model):
    """A change of a line's limit or status, in force from `effective_at`: the line's history,
    so that a past date (a model's observation date, a replayed event) is judged with the limit
    it had then, not the one the policy has set since.

    Written in the same transaction as the change by every service that sets a limit or a
    status (lending.services.lines, lines_bulk, borrower_register). A line with no row has had
    its opening limit all along; before its first row it had that row's `old_limit` (lines
    opened in bulk, such as the demo book, need no opening row). lending.selectors.book
    (limit_as_of, limits_as_of) reads it.
    """

    line = models.ForeignKey(
        CreditLine,
        verbose_name=_("credit line"),
        on_delete=models.PROTECT,
        related_name="limit_changes",
        db_index=False,  # limitchange_line_at (line, effective_at) serves every read
    )
    effective_at = models.DateTimeField(_("effective at"))
    kind = models.CharField(_("kind"), max_length=8, choices=LimitChangeKind.choices)
    old_limit = models.DecimalField(_("old limit"), **MONEY)
    new_limit = models.DecimalField(_("new limit"), **MONEY)
    old_status = models.CharField(_("old status"), max_length=8, choices=LineStatus.choices)
    new_status = models.CharField(_("new status"), max_length=8, choices=LineStatus.choices)
    reason_code = models.CharField(
        _("status reason"), max_length=20, choices=LineStatusCode.choices
    )
    # The limit policy (True), or a decision by a person or a job on their behalf (False).
    automatic = models.BooleanField(_("automatic"), default=False)
    # Who decided (a username; blank for the system) and whose approval the system applied.
    decided_by = models.CharField(_("decided by"), max_length=150, blank=True)
    approved_by = models.CharField(_("approved by"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("limit change")
        verbose_name_plural = _("limit changes")
        ordering = ["effective_at", "id"]
        indexes = [models.Index(fields=["line", "effective_at"], name="limitchange_line_at")]

    def __str__(self) -> str:
        return (
            f"{self.line_id} {self.effective_at:%Y-%m-%d %H:%M} {self.old_limit}->{self.new_limit}"
        )


class BankAccount(models.Model):
    """A bank card seen for a borrower: drawdowns are paid out to it, repayments come from it."""

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="bank_accounts"
    )
    bank_name = models.CharField(_("bank"), max_length=64)
    # Indexed: the same card under several borrowers is a ring signal.
    card_no = models.CharField(_("card number"), max_length=19, db_index=True)
    first_seen_at = models.DateTimeField(_("first seen"))
    last_seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("bank account")
        verbose_name_plural = _("bank accounts")
        constraints = [
            models.UniqueConstraint(
                fields=["borrower", "card_no"], name="bank_account_once_per_borrower"
            )
        ]
        # A borrower's cards newest first, straight from an index (their timeline).
        indexes = [
            models.Index(
                fields=["borrower", "-first_seen_at", "-id"], name="bankaccount_borrower_at"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.card_no[-4:]}"


class Device(models.Model):
    """A phone a borrower used; the same device under several borrowers is a ring signal."""

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="devices"
    )
    device_id = models.CharField(_("device id"), max_length=64, db_index=True)
    platform = models.CharField(_("platform"), max_length=16, blank=True)
    # The network address the device was last seen from: one address behind many borrowers
    # is a ring signal.
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True, db_index=True)
    first_seen_at = models.DateTimeField(_("first seen"))
    last_seen_at = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [
            models.UniqueConstraint(
                fields=["borrower", "device_id"], name="device_once_per_borrower"
            )
        ]
        # A borrower's devices newest first, straight from an index (their timeline).
        indexes = [
            models.Index(fields=["borrower", "-first_seen_at", "-id"], name="device_borrower_at")
        ]

    def __str__(self) -> str:
        return self.device_id


class Drawdown(models.Model):
    """One loan drawn on the line, repaid by its instalment schedule."""

    line = models.ForeignKey(
        CreditLine,
        verbose_name=_("credit line"),
        on_delete=models.PROTECT,
        related_name="drawdowns",
    )
    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="drawdowns"
    )
    # The lending core's loan number: a drawdown is recorded once however often it is posted.
    loan_no = models.CharField(_("loan number"), max_length=40, unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    repayment_mode = models.CharField(
        _("repayment mode"), max_length=20, choices=RepaymentMode.choices
    )
    daily_rate = models.DecimalField(_("daily rate"), **RATE)
    # The all-in annual rate by the IRR method (RULES §4C), fixed at disbursement.
    apr = models.DecimalField(_("APR (IRR)"), max_digits=7, decimal_places=4)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    disbursed_at = models.DateTimeField(_("disbursed at"), db_index=True)
    bank_account = models.ForeignKey(
        BankAccount,
        verbose_name=_("paid out to"),
        on_delete=models.PROTECT,
        related_name="drawdowns",
    )
    device = models.ForeignKey(
        Device,
        verbose_name=_("device"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="drawdowns",
    )
    status = models.CharField(
        _("status"), max_length=12, choices=DrawdownStatus.choices, default=DrawdownStatus.ACTIVE
    )
    principal_outstanding = models.DecimalField(_("principal outstanding"), **MONEY)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    written_off_at = models.DateTimeField(_("written off at"), null=True, blank=True)
    # Principal outstanding when the loan was written off (principal_outstanding then reads 0
    # on the book; recoveries are booked against this).
    written_off_principal = models.DecimalField(_("principal written off"), default=ZERO, **MONEY)

    class Meta:
        verbose_name = _("drawdown")
        verbose_name_plural = _("drawdowns")
        ordering = ["-disbursed_at", "-id"]
        constraints = [
            models.CheckConstraint(name="drawdown_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="drawdown_term_in_range", condition=Q(term_months__gte=1, term_months__lte=36)
            ),
            models.CheckConstraint(
                name="drawdown_outstanding_in_range",
                condition=(
                    Q(principal_outstanding__gte=0)
                    & Q(principal_outstanding__lte=models.F("amount"))
                ),
            ),
        ]
        indexes = [models.Index(fields=["borrower", "-disbursed_at"], name="drawdown_borrower")]

    def __str__(self) -> str:
        return self.loan_no


class Instalment(models.Model):
    """One scheduled payment of a drawdown, and how much of it has been paid.

    `fee_due` holds penalty interest on overdue principal, added as it accrues (lending.money);
    `penalty_through` is the date it has been accrued up to.
    """

    drawdown = models.ForeignKey(
        Drawdown, verbose_name=_("drawdown"), on_delete=models.CASCADE, related_name="instalments"
    )
    seq = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    principal_due = models.DecimalField(_("principal due"), **MONEY)
    interest_due = models.DecimalField(_("interest due"), **MONEY)
    fee_due = models.DecimalField(_("fees due"), default=ZERO, **MONEY)
    principal_paid = models.DecimalField(_("principal paid"), default=ZERO, **MONEY)
    interest_paid = models.DecimalField(_("interest paid"), default=ZERO, **MONEY)
    fee_paid = models.DecimalField(_("fees paid"), default=ZERO, **MONEY)
    penalty_through = models.DateField(_("penalty accrued through"), null=True, blank=True)
    # When the instalment was paid in full; history of DPD is derived from it.
    paid_off_at = models.DateTimeField(_("paid off at"), null=True, blank=True)

    class Meta:
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        ordering = ["drawdown_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["drawdown", "seq"], name="instalment_seq_unique"),
            models.CheckConstraint(
                name="instalment_paid_within_due",
                condition=(
                    Q(principal_paid__gte=0, interest_paid__gte=0, fee_paid__gte=0)
                    & Q(principal_paid__lte=models.F("principal_due"))
                    & Q(interest_paid__lte=models.F("interest_due"))
                    & Q(fee_paid__lte=models.F("fee_due"))
                ),
            ),
        ]
        indexes = [models.Index(fields=["due_date"], name="instalment_due_date")]

    def __str__(self) -> str:
        return f"{self.drawdown_id}#{self.seq}"

    @property
    def total_due(self) -> Decimal:
        return self.principal_due + self.interest_due + self.fee_due

    @property
    def total_paid(self) -> Decimal:
        return self.principal_paid + self.interest_paid + self.fee_paid

    @property
    def remaining(self) -> Decimal:
        return self.total_due - self.total_paid


class Repayment(models.Model):
    """Money received for a drawdown, split over its instalments (RepaymentAllocation)."""

    drawdown = models.ForeignKey(
        Drawdown, verbose_name=_("drawdown"), on_delete=models.PROTECT, related_name="repayments"
    )
    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="repayments"
    )
    # The lending core's reference: a repayment is recorded once however often it is posted.
    # "payment": a payment's reference number is 流水号; the audit log's request reference is not.
    reference = models.CharField(pgettext_lazy("payment", "reference"), max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    paid_at = models.DateTimeField(_("paid at"), db_index=True)
    # What was paid above the payoff of the loan: it settled, and this much is owed back.
    unapplied_amount = models.DecimalField(_("unapplied (to refund)"), default=ZERO, **MONEY)
    bank_account = models.ForeignKey(
        BankAccount,
        verbose_name=_("paid from"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="repayments",
    )

    class Meta:
        verbose_name = _("repayment")
        verbose_name_plural = _("repayments")
        ordering = ["-paid_at", "-id"]
        constraints = [
            models.CheckConstraint(name="repayment_amount_positive", condition=Q(amount__gt=0))
        ]
        # A borrower's repayments newest first, or from a time on, straight from an index
        # (their timeline, the monitoring rules' histories).
        indexes = [
            models.Index(fields=["borrower", "-paid_at", "-id"], name="repayment_borrower_at")
        ]

    def __str__(self) -> str:
        return self.reference


class RepaymentAllocation(models.Model):
    """The part of one repayment that went to one instalment, split by component."""

    repayment = models.ForeignKey(
        Repayment, verbose_name=_("repayment"), on_delete=models.CASCADE, related_name="allocations"
    )
    instalment = models.ForeignKey(
        Instalment,
        verbose_name=_("instalment"),
        on_delete=models.PROTECT,
        related_name="allocations",
    )
    fee = models.DecimalField(_("fees"), default=ZERO, **MONEY)
    interest = models.DecimalField(_("interest"), default=ZERO, **MONEY)
    principal = models.DecimalField(_("principal"), default=ZERO, **MONEY)

    class Meta:
        verbose_name = _("repayment allocation")
        verbose_name_plural = _("repayment allocations")
        constraints = [
            models.CheckConstraint(
                name="allocation_parts_not_negative",
                condition=Q(fee__gte=0, interest__gte=0, principal__gte=0),
            )
        ]

    def __str__(self) -> str:
        return f"{self.repayment_id} -> {self.instalment_id}"


class TransferOut(models.Model):
    """Money the borrower moved out of their account after a drawdown, as the core saw it.

    A transfer to another lender soon after a drawdown is the multi-lender signal.
    """

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="transfers_out"
    )
    reference = models.CharField(pgettext_lazy("payment", "reference"), max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)
    counterparty_name = models.CharField(_("counterparty"), max_length=100)
    counterparty_account = models.CharField(_("counterparty account"), max_length=34, blank=True)
    counterparty_is_lender = models.BooleanField(_("counterparty is a lender"), default=False)
    bank_account = models.ForeignKey(
        BankAccount,
        verbose_name=_("from account"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="transfers_out",
    )

    class Meta:
        verbose_name = _("transfer out")
        verbose_name_plural = _("transfers out")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.CheckConstraint(name="transfer_amount_positive", condition=Q(amount__gt=0))
        ]
        # A borrower's transfers out newest first, or from a time on, straight from an index.
        indexes = [
            models.Index(fields=["borrower", "-occurred_at", "-id"], name="transfer_borrower_at")
        ]

    def __str__(self) -> str:
        return self.reference


class DeclaredAsset(models.Model):
    """A financial asset the borrower declared as a backup source of repayment."""

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="assets"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=AssetKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    declared_at = models.DateTimeField(_("declared at"))
    verified = models.BooleanField(_("verified"), default=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)

    class Meta:
        verbose_name = _("declared asset")
        verbose_name_plural = _("declared assets")
        constraints = [
            models.CheckConstraint(name="asset_amount_positive", condition=Q(amount__gt=0))
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"


class BookSnapshot(models.Model):
    """The book's headline figures at the close of one day, for trend charts."""

    day = models.DateField(_("day"), unique=True)
    borrowers = models.PositiveIntegerField(_("borrowers"))
    open_lines = models.PositiveIntegerField(_("open lines"))
    total_limit = models.DecimalField(_("total limit"), max_digits=18, decimal_places=2)
    outstanding = models.DecimalField(_("outstanding"), max_digits=18, decimal_places=2)
    # {"M0": "123.45", ...}: outstanding principal per delinquency bucket.
    balance_by_bucket = models.JSONField(_("balance by bucket"), default=dict)
    taken_at = models.DateTimeField(_("taken at"), auto_now_add=True)

    class Meta:
        verbose_name = _("book snapshot")
        verbose_name_plural = _("book snapshots")
        ordering = ["-day"]

    def __str__(self) -> str:
        return self.day.isoformat()


class LineTransition(models.Model):
    """A change in a line's delinquency the day close saw: entered a worse bucket, cured, or
    written off. Published for other apps (scores, monitoring, the bureau), which read these
    rows or the `line_transitions_recorded` signal; the book never calls them.

    One row per line, day and kind: rerunning a day close adds nothing.
    """

    line = models.ForeignKey(
        CreditLine, verbose_name=_("credit line"), on_delete=models.PROTECT, related_name="+"
    )
    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="transitions"
    )
    day = models.DateField(_("day"), db_index=True)
    kind = models.CharField(_("kind"), max_length=12, choices=TransitionKind.choices)
    from_bucket = models.CharField(_("from bucket"), max_length=2, choices=Bucket.choices)
    to_bucket = models.CharField(_("to bucket"), max_length=2, choices=Bucket.choices)
    dpd = models.PositiveIntegerField(_("days past due"))
    # Outstanding principal of the line at the close of the day (balance-weighted roll rates).
    balance = models.DecimalField(_("balance"), **MONEY)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("delinquency transition")
        verbose_name_plural = _("delinquency transitions")
        ordering = ["-day", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["line", "day", "kind"], name="transition_once_a_day")
        ]
        indexes = [models.Index(fields=["borrower", "-day"], name="transition_borrower_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.line_id} {self.from_bucket}->{self.to_bucket}"


class DayClose(models.Model):
    """One run of the nightly day close for one business day: what it did, and when."""

    day = models.DateField(_("day"), unique=True)
    status = models.CharField(
        _("status"), max_length=8, choices=DayCloseStatus.choices, default=DayCloseStatus.RUNNING
    )
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    penalty_accrued = models.DecimalField(_("penalty accrued"), default=ZERO, **MONEY)
    instalments_accrued = models.PositiveIntegerField(_("instalments accrued"), default=0)
    transitions = models.PositiveIntegerField(_("transitions"), default=0)
    written_off = models.PositiveIntegerField(_("loans written off"), default=0)

    class Meta:
        verbose_name = _("day close")
        verbose_name_plural = _("day closes")
        ordering = ["-day"]

    def __str__(self) -> str:
        return self.day.isoformat()


class Notice(models.Model):
    """A notice to the borrower (a limit change, a freeze, a write-off), shown in the portal.

    `params` fills the kind's translated sentence (amounts, dates, the reason code), so the
    notice reads in the borrower's language whenever it is shown.
    """

    # No index of their own: every read is a borrower's notices, newest first, which
    # notice_borrower_at serves; one index less to write per notice (a night's limit changes).
    borrower = models.ForeignKey(
        Borrower,
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        related_name="notices",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=16, choices=NoticeKind.choices)
    params = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("sent at"))
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["borrower", "-created_at"], name="notice_borrower_at")]

    def __str__(self) -> str:
        return f"{self.borrower_id} {self.kind}"


class PiiAccess(models.Model):
    """A staff member revealed a borrower's full personal data: who, what, why, when, from where.

    The access record PIPL and 征信业管理条例 art. 22 expect; append-only like the audit log
    (the model refuses updates and deletes, and so do database triggers).
    """

    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    borrower = models.ForeignKey(
        Borrower,
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        related_name="pii_accesses",
    )
    field = models.CharField(_("field"), max_length=20, choices=PiiField.choices)
    # The object the field belongs to when it is not the borrower (a bank account's id).
    object_ref = models.CharField(_("object"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=300)
    # False for a refused attempt (say, an analyst trying to reveal): it is recorded too.
    granted = models.BooleanField(_("granted"), default=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    reference = models.CharField(_("reference"), max_length=200, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_id} {self.field} of {self.borrower_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("The access log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError("The access log is append-only.")
