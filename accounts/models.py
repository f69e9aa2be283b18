"""Logins and roles, and the append-only, hash-chained audit log.

This app stands below the domain: it imports no domain app, and refers to a borrower only by
id. The record of personal-data reveals lives with the personal data, in lending."""

from __future__ import annotations

from typing import Any, NoReturn

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.choices import STAFF_ROLES, AuditSource, Role


class User(AbstractUser):
    """A login: a staff member with a role, a borrower tied to one borrower, or a machine."""

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.ANALYST)
    # Set only for borrower logins; the portal shows this borrower's data and nothing else.
    # An indexed id, not a foreign key: people stand below the lending book and do not know
    # its models (lending checks the id names a borrower when it ties a login to one).
    borrower_id = models.PositiveBigIntegerField(_("borrower"), null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(
                name="user_borrower_role_matches_borrower",
                condition=(
                    models.Q(role=Role.BORROWER, borrower_id__isnull=False)
                    | (~models.Q(role=Role.BORROWER) & models.Q(borrower_id__isnull=True))
                ),
            )
        ]

    @property
    def is_risk_staff(self) -> bool:
        return self.is_active and self.role in STAFF_ROLES

    @property
    def is_borrower(self) -> bool:
        return self.role == Role.BORROWER


class AppendOnlyQuerySet(models.QuerySet[Any]):
    """No bulk path changes or removes audit rows."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("The audit log is append-only.")

    def delete(self) -> NoReturn:
        raise PermissionError("The audit log is append-only.")


class AuditEvent(models.Model):
    """One state change: who, what, on which object, before and after, when, from where.

    Written by the service that made the change, in the same transaction (accounts.audit.audit).
    Append-only: the model refuses updates and deletes, and database triggers (migrations 0002
    and 0003) refuse UPDATE, DELETE and TRUNCATE too, so not even raw SQL from the application
    can rewrite history; run as the restricted database role (accounts.db_roles), the
    application cannot switch the triggers off either.
    """

    # Set by accounts.audit before the row is hashed (so not auto_now_add, which would set it
    # only at INSERT, after the hash is computed).
    at = models.DateTimeField(_("at"), default=timezone.now, editable=False, db_index=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # Who acted when there is no user, or a label kept even if the user is renamed.
    actor_label = models.CharField(_("actor label"), max_length=150)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    # The borrower the change concerns, so a borrower's whole trail is one indexed read. An id,
    # not a foreign key: the audit log stands below the domain and knows none of its models.
    borrower_id = models.PositiveBigIntegerField(_("borrower"), null=True, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=AuditSource.choices)
    # The request id, task name and id, or command that made the change.
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    # Hash chain (accounts.audit): each row's hash covers its content and the previous row's
    # hash, so a removed or altered row breaks the chain that `manage.py audit_verify` walks.
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    row_hash = models.CharField(_("row hash"), max_length=64, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["borrower_id", "-at"], name="audit_borrower_at"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
            # Plain: db_index=True would add a LIKE-prefix index no query uses, written with
            # every audit row.
            models.Index(fields=["action"], name="audit_action"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError("The audit log is append-only.")
