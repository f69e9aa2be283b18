from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_a_session_lasts_one_working_day(settings):
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True  # idle time, not time since login
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_an_idle_session_expires_and_the_admin_asks_to_log_in_again(client, admin_user, settings):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(admin_user)
        assert client.get("/admin/").status_code == 200

    # Seven idle hours later, still logged in; the visit renews the session.
    with time_machine.travel(start + timedelta(hours=7), tick=False):
        assert client.get("/admin/").status_code == 200

    later = start + timedelta(hours=7, seconds=settings.SESSION_COOKIE_AGE + 60)
    with time_machine.travel(later, tick=False):
        response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_an_idle_session_on_the_home_page_sends_the_analyst_back_to_the_login_page(
    client, analyst, settings
):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(analyst)
        assert client.get("/").status_code == 200

    expired = start + timedelta(seconds=settings.SESSION_COOKIE_AGE + 1)
    with time_machine.travel(expired, tick=False):
        response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"
