"""Whole-book scoring runs and their chunks: the job record the runs page shows."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from decisions.choices import RunStatus


class ScoringRun(models.Model):
    """A whole-book re-scoring: chunks of borrowers scored and reviewed as independent tasks.

    The job record the runs page shows: progress, failures and duration.
    """

    run_id = models.CharField(_("run"), max_length=40, unique=True)
    as_of = models.DateField(_("as of"))
    status = models.CharField(
        _("status"), max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    chunks_total = models.PositiveIntegerField(_("chunks"))
    borrowers = models.PositiveIntegerField(_("borrowers"))
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return self.run_id


class ScoringChunk(models.Model):
    """One chunk of a run: the borrowers with ids first_id..last_id. Done once, whatever how
    often its task is delivered."""

    run = models.ForeignKey(
        ScoringRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="chunks"
    )
    index = models.PositiveIntegerField(_("chunk"))
    first_id = models.PositiveBigIntegerField(_("first borrower id"))
    last_id = models.PositiveBigIntegerField(_("last borrower id"))
    size = models.PositiveIntegerField(_("borrowers"))
    status = models.CharField(
        _("status"), max_length=8, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    scores = models.PositiveIntegerField(_("scores written"), default=0)
    decisions = models.PositiveIntegerField(_("limit decisions"), default=0)
    seconds = models.FloatField(_("seconds"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("scoring chunk")
        verbose_name_plural = _("scoring chunks")
        ordering = ["run_id", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="chunk_once")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.index}"
