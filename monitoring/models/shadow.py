"""The evidence a manager sees before a rule version goes live: backtests over past windows
and the hits of a version in shadow on live events."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class Backtest(models.Model):
    """One replay of a past window's events through a rule version, and what it found: the
    alerts it would have raised, on whom, and how those borrowers fared afterwards against the
    book (the lift). Written by monitoring.services.backtest; the rule page polls it."""

    rule_version = models.ForeignKey(
        "monitoring.RuleVersion",
        verbose_name=_("rule version"),
        on_delete=models.CASCADE,
        related_name="backtests",
    )
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end"))
    # The outcome: reaching `outcome_dpd` days past due within `outcome_days` after the hit.
    outcome_dpd = models.PositiveSmallIntegerField(_("days past due counted as bad"), default=30)
    outcome_days = models.PositiveSmallIntegerField(_("outcome window (days)"), default=90)
    status = models.CharField(
        _("status"), max_length=8, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    events_replayed = models.PositiveIntegerField(_("events replayed"), default=0)
    alerts = models.PositiveIntegerField(_("alerts"), default=0)
    borrowers = models.PositiveIntegerField(_("borrowers alerted"), default=0)
    population = models.PositiveIntegerField(_("borrowers in the window"), default=0)
    hit_bad = models.PositiveIntegerField(_("alerted borrowers who went bad"), default=0)
    population_bad = models.PositiveIntegerField(_("borrowers who went bad"), default=0)
    hit_bad_rate = models.DecimalField(
        _("bad rate of the alerted"), max_digits=7, decimal_places=4, null=True, blank=True
    )
    base_rate = models.DecimalField(
        _("base bad rate"), max_digits=7, decimal_places=4, null=True, blank=True
    )
    lift = models.DecimalField(_("lift"), max_digits=8, decimal_places=2, null=True, blank=True)
    # True while part of the outcome window lies in the future: the rates can still rise.
    outcome_incomplete = models.BooleanField(_("outcome window still open"), default=False)
    # The alerts it would have raised, by day and by borrower (masked), for the page and chart.
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("backtest")
        verbose_name_plural = _("backtests")
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule_version} {self.window_start:%Y-%m-%d}..{self.window_end:%Y-%m-%d}"


class ShadowHit(models.Model):
    """A hit of a version in shadow on a live event: stored, never raised as an alert, and set
    beside the active version's alerts on the rule page. `dedupe_key` is the rule's own name
    for the hit (as an alert's), so a replayed event stores nothing twice and a shadow hit is
    matched to the active version's alert on the same borrower and key."""

    rule_version = models.ForeignKey(
        "monitoring.RuleVersion",
        verbose_name=_("rule version"),
        on_delete=models.CASCADE,
        related_name="shadow_hits",
    )
    borrower = models.ForeignKey(
        "lending.Borrower",
        verbose_name=_("borrower"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    event = models.ForeignKey(
        "monitoring.Event",
        verbose_name=_("event"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    recorded_at = models.DateTimeField(_("recorded at"))
    severity = models.PositiveSmallIntegerField(_("severity"))
    evidence = models.JSONField(_("evidence"), default=dict)
    dedupe_key = models.CharField(_("deduplication key"), max_length=128)

    class Meta:
        verbose_name = _("shadow hit")
        verbose_name_plural = _("shadow hits")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_version", "borrower", "dedupe_key"], name="shadow_hit_dedupe"
            ),
        ]
        indexes = [
            models.Index(fields=["rule_version", "-occurred_at"], name="shadow_hit_version_at"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_version} ~ {self.borrower_id}"
