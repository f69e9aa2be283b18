"""The user admin writes only through accounts.services (audit rows, role rules)."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
