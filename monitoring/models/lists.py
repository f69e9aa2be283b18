"""Lists a manager keeps that rules refer to (known lender counterparties, trusted devices
and employers, blocked cards), versioned like rules: a change is a new version, and rules
read the active version's entries."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from monitoring.choices import ListKind, RuleVersionStatus


class ManagedList(models.Model):
    """One list the product ships (its kind says which rules read it)."""

    kind = models.CharField(_("kind"), max_length=24, choices=ListKind.choices, unique=True)

    class Meta:
        verbose_name = _("managed list")
        verbose_name_plural = _("managed lists")
        ordering = ["kind"]

    def __str__(self) -> str:
        return str(self.get_kind_display())


class ListVersion(models.Model):
    """The entries of a list at one version. `entries` is a list of strings, kept normalised
    (monitoring.rules.lists.normalise): a counterparty's name or account, a device id, an
    employer's name, a card number. At most one version of a list is active."""

    managed_list = models.ForeignKey(
        ManagedList, verbose_name=_("list"), on_delete=models.PROTECT, related_name="versions"
    )
    version = models.PositiveIntegerField(_("version"))
    entries = models.JSONField(_("entries"), default=list)
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
    retired_at = models.DateTimeField(_("retired at"), null=True, blank=True)

    class Meta:
        verbose_name = _("list version")
        verbose_name_plural = _("list versions")
        ordering = ["managed_list", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["managed_list", "version"], name="list_version_unique"),
            models.UniqueConstraint(
                fields=["managed_list"],
                condition=models.Q(status="active"),
                name="list_one_active_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.managed_list} v{self.version}"
