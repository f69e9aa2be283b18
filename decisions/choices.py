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
