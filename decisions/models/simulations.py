"""A policy simulation asked for on a page and computed by a Celery worker.

Simulating a policy over the whole book takes longer than a web request may: the page stores
the request here, a worker fills in the result, and the page polls until it is there."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from decisions.models.policies import LimitPolicy


class SimulationStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class PolicySimulation(models.Model):
    """What a policy (a stored version, or the editor's unsaved draft) would do to the book on
    `as_of`: counts of raise / hold / cut / freeze and the change in exposure by band.

    `rules` is the document simulated, so an unsaved draft's simulation can be read later;
    `result` is decisions.selectors.policy_simulation's output with amounts as strings."""

    policy = models.ForeignKey(
        LimitPolicy,
        verbose_name=_("policy"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    rules = models.JSONField(_("rules"))
    as_of = models.DateField(_("as of"))
    status = models.CharField(
        _("status"),
        max_length=8,
        choices=SimulationStatus.choices,
        default=SimulationStatus.QUEUED,
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
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    seconds = models.FloatField(_("seconds"), null=True, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("policy simulation")
        verbose_name_plural = _("policy simulations")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["policy", "-requested_at"], name="simulation_policy_at")]

    def __str__(self) -> str:
        return f"simulation {self.pk} ({self.status})"
