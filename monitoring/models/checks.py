"""The drawdown check: what the lending core asked before money left, and what it was told."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from lending.choices import Purpose
from monitoring.choices import CheckDecision


class DrawdownCheck(models.Model):
    """One answer of POST /api/v1/drawdown-checks/, recorded as given (never changed).

    `reasons` are the codes behind the answer (monitoring.services.checks.REASONS), each with
    its detail; `rule_hits` the real-time rules that fired on the hypothetical drawdown (kind,
    version, severity, evidence). The payout card is kept as its last four digits only.
    """

    borrower = models.ForeignKey(
        "lending.Borrower",
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        related_name="drawdown_checks",
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    device_id = models.CharField(_("device id"), max_length=64, blank=True)
    card_last4 = models.CharField(_("payout card (last 4)"), max_length=4, blank=True)
    decision = models.CharField(_("decision"), max_length=8, choices=CheckDecision.choices)
    reasons = models.JSONField(_("reasons"), default=list)
    rule_hits = models.JSONField(_("rule hits"), default=list)
    # The line as the check found it.
    line_status = models.CharField(_("line status"), max_length=8)
    available = models.DecimalField(_("available"), max_digits=14, decimal_places=2)
    dpd = models.PositiveIntegerField(_("days past due"))
    score = models.IntegerField(_("score"), null=True, blank=True)
    checked_at = models.DateTimeField(_("checked at"), db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    alert = models.ForeignKey(
        "monitoring.Alert",
        verbose_name=_("alert"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("drawdown check")
        verbose_name_plural = _("drawdown checks")
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["borrower", "-checked_at"], name="check_borrower_at")]

    def __str__(self) -> str:
        return f"{self.borrower_id} {self.amount} {self.decision}"
