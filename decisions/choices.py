from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelStatus(models.TextChoices):
    """A scorecard version's life: drafted, tried beside the champion, acting, retired."""

    DRAFT = "draft", _("Draft")
    CHALLENGER = "challenger", _("Challenger")
    CHAMPION = "champion", _("Champion")
    RETIRED = "retired", _("Retired")


class BinKind(models.TextChoices):
    RANGE = "range", _("Range")
    CATEGORIES = "categories", _("Categories")
    SPECIAL = "special", _("Special values")
    MISSING = "missing", _("Missing")


class PolicyStatus(models.TextChoices):
    """A limit policy version: drafted by a manager, approved into force by the head of risk."""

    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class LimitAction(models.TextChoices):
    RAISE = "raise", _("Raise")
    HOLD = "hold", _("Hold")
    CUT = "cut", _("Cut")
    FREEZE = "freeze", _("Freeze")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
