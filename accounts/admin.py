"""Admin pages: logins with their role; the audit and access logs as read-only lists."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from axes.admin import AccessAttemptAdmin
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import BaseFormSet, ModelForm
from django.http import HttpRequest, HttpResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.choices import Role
from accounts.errors import NotAllowed
from accounts.forms import UserAddForm, UserPasswordForm
from accounts.models import AuditEvent, User
from accounts.services import (
    USER_PROFILE_FIELDS,
    user_create,
    user_deactivate,
    user_set_role,
    user_update,
)
from core.errors import DomainError

# The administrator using the password form, for the form's service call (the ModelAdmin is
# shared by every request, so the request's actor cannot be stored on it).
_password_form_actor: contextvars.ContextVar[User | None] = contextvars.ContextVar(
    "riskops_password_form_actor", default=None
)

# Changed only through accounts.services (role rules, audit row, token revocation), so the
# change form shows them read-only and the list's actions below change them.
SERVICE_GOVERNED_FIELDS = ("role", "borrower_id", "is_active", "is_staff", "is_superuser")

AdminAction = Callable[[Any, HttpRequest, "QuerySet[User]"], None]


def _acting_user(request: HttpRequest) -> User:
    """The signed-in administrator (the admin site admits no one else; checked, not assumed)."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _same_to_the_second(stored: Any, posted: Any) -> bool:
    """The admin's date-time widgets have no microseconds, and Django's form reports an
    untouched join date as changed: an edit is a difference the form can express."""
    if isinstance(stored, datetime) and isinstance(posted, datetime):
        return stored.replace(microsecond=0) == posted.replace(microsecond=0)
    return bool(stored == posted)


def _set_role_action(role: Role) -> AdminAction:
    """A list action that gives the selected logins `role` through user_set_role."""

    def action(modeladmin: UserAdmin, request: HttpRequest, queryset: QuerySet[User]) -> None:
        modeladmin.run_service(
            request, queryset, lambda actor, user: user_set_role(actor=actor, user=user, role=role)
        )

    action.__name__ = f"set_role_{role.value}"
    # Built when the admin is imported: formatted lazily, so each request shows it in its own
    # language (a `%` here would fix it in English for good).
    return admin.action(description=format_lazy(_("Set role: {role}"), role=role.label))(action)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin plus the role and the tied borrower."""

    list_display = ("username", "role", "borrower_id", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = (
        # Django's UserAdmin sets both; the stubs type them as optional, as on any ModelAdmin:
        *(DjangoUserAdmin.fieldsets or ()),
        (_("Risk operations"), {"fields": ("role", "borrower_id")}),
    )
    # Django's add form; "usable_password" off makes a login without a password (a service
    # account must be made so: UserAddForm refuses one with a password).
    add_form = UserAddForm
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "usable_password", "password1", "password2"),
            },
        ),
        (_("Risk operations"), {"fields": ("role", "borrower_id")}),
    )
    actions = [
        "deactivate_logins",
        *(_set_role_action(role) for role in Role if role != Role.BORROWER),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if obj is None else readonly + SERVICE_GOVERNED_FIELDS

    def save_model(
        self, request: HttpRequest, obj: User, form: ModelForm[User], change: bool
    ) -> None:
        """A new login is made by user_create; an edit is saved by save_related (user_update).

        The role, borrower and activation are read-only on the change form (see the actions).
        The admin runs this inside its own transaction, which user_create joins.
        """
        if change:
            return  # saved with its groups and permissions, in one audited call, below
        try:
            created = user_create(
                actor=_acting_user(request),
                username=form.cleaned_data["username"],
                password=(
                    form.cleaned_data["password1"]
                    if form.cleaned_data.get("set_usable_password", True)
                    else None
                ),
                role=form.cleaned_data["role"],
                borrower_id=form.cleaned_data.get("borrower_id"),
            )
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        # The admin goes on with `obj` (its change log, the redirect): make it the saved row.
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db

    def save_related(
        self,
        request: HttpRequest,
        form: ModelForm[User],
        formsets: list[BaseFormSet[Any]],
        change: bool,
    ) -> None:
        """An edit: the changed profile fields, groups and permissions through user_update.

        One audit row with each changed value before and after (save_model saved nothing).
        """
        if not change:
            super().save_related(request, form, formsets, change)
            return
        changed = set(form.changed_data)
        stored = User.objects.filter(pk=form.instance.pk).values(*USER_PROFILE_FIELDS).get()
        user_update(
            actor=_acting_user(request),
            user=form.instance,
            changes={
                f: form.cleaned_data[f]
                for f in USER_PROFILE_FIELDS
                if f in changed and not _same_to_the_second(stored[f], form.cleaned_data[f])
            },
            groups=form.cleaned_data["groups"] if "groups" in changed else None,
            permissions=(
                form.cleaned_data["user_permissions"] if "user_permissions" in changed else None
            ),
        )
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    @property
    def change_password_form(self) -> Any:
        """The admin's password form, calling user_set_password as this request's admin."""
        return partial(UserPasswordForm, actor=_password_form_actor.get())

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        token = _password_form_actor.set(_acting_user(request))
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_form_actor.reset(token)

    def run_service(
        self,
        request: HttpRequest,
        queryset: QuerySet[User],
        call: Callable[[User, User], User],
    ) -> None:
        """Call a durable accounts service, `call(actor, user)`, once per selected login (list
        actions are not run in a transaction, so each change is its own); refusals are shown.
        """
        actor = _acting_user(request)
        done = 0
        for user in queryset.order_by("pk"):
            try:
                call(actor, user)
            except DomainError as exc:
                self.message_user(request, f"{user.username}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext("%(count)d login updated.", "%(count)d logins updated.", done)
                % {"count": done},
            )

    @admin.action(description=_("Deactivate selected logins"))
    def deactivate_logins(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self.run_service(
            request,
            queryset,
            lambda actor, user: user_deactivate(actor=actor, user=user),
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only logs: listed and viewable, never added, changed or deleted from the admin."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "borrower_id",
        "source",
    )
    list_filter = ("source", "action")
    search_fields = ("actor_label", "action", "object_id", "reference")
    date_hierarchy = "at"
    raw_id_fields = ("actor",)


# django-axes titles its lockout column after the method, "status", in English on every page.
AccessAttemptAdmin.status.short_description = _("Status")
