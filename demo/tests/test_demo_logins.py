"""The demo logins: the published password never on the production profile, and the service
account without a password anywhere."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from demo.seeding import (
    DEMO_PASSWORD,
    SERVICE_USERNAME,
    STAFF_LOGINS,
    DemoPasswordRefused,
    ensure_staff_logins,
)

pytestmark = pytest.mark.django_db

OWN_PASSWORD = "orchid-lantern-harbour-2026"  # noqa: S105 (a test password)


@pytest.fixture
def production(settings):
    """As a real production process (outside tests)."""
    settings.PROFILE = "production"
    settings.TESTING = False


def test_the_production_profile_refuses_demo_logins_with_the_published_password(
    production, monkeypatch
):
    monkeypatch.delenv("RISKOPS_DEMO_PASSWORD", raising=False)

    with pytest.raises(DemoPasswordRefused, match="RISKOPS_DEMO_PASSWORD"):
        ensure_staff_logins()

    assert not User.objects.exists()


def test_the_production_profile_refuses_the_published_password_given_explicitly(
    production, monkeypatch
):
    monkeypatch.setenv("RISKOPS_DEMO_PASSWORD", DEMO_PASSWORD)

    with pytest.raises(DemoPasswordRefused):
        ensure_staff_logins()


def test_seed_demo_on_the_production_profile_stops_with_the_reason(production, monkeypatch):
    monkeypatch.delenv("RISKOPS_DEMO_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="published demo password"):
        call_command("seed_demo", "--borrowers", "1", "--months", "1")

    assert not User.objects.exists()


def test_the_production_profile_takes_an_explicit_password(production, monkeypatch):
    monkeypatch.setenv("RISKOPS_DEMO_PASSWORD", OWN_PASSWORD)

    service, token = ensure_staff_logins()

    for username, _ in STAFF_LOGINS:
        user = User.objects.get(username=username)
        assert user.check_password(OWN_PASSWORD)
        assert not user.check_password(DEMO_PASSWORD)
    assert not service.has_usable_password()
    assert len(token) == 40


def test_the_service_account_gets_no_password_in_the_demo_either():
    service, _ = ensure_staff_logins()

    assert service.username == SERVICE_USERNAME
    assert not service.has_usable_password()
    assert User.objects.get(username="analyst").check_password(DEMO_PASSWORD)
