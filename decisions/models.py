"""Scorecards as data: versions with a status, and their points tables (decisions.scorecard).

A model is never a pickle: scoring needs only the bins and points stored here, a person can
read them, and two versions can be diffed row by row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from decisions.choices import BinKind, LimitAction, ModelStatus, PolicyStatus, RunStatus


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

    borrower = models.ForeignKey(
        "lending.Borrower", verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="+"
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
    scored_at = models.DateTimeField(_("scored at"), db_index=True)
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

    borrower = models.ForeignKey(
        "lending.Borrower", verbose_name=_("borrower"), on_delete=models.PROTECT, related_name="+"
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
