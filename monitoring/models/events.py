"""Events received from the lending core, recorded once each."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from monitoring.choices import EventKind


class Event(models.Model):
    """One event as the lending core posted it, recorded once per client event id.

    `payload` is the event's canonical form with its personal data masked (name, national ID,
    mobile, card and counterparty account numbers): the full values are kept once, on the
    borrower's records. `payload_digest` is a keyed digest of the full canonical payload, by
    which a replay of the same id is told from the id reused for other data
    (monitoring.services.event_storage_form). `result` is what the API answered for it, so a
    replay of the same id answers the same.
    """

    event_id = models.CharField(_("event id"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=24, choices=EventKind.choices)
    borrower = models.ForeignKey(
        "lending.Borrower",
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    occurred_at = models.DateTimeField(_("occurred at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    payload = models.JSONField(_("payload"))
    payload_digest = models.CharField(_("payload digest"), max_length=64)
    result = models.JSONField(_("result"), default=dict)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["borrower", "-occurred_at"], name="event_borrower_at"),
            models.Index(fields=["kind", "-occurred_at"], name="event_kind_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"
