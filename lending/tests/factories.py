"""Factories for the lending book, built through the real services (so lines, schedules and
derived fields are exactly what production would hold)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import factory

from lending.models import Borrower, Drawdown
from lending.services import borrower_register, drawdown_create

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time, the way the lending core reports it."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


class BorrowerFactory(factory.Factory):
    """A registered borrower with an active line (through borrower_register)."""

    class Meta:
        model = Borrower

    customer_no = factory.Sequence(lambda n: f"F{n:08d}")
    name = factory.Sequence(lambda n: f"王{'一二三四五六七八九十'[n % 10]}")
    # 6-digit region + birth date + 4 digits: 18 characters, like a real resident ID.
    national_id = factory.Sequence(lambda n: f"31010119850612{n % 10000:04d}")
    mobile = factory.Sequence(lambda n: f"139{n % 100000000:08d}")
    city = factory.Iterator(["Shanghai", "Beijing", "Shenzhen", "Chengdu"])
    employer = "Example Co."
    income_band = "5k_10k"
    registered_at = factory.LazyFunction(lambda: at(2026, 1, 2))
    credit_limit = Decimal("20000.00")
    daily_rate = Decimal("0.000500")
    opened_at = None

    @classmethod
    def _create(cls, model_class: type[Borrower], *args: Any, **kwargs: Any) -> Borrower:
        return borrower_register(actor=kwargs.pop("actor", None), **kwargs)


class DrawdownFactory(factory.Factory):
    """A drawdown on a (new) borrower's line (through drawdown_create)."""

    class Meta:
        model = Drawdown

    borrower = factory.SubFactory(BorrowerFactory)
    loan_no = factory.Sequence(lambda n: f"L{n:08d}")
    amount = Decimal("10000.00")
    term_months = 12
    repayment_mode = "equal_instalment"
    purpose = "daily"
    card_no = factory.Sequence(lambda n: f"622202{n % 10000000000:010d}")
    bank_name = "ICBC"
    device_id = None
    daily_rate = None
    disbursed_at = factory.LazyFunction(lambda: at(2026, 1, 10))

    @classmethod
    def _create(cls, model_class: type[Drawdown], *args: Any, **kwargs: Any) -> Drawdown:
        return drawdown_create(actor=kwargs.pop("actor", None), **kwargs)


def borrower_with_drawdown(
    *, credit_limit: Decimal = Decimal("20000.00"), **drawdown: Any
) -> tuple[Borrower, Drawdown]:
    """A new borrower who has drawn one loan (¥10,000 over 12 months by default)."""
    borrower = BorrowerFactory(credit_limit=credit_limit)
    loan = DrawdownFactory(borrower=borrower, **drawdown)
    return borrower, loan
