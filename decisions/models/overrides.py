"""Limit overrides under four eyes: the managed reason codes, the authority matrix, proposals
and their evidence files.

A proposal is made by one person and decided by another whose authority (AuthorityRule rows,
edited by the head of risk) covers the change. Approval applies it to the line through
lending.services in the same transaction (decisions.services.overrides).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from lending.models import MONEY  # the book's money shape, typed for **MONEY


class OverrideKind(models.TextChoices):
    LIMIT = "limit", _("New limit")
    TEMPORARY = "temporary", _("Temporary limit")
    FREEZE = "freeze", _("Freeze")
    UNFREEZE = "unfreeze", _("Unfreeze")


class OverrideStatus(models.TextChoices):
    PENDING = "pending", _("Awaiting approval")
    CHANGES_REQUESTED = "changes", _("Changes requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    EXPIRED = "expired", _("Expired")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# A proposal in flight: the policy leaves the line alone, and no second proposal is taken.
OPEN_STATUSES = (OverrideStatus.PENDING, OverrideStatus.CHANGES_REQUESTED)


class Direction(models.TextChoices):
    """What a change does to the risk taken, which is what the authority matrix is keyed on."""

    INCREASE = "increase", _("Limit increase")
    DECREASE = "decrease", _("Limit decrease")
    FREEZE = "freeze", _("Freeze")
    UNFREEZE = "unfreeze", _("Unfreeze")


class OverrideReason(models.Model):
    """A reason code for an override, from a list the head of risk keeps."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    label = models.CharField(_("label (English)"), max_length=100)
    label_zh = models.CharField(_("label (Chinese)"), max_length=100, blank=True)
    active = models.BooleanField(_("in use"), default=True)
    position = models.PositiveSmallIntegerField(_("order"), default=100)

    class Meta:
        verbose_name = _("override reason")
        verbose_name_plural = _("override reasons")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        """The label in the reader's language (Chinese when one is kept)."""
        lang = (translation.get_language() or "").lower()
        if lang.startswith("zh") and self.label_zh:
            return self.label_zh
        return self.label


class AuthorityRule(models.Model):
    """One row of the authority matrix: a role may approve changes of one direction within
    these bounds. A blank bound is no bound; `bands` blank is every risk band. A person may
    decide a proposal when any active row of their role covers it."""

    role = models.CharField(_("role"), max_length=20)
    direction = models.CharField(_("change"), max_length=10, choices=Direction.choices)
    max_increase = models.DecimalField(_("largest increase (¥)"), null=True, blank=True, **MONEY)
    max_increase_share = models.DecimalField(
        _("largest increase (share of the current limit)"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
    )
    max_resulting_limit = models.DecimalField(
        _("largest resulting limit (¥)"), null=True, blank=True, **MONEY
    )
    # Comma-separated band names (decisions.policy), e.g. "A,B,C"; blank: every band.
    bands = models.CharField(_("risk bands"), max_length=40, blank=True)
    # Approving an increase above this needs the approver's password again.
    step_up_above = models.DecimalField(
        _("password again above (¥)"), null=True, blank=True, **MONEY
    )
    active = models.BooleanField(_("in force"), default=True)
    updated_at = models.DateTimeField(_("updated at"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("updated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("authority rule")
        verbose_name_plural = _("authority matrix")
        ordering = ["direction", "role", "id"]

    def __str__(self) -> str:
        return f"{self.role} {self.direction} <= {self.max_increase}"

    @property
    def role_label(self) -> str:
        from accounts.choices import Role

        return str(Role(self.role).label) if self.role in Role.values else self.role

    @property
    def band_list(self) -> list[str]:
        return [b.strip() for b in self.bands.split(",") if b.strip()]


class OverrideProposal(models.Model):
    """A proposed change to one line, its reason and justification, and what became of it."""

    line = models.ForeignKey(
        "lending.CreditLine",
        verbose_name=_("credit line"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    borrower = models.ForeignKey(
        "lending.Borrower", verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=OverrideKind.choices)
    direction = models.CharField(_("change"), max_length=10, choices=Direction.choices)
    old_limit = models.DecimalField(_("limit when proposed"), **MONEY)
    new_limit = models.DecimalField(_("proposed limit"), null=True, blank=True, **MONEY)
    # A temporary limit's last day; the line returns to `revert_to` the day after.
    until = models.DateField(_("until"), null=True, blank=True)
    revert_to = models.DecimalField(_("limit to return to"), null=True, blank=True, **MONEY)
    reason = models.ForeignKey(
        OverrideReason, verbose_name=_("reason"), on_delete=models.PROTECT, related_name="+"
    )
    justification = models.TextField(_("justification"))
    case_ref = models.CharField(_("case"), max_length=64, blank=True)
    # The risk band and score the proposal was judged on (the acting score at submission).
    band = models.CharField(_("risk band"), max_length=8)
    score = models.IntegerField(_("score"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=OverrideStatus.choices, default=OverrideStatus.PENDING
    )
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("proposed by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    proposed_at = models.DateTimeField(_("proposed at"))
    # The last (re)submission: ageing and expiry count from it.
    submitted_at = models.DateTimeField(_("submitted at"), db_index=True)
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    review_note = models.TextField(_("changes asked for"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    stepped_up = models.BooleanField(_("password confirmed"), default=False)
    reverted_at = models.DateTimeField(_("reverted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("override proposal")
        verbose_name_plural = _("override proposals")
        ordering = ["submitted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["line"],
                condition=Q(status__in=["pending", "changes"]),
                name="override_one_open_per_line",
            )
        ]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="override_status_at"),
            models.Index(fields=["borrower", "status"], name="override_borrower_status"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.old_limit}->{self.new_limit} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class OverrideEvidence(models.Model):
    """A file attached to a proposal, kept under settings.RISKOPS_OVERRIDE_EVIDENCE_DIR (outside
    the web root) by a random name; served only to those who may see the proposal."""

    proposal = models.ForeignKey(
        OverrideProposal,
        verbose_name=_("proposal"),
        on_delete=models.PROTECT,
        related_name="evidence",
    )
    original_name = models.CharField(_("file name"), max_length=200)
    stored_name = models.CharField(_("stored as"), max_length=80, unique=True)
    content_type = models.CharField(_("type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    uploaded_at = models.DateTimeField(_("uploaded at"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("evidence file")
        verbose_name_plural = _("evidence files")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name
