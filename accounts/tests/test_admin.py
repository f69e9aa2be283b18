"""The user admin writes only through accounts.services (audit rows, role rules)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User

pytestmark = pytest.mark.django_db


def test_adding_a_login_in_the_admin_goes_through_user_create_and_is_audited(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newbie",
            "password1": "a-long-enough-passphrase-2026",
            "password2": "a-long-enough-passphrase-2026",
            "role": "analyst",
            "borrower": "",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="newbie")
    assert (user.role, user.is_staff) == ("analyst", False)
    assert user.check_password("a-long-enough-passphrase-2026")
    assert AuditEvent.objects.filter(action="user.created", object_id=str(user.pk)).exists()


def test_role_and_activation_are_read_only_on_the_change_form(client, admin_user, analyst):
    client.force_login(admin_user)

    form = client.get(reverse("admin:accounts_user_change", args=[analyst.pk])).content.decode()

    assert 'name="role"' not in form
    assert 'name="is_active"' not in form


def test_the_deactivate_action_calls_user_deactivate(client, admin_user, analyst):
    client.force_login(admin_user)

    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate_logins", "_selected_action": [analyst.pk]},
    )

    analyst.refresh_from_db()
    assert analyst.is_active is False
    assert AuditEvent.objects.filter(action="user.deactivated").count() == 1


def test_the_set_role_action_calls_user_set_role_and_refuses_ones_own_login(
    client, admin_user, analyst
):
    client.force_login(admin_user)

    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "set_role_manager", "_selected_action": [analyst.pk, admin_user.pk]},
    )

    analyst.refresh_from_db()
    admin_user.refresh_from_db()
    assert analyst.role == "manager"
    assert admin_user.role == "admin"  # CannotChangeOwnAccount, shown as a message
    assert AuditEvent.objects.filter(action="user.role_changed").count() == 1


def _change_form_data(client, user) -> dict:
    """The change form's current values, as the browser would post them back."""
    form = client.get(reverse("admin:accounts_user_change", args=[user.pk])).context["adminform"]
    data: dict[str, Any] = {}
    for name, field in form.form.fields.items():
        if field.disabled:
            continue
        value = form.form.initial.get(name, field.initial)
        if name in ("groups", "user_permissions"):
            data[name] = [getattr(v, "pk", v) for v in (value or [])]
        elif name in ("date_joined", "last_login"):
            if value:
                local = timezone.localtime(value)
                data[f"{name}_0"], data[f"{name}_1"] = f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}"
        elif value is not None:
            data[name] = value
    return data


def test_editing_a_profile_in_the_admin_is_audited_before_and_after(client, admin_user, analyst):
    client.force_login(admin_user)
    data = _change_form_data(client, analyst)
    data.update(
        first_name="Alice",
        email="alice@example.com",
        date_joined_0="2025-03-01",
        date_joined_1="09:00:00",
    )

    response = client.post(reverse("admin:accounts_user_change", args=[analyst.pk]), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    event = AuditEvent.objects.get(action="user.updated")
    assert event.actor == admin_user
    assert set(event.after) == {"first_name", "email", "date_joined"}
    assert event.after["email"] == "alice@example.com"
    assert event.before["first_name"] == ""
    assert event.after["date_joined"].startswith("2025-03-01T09:00:00")


def test_groups_and_permissions_given_in_the_admin_are_audited(client, admin_user, analyst):
    reviewers = Group.objects.create(name="reviewers")
    view_audit = Permission.objects.get(codename="view_auditevent")
    client.force_login(admin_user)
    data = _change_form_data(client, analyst)
    data.update(groups=[reviewers.pk], user_permissions=[view_audit.pk])

    client.post(reverse("admin:accounts_user_change", args=[analyst.pk]), data)

    event = AuditEvent.objects.get(action="user.updated")
    assert event.after == {"groups": ["reviewers"], "permissions": ["accounts.view_auditevent"]}
    assert list(analyst.groups.all()) == [reviewers]


def test_the_admins_password_form_is_audited_and_keeps_the_admin_signed_in(
    client, admin_user, analyst
):
    client.force_login(admin_user)
    new = "another-long-passphrase-2026"

    response = client.post(
        reverse("admin:auth_user_password_change", args=[analyst.pk]),
        {"password1": new, "password2": new, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    analyst.refresh_from_db()
    assert analyst.check_password(new)
    event = AuditEvent.objects.get(action="user.password_changed")
    assert (event.actor, event.after) == (
        admin_user,
        {"by": "administrator", "usable_password": True},
    )
    assert new not in str(event.after)
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_admin_makes_a_service_account_only_without_a_password(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_add")
    with_password = {
        "username": "core-2",
        "usable_password": "true",
        "password1": "a-long-enough-passphrase-2026",
        "password2": "a-long-enough-passphrase-2026",
        "role": "service",
    }

    refused = client.post(url, with_password)
    created = client.post(
        url, {"username": "core-2", "usable_password": "false", "role": "service"}
    )

    assert refused.status_code == 200
    assert "Service accounts have no password" in refused.content.decode()
    assert created.status_code == 302, created.content.decode()[:3000]
    assert not User.objects.get(username="core-2").has_usable_password()


def test_the_admin_cannot_give_a_service_account_a_password(client, admin_user, service_user):
    client.force_login(admin_user)
    new = "another-long-passphrase-2026"

    response = client.post(
        reverse("admin:auth_user_password_change", args=[service_user.pk]),
        {"password1": new, "password2": new, "usable_password": "true"},
    )

    assert response.status_code == 200
    assert "Service accounts have no password" in response.content.decode()
    service_user.refresh_from_db()
    assert not service_user.check_password(new)
