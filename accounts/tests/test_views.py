"""Login, logout, password change, lockout, the navigation by role and the language switch."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

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
