"""Case queues and the cases analysts work."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from monitoring.choices import AlertCategory, CaseStatus, Disposition, QueueKind


class Queue(models.Model):
    """A queue of work by kind, with its service level: a case is due `sla_hours` after it
    opens."""

    kind = models.CharField(_("kind"), max_length=16, choices=QueueKind.choices, unique=True)
    sla_hours = models.PositiveIntegerField(_("SLA (hours)"), default=24)

    class Meta:
        verbose_name = _("queue")
        verbose_name_plural = _("queues")
        ordering = ["kind"]

    def __str__(self) -> str:
        return str(self.get_kind_display())


class Case(models.Model):
    """Alerts of one borrower and category, grouped while the case is open, worked by one
    analyst at a time (`assignee`) to a disposition."""

    borrower = models.ForeignKey(
        "lending.Borrower",
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        related_name="cases",
    )
    queue = models.ForeignKey(
        Queue, verbose_name=_("queue"), on_delete=models.PROTECT, related_name="cases"
    )
    category = models.CharField(
        _("category"), max_length=16, choices=AlertCategory.choices, blank=True
    )
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    priority = models.PositiveIntegerField(_("priority"), default=0)
    exposure = models.DecimalField(_("exposure"), max_digits=14, decimal_places=2, default=0)
    opened_at = models.DateTimeField(_("opened at"))
    due_at = models.DateTimeField(_("due at"))
    # The SLA clock stops while the case waits for the borrower's documents: `waiting_since`
    # is when it stopped (None when running); on resuming, due_at moves by the time waited
    # and `sla_paused` adds it up (monitoring.services.cases.sla_pause / sla_resume).
    waiting_since = models.DateTimeField(_("waiting since"), null=True, blank=True)
    sla_paused = models.DurationField(_("SLA paused for"), default=timedelta(0))
    # The portal notice of the latest documents request: while the case waits, the borrower's
    # upload page is reached from that notice (monitoring.services.case_documents).
    documents_notice = models.ForeignKey(
        "lending.Notice",
        verbose_name=_("documents notice"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    disposition = models.CharField(
        _("disposition"), max_length=24, choices=Disposition.choices, blank=True
    )
    resolution_note = models.TextField(_("resolution note"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-priority", "due_at", "id"]
        constraints = [
            # One open case per borrower and category: alerts join it rather than opening more.
            models.UniqueConstraint(
                fields=["borrower", "category"],
                condition=~models.Q(status="resolved") & ~models.Q(category=""),
                name="case_one_open_per_category",
            ),
        ]
        indexes = [
            models.Index(fields=["queue", "status", "-priority", "due_at"], name="case_queue"),
            models.Index(fields=["assignee", "status"], name="case_assignee"),
            # The team view's throughput: resolved per analyst and day.
            models.Index(fields=["resolved_at", "resolved_by"], name="case_resolved"),
            # A borrower's cases newest first, straight from an index (their timeline).
            models.Index(fields=["borrower", "-opened_at", "-id"], name="case_borrower_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"


class CaseComment(models.Model):
    """An analyst's note on a case, shown on its timeline; never edited."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    body = models.TextField(_("comment"))
    created_at = models.DateTimeField(_("written at"))

    class Meta:
        verbose_name = _("case comment")
        verbose_name_plural = _("case comments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"#{self.case_id} comment {self.pk}"


class CaseEvidence(models.Model):
    """A file attached to a case (a PDF or image the analyst collected).

    The bytes live outside the web root (monitoring.services.case_evidence.evidence_dir), under a
    random `storage_key`; only the case page's download view serves them, to staff who may see
    the case. `file_name` is the uploaded name, for display only: it never names a path.
    """

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="evidence"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded at"))
    file_name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(_("content type"), max_length=40)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    storage_key = models.CharField(_("storage key"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("case evidence")
        verbose_name_plural = _("case evidence")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"#{self.case_id} {self.file_name}"
