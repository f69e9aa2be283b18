"""Scorecards as data: versions with a status, and their points tables (decisions.scorecard).

A model is never a pickle: scoring needs only the bins and points stored here, a person can
read them, and two versions can be diffed row by row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from decisions.choices import BinKind, ModelStatus


class ScorecardModel(models.Model):
    """One version of a points scorecard, with how it was trained and how well it did."""

    name = models.CharField(_("name"), max_length=64)
    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=12, choices=ModelStatus.choices, default=ModelStatus.DRAFT
    )
    # What "bad" meant in training, in words and as data (e.g. {"source": "csv", ...}).
    target = models.CharField(_("target"), max_length=200)
    training = models.JSONField(_("training"), default=dict, blank=True)
    base_score = models.PositiveIntegerField(_("base score"))
    base_odds = models.PositiveIntegerField(_("base odds (good:bad)"))
    pdo = models.PositiveIntegerField(_("points to double the odds"))
    base_points = models.FloatField(_("base points"), default=0.0)
    auc = models.FloatField(_("test AUC"))
    ks = models.FloatField(_("test KS"))
    gini = models.FloatField(_("test Gini"))
    # {"feature": information value}
    iv = models.JSONField(_("information value"), default=dict)
    train_rows = models.PositiveIntegerField(_("training rows"))
    test_rows = models.PositiveIntegerField(_("test rows"))
    bad_rate = models.FloatField(_("bad rate"))
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="scorecard_version_once"),
            # One champion per scorecard name: the model that acts.
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(status="champion"),
                name="scorecard_one_champion",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ScorecardBin(models.Model):
    """One row of a points table: a feature's bin and the points it earns."""

    model = models.ForeignKey(
        ScorecardModel, verbose_name=_("scorecard"), on_delete=models.CASCADE, related_name="bins"
    )
    feature = models.CharField(_("feature"), max_length=64)
    index = models.PositiveSmallIntegerField(_("bin"))
    kind = models.CharField(_("kind"), max_length=12, choices=BinKind.choices)
    # Range bins: [lower, upper); None is open. Categorical bins: the categories.
    lower = models.FloatField(_("from"), null=True, blank=True)
    upper = models.FloatField(_("to"), null=True, blank=True)
    categories = models.JSONField(_("categories"), default=list, blank=True)
    label = models.CharField(_("bin"), max_length=300)
    points = models.FloatField(_("points"))
    woe = models.FloatField(_("WoE"))
    count = models.PositiveIntegerField(_("count"))
    event_rate = models.FloatField(_("bad rate"))

    class Meta:
        verbose_name = _("scorecard bin")
        verbose_name_plural = _("scorecard bins")
        ordering = ["model_id", "feature", "index"]
        constraints = [
            models.UniqueConstraint(fields=["model", "feature", "index"], name="bin_once")
        ]

    def __str__(self) -> str:
        return f"{self.feature} {self.label}: {self.points:g}"


class Score(models.Model):
    """A borrower's score by one scorecard version at one time, with its inputs and reasons.

    `inputs` keeps each feature's value and the points it earned, so the score can be explained
    later to an analyst, a regulator or the borrower exactly as it was computed; `reasons` are
    the features that lost the most points against their best bin (decisions.reasons).
    """

    # No index of its own: the (borrower, time) index serves every look-up by borrower, and a
    # whole-book run inserts one index entry fewer per row.
    borrower = models.ForeignKey(
        "lending.Borrower",
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    model = models.ForeignKey(
        ScorecardModel, verbose_name=_("scorecard"), on_delete=models.PROTECT, related_name="+"
    )
    total = models.IntegerField(_("score"))
    # {"feature": {"value": 0.83, "points": 12}}
    inputs = models.JSONField(_("inputs"))
    reasons = models.JSONField(_("reasons"), default=list)
    # Whether this model acted for the borrower (champion, or the challenger they are assigned).
    acting = models.BooleanField(_("acting"), default=True)
    as_of = models.DateField(_("as of"))
    # Every read is a borrower's scores (score_borrower_at): no index of its own to write
    # with each of a night's million scores.
    scored_at = models.DateTimeField(_("scored at"))
    # The book-wide run (job) this score came from; blank for an event-driven re-score.
    run_id = models.CharField(_("run"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        ordering = ["-scored_at", "-id"]
        indexes = [models.Index(fields=["borrower", "-scored_at"], name="score_borrower_at")]
        constraints = [
            # A redelivered chunk of a run writes nothing twice.
            models.UniqueConstraint(
                fields=["run_id", "borrower", "model"],
                condition=~Q(run_id=""),
                name="score_once_per_run",
            )
        ]

    def __str__(self) -> str:
        return f"{self.borrower_id}: {self.total}"
