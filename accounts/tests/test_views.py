"""Login, logout, password change, lockout, the navigation by role and the language switch."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from accounts.models import AuditEvent
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def _login(client, username, password=PASSWORD, **extra):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password, **extra}
    )


def test_login_page_renders_for_anonymous_visitors(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert 'autocomplete="current-password"' in response.content.decode()


@pytest.mark.parametrize(
    "role", ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]
)
def test_staff_land_on_the_home_page_after_login(client, request, role):
    user = request.getfixturevalue(role)
    response = _login(client, user.username)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_staff_login_follows_next(client, analyst):
    response = _login(client, analyst.username, next=reverse("lending:borrower-list"))
    assert response["Location"] == reverse("lending:borrower-list")


def test_borrower_lands_on_their_own_line_whatever_next_says(client, borrower_user):
    response = _login(client, borrower_user.username, next=reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("lending:my-line")


def test_inactive_outsider_cannot_log_in(client, outsider):
    response = _login(client, outsider.username)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("home")).status_code == 302


def test_wrong_password_is_refused_with_a_message(client, analyst):
    response = _login(client, analyst.username, "not-the-password")
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session


def test_five_failures_lock_the_account_even_for_the_right_password(client, analyst):
    for _ in range(5):
        _login(client, analyst.username, "not-the-password")
    response = _login(client, analyst.username)
    assert response.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in response.templates]
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_username(client, analyst, manager):
    for _ in range(5):
        _login(client, analyst.username, "not-the-password")
    assert _login(client, manager.username).status_code == 302


def test_logout_is_post_only_and_ends_the_session(client, analyst):
    client.force_login(analyst)
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")
    assert client.get(reverse("home")).status_code == 302


def test_password_change_needs_login(client):
    response = client.get(reverse("accounts:password-change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("role", ["analyst", "borrower_user"])
def test_password_change_and_done(client, request, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    assert client.get(reverse("accounts:password-change")).status_code == 200
    new = "a-much-longer-passphrase-2026"
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response["Location"] == reverse("accounts:password-change-done")
    assert client.get(response["Location"]).status_code == 200
    user.refresh_from_db()
    assert user.check_password(new)


def test_password_change_refuses_a_weak_password(client, analyst):
    client.force_login(analyst)
    response = client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors


def test_staff_navigation_shows_their_pages(client, analyst):
    client.force_login(analyst)
    html = client.get(reverse("home")).content.decode()
    assert reverse("lending:borrower-list") in html
    assert reverse("api-docs") in html
    assert reverse("admin:index") not in html
    assert "Risk analyst" in html and "alice" in html


def test_admin_navigation_adds_django_admin(client, admin_user):
    client.force_login(admin_user)
    assert reverse("admin:index") in client.get(reverse("home")).content.decode()


def test_borrower_navigation_shows_only_my_line(client, borrower_user):
    client.force_login(borrower_user)
    html = client.get(reverse("lending:my-line")).content.decode()
    assert reverse("lending:my-line") in html
    assert f'href="{reverse("lending:borrower-list")}"' not in html
    assert reverse("api-docs") not in html


def test_language_switch_renders_chinese(client, analyst):
    client.force_login(analyst)
    response = client.post(
        reverse("set_language"),
        {"language": "zh-hans", "next": reverse("accounts:password-change")},
    )
    assert response.status_code == 302
    html = client.get(reverse("accounts:password-change")).content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "旧密码" in html  # Django's own catalogue: the form label "Old password"
    assert 'aria-pressed="true">简体中文' in html


def test_browser_language_is_honoured(client):
    html = client.get(
        reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9"
    ).content.decode()
    assert '<html lang="zh-Hans">' in html
    assert "用户名" in html  # "Username"


# Sign-ins and passwords leave audit rows -------------------------------------------------------


def _auth_rows(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_a_sign_in_is_recorded_with_the_address_and_request_id(client, analyst):
    client.post(
        reverse("accounts:login"),
        {"username": analyst.username, "password": PASSWORD},
        REMOTE_ADDR="192.0.2.10",
        HTTP_X_REQUEST_ID="req-login-1",
    )

    (row,) = _auth_rows("auth.login")
    assert (row.actor, row.object_id) == (analyst, str(analyst.pk))
    assert (row.ip_address, row.reference) == ("192.0.2.10", "request:req-login-1")


def test_a_sign_out_is_recorded(client, analyst):
    client.force_login(analyst)
    client.post(reverse("accounts:logout"))

    (row,) = _auth_rows("auth.logout")
    assert row.actor == analyst


@pytest.mark.parametrize("known", [True, False])
def test_a_refused_sign_in_is_recorded_without_the_password_or_a_typed_unknown_name(
    client, analyst, known
):
    typed = analyst.username if known else "my-secret-passphrase"  # a password in the wrong box
    client.post(
        reverse("accounts:login"),
        {"username": typed, "password": "Tr0ub4dor&3-not-hers"},
        REMOTE_ADDR="192.0.2.11",
    )

    (row,) = _auth_rows("auth.login_failed")
    assert (row.actor, row.actor_label, row.ip_address) == (None, "anonymous", "192.0.2.11")
    assert row.after == {"username_known": known}
    assert row.object_id == (str(analyst.pk) if known else "")
    text = f"{row.before} {row.after} {row.note} {row.object_id} {row.reference}"
    assert "Tr0ub4dor" not in text and "my-secret-passphrase" not in text


def test_a_locked_out_attempt_is_recorded_too(client, analyst):
    for _ in range(6):
        _login(client, analyst.username, "not-the-password")

    assert len(_auth_rows("auth.login_failed")) == 6


def test_a_service_account_cannot_sign_in_to_the_pages_even_with_a_password(client, service_user):
    # conftest's service account still has a password (made before accounts 0003 took them).
    assert service_user.check_password(PASSWORD)

    response = _login(client, service_user.username)

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert "_auth_user_id" not in client.session
    assert len(_auth_rows("auth.login_failed")) == 1
    assert client.get(reverse("admin:login")).status_code == 200  # the admin's form alike:
    client.post(reverse("admin:login"), {"username": "lending-core", "password": PASSWORD})
    assert "_auth_user_id" not in client.session


def test_the_password_change_page_records_the_change_and_keeps_the_session(client, analyst):
    client.force_login(analyst)
    new = "a-much-longer-passphrase-2026"

    client.post(
        reverse("accounts:password-change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )

    (row,) = _auth_rows("user.password_changed")
    assert (row.actor, row.after) == (analyst, {"by": "self", "usable_password": True})
    assert new not in str(row.after)
    assert client.get(reverse("home")).status_code == 200  # still signed in


def test_changepassword_goes_through_the_service(analyst, monkeypatch):
    from accounts.management.commands import changepassword

    monkeypatch.setattr(changepassword.getpass, "getpass", lambda prompt="": "a-new-passphrase-77")

    call_command("changepassword", analyst.username, stdout=io.StringIO())

    (row,) = _auth_rows("user.password_changed")
    assert (row.actor, row.source, row.after["by"]) == (None, "command", "system")
    analyst.refresh_from_db()
    assert analyst.check_password("a-new-passphrase-77")
