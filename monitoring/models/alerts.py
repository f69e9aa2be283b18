"""Rules (data, versioned) and the alerts they raise."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, RuleKind, RuleVersionStatus, Severity


class Rule(models.Model):
    """One monitoring rule the product ships (its kind fixes the logic); what a manager tunes
    lives on its versions."""

    kind = models.CharField(_("kind"), max_length=40, choices=RuleKind.choices, unique=True)
    category = models.CharField(_("category"), max_length=16, choices=AlertCategory.choices)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["kind"]

    def __str__(self) -> str:
        return str(self.get_kind_display())


class RuleVersion(models.Model):
    """The thresholds of a rule at one version. A change is a new version; at most one version
    of a rule is active and at most one is in shadow."""

    rule = models.ForeignKey(
        Rule, verbose_name=_("rule"), on_delete=models.PROTECT, related_name="versions"
    )
    version = models.PositiveIntegerField(_("version"))
    params = models.JSONField(_("parameters"), default=dict)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=RuleVersionStatus.choices,
        default=RuleVersionStatus.DRAFT,
    )
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("activated by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # When the version entered shadow (its shadow hits count from here) and when it left
    # service (retired, or replaced by the next active version).
    shadow_from = models.DateTimeField(_("in shadow from"), null=True, blank=True)
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rule version")
        verbose_name_plural = _("rule versions")
        ordering = ["rule", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "version"], name="rule_version_unique"),
            models.UniqueConstraint(
                fields=["rule"],
                condition=models.Q(status="active"),
                name="rule_one_active_version",
            ),
            models.UniqueConstraint(
                fields=["rule"],
                condition=models.Q(status="shadow"),
                name="rule_one_shadow_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} v{self.version}"


class Alert(models.Model):
    """A rule version fired on a borrower: the evidence (the events and links that fired it)
    and the severity, as of the event's own time. `dedupe_key` makes a replayed evaluation
    raise nothing twice. Grouped into a case by category (`case`)."""

    borrower = models.ForeignKey(
        "lending.Borrower",
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    rule_version = models.ForeignKey(
        RuleVersion,
        verbose_name=_("rule version"),
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    category = models.CharField(_("category"), max_length=16, choices=AlertCategory.choices)
    severity = models.PositiveSmallIntegerField(_("severity"), choices=Severity.choices)
    evidence = models.JSONField(_("evidence"), default=dict)
    event = models.ForeignKey(
        "monitoring.Event",
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alerts",
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    raised_at = models.DateTimeField(_("raised at"))
    dedupe_key = models.CharField(_("deduplication key"), max_length=128)
    case = models.ForeignKey(
        "monitoring.Case",
        verbose_name=_("case"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="alerts",
    )

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule_version", "borrower", "dedupe_key"], name="alert_dedupe"
            ),
        ]
        indexes = [
            models.Index(fields=["borrower", "-occurred_at"], name="alert_borrower_at"),
            models.Index(fields=["-raised_at"], name="alert_raised_at"),
            # Replays and late re-evaluations look hits up by borrower and key, whatever the
            # version that raised them first (monitoring.services.evaluation).
            models.Index(fields=["borrower", "dedupe_key"], name="alert_borrower_dedupe"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_version} → {self.borrower_id}"
