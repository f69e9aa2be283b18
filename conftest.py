"""The named cast every test can use: one login per role, plus an outsider with no access."""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import translation

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM use there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery"  # every cast member's password


@pytest.fixture(autouse=True)
def _language_reset():
    """Every test starts and ends in the default language: a request in Chinese leaves the
    thread's translation active, and the next test's English assertions would read Chinese."""
    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _user(django_user_model, username: str, role: str, **extra):
    return django_user_model.objects.create_user(
        username=username, password=PASSWORD, role=role, **extra
    )


@pytest.fixture
def analyst(django_user_model):
    return _user(django_user_model, "alice", "analyst")


@pytest.fixture
def senior_analyst(django_user_model):
    return _user(django_user_model, "sam", "senior_analyst")


@pytest.fixture
def manager(django_user_model):
    return _user(django_user_model, "mia", "manager")


@pytest.fixture
def approver(manager):
    """A manager: someone with approval authority (STYLE.md's named cast)."""
    return manager


@pytest.fixture
def head_of_risk(django_user_model):
    return _user(django_user_model, "hank", "head_of_risk")


@pytest.fixture
def admin_user(django_user_model):
    return _user(django_user_model, "ada", "admin", is_staff=True, is_superuser=True)


@pytest.fixture
def service_user(django_user_model):
    """The lending core's machine account, with an API token."""
    from rest_framework.authtoken.models import Token

    user = _user(django_user_model, "lending-core", "service")
    Token.objects.create(user=user)
    return user


@pytest.fixture
def outsider(django_user_model):
    """A login with no role that grants access to anything (deactivated staff)."""
    return _user(django_user_model, "oscar", "analyst", is_active=False)


@pytest.fixture
def borrower_record(db):
    """A borrower with an open line, built directly (factories build richer ones)."""
    from lending.models import Borrower, CreditLine

    tz = ZoneInfo("Asia/Shanghai")
    borrower = Borrower.objects.create(
        customer_no="C00000001",
        name="张三",
        national_id="110101199003071234",
        national_id_last4="1234",
        mobile="13800001234",
        mobile_last4="1234",
        city="Beijing",
        employer="Acme",
        income_band="5k_10k",
        registered_at=datetime(2026, 1, 5, 10, 0, tzinfo=tz),
    )
    CreditLine.objects.create(
        borrower=borrower,
        credit_limit=Decimal("20000.00"),
        daily_rate=Decimal("0.000500"),
        opened_at=datetime(2026, 1, 5, 10, 0, tzinfo=tz),
    )
    return borrower


@pytest.fixture
def borrower_user(django_user_model, borrower_record):
    return _user(django_user_model, "bella", "borrower", borrower_id=borrower_record.pk)
