"""Limit-policy versions and the decisions they made on lines."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from decisions.choices import LimitAction, PolicyStatus
from decisions.models.scorecards import Score


class LimitPolicy(models.Model):
    """One version of the limit policy: rules as data (decisions.policy), in force only once a
    second person, the head of risk, has approved it."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    status = models.CharField(
        _("status"), max_length=8, choices=PolicyStatus.choices, default=PolicyStatus.DRAFT
    )
    rules = models.JSONField(_("rules"))
    note = models.TextField(_("what changed and why"), blank=True)
    created_at = models.DateTimeField(_("drafted at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("drafted by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("limit policy")
        verbose_name_plural = _("limit policies")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="policy_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status})"


class LimitDecision(models.Model):
    """What the policy decided for one line at one review, and why: the policy version, the
    score it read, the old and new limit and the reason codes. Kept for every review that
    changed something (and for holds forced by a lock), so each change is explainable."""

    # No index of its own: the (borrower, time) index serves every look-up by borrower, and a
    # whole-book run inserts one index entry fewer per row.
    borrower = models.ForeignKey(
        "lending.Borrower",
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    policy = models.ForeignKey(
        LimitPolicy, verbose_name=_("policy"), on_delete=models.PROTECT, related_name="+"
    )
    score = models.ForeignKey(
        Score, verbose_name=_("score"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    action = models.CharField(_("action"), max_length=8, choices=LimitAction.choices)
    old_limit = models.DecimalField(_("old limit"), max_digits=14, decimal_places=2)
    new_limit = models.DecimalField(_("new limit"), max_digits=14, decimal_places=2)
    band = models.CharField(_("band"), max_length=8)
    reasons = models.JSONField(_("reasons"), default=list)
    # Applied to the line (False: a simulation never writes here; a refused change is False).
    applied = models.BooleanField(_("applied"), default=True)
    decided_at = models.DateTimeField(_("decided at"), db_index=True)
    run_id = models.CharField(_("run"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("limit decision")
        verbose_name_plural = _("limit decisions")
        ordering = ["-decided_at", "-id"]
        indexes = [models.Index(fields=["borrower", "-decided_at"], name="decision_borrower_at")]

    def __str__(self) -> str:
        return f"{self.borrower_id} {self.action} {self.old_limit}->{self.new_limit}"
