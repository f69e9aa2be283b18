"""Risk flags on a borrower that other decisions read: today, a confirmed fraud.

A flag is set by a service (a fraud case resolved as confirmed fraud) and cleared by another
(the case reopened, a finding reversed); it is never deleted, so the history stays readable.
At most one open flag of each kind per borrower.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class RiskFlagKind(models.TextChoices):
    FRAUD_CONFIRMED = "fraud_confirmed", _("Confirmed fraud")


class RiskFlag(models.Model):
    borrower = models.ForeignKey(
        "lending.Borrower", verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=RiskFlagKind.choices)
    # Where the finding came from, e.g. "case:123".
    source = models.CharField(_("source"), max_length=64)
    note = models.TextField(_("note"), blank=True)
    set_at = models.DateTimeField(_("set at"))
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("set by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cleared by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    clear_note = models.TextField(_("note on clearing"), blank=True)

    class Meta:
        verbose_name = _("risk flag")
        verbose_name_plural = _("risk flags")
        ordering = ["-set_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["borrower", "kind"],
                condition=Q(cleared_at__isnull=True),
                name="riskflag_one_open_per_kind",
            )
        ]

    def __str__(self) -> str:
        state = "cleared" if self.cleared_at else "open"
        return f"{self.borrower_id} {self.kind} ({state})"
