"""Events as the lending core posts them (JSON-like dicts), one factory per kind.

Defaults fit the root conftest's `borrower_record` (customer C00000001, line opened
2026-01-05, ¥20,000 at 0.05%/day): a drawdown on 1 February falls due on the 1st of each
month, so a repayment on 1 March pays the first instalment.
"""

from __future__ import annotations

import factory

CUSTOMER_NO = "C00000001"


class EventFactory(factory.DictFactory):
    event_id = factory.Sequence(lambda n: f"evt-{n:06d}")
    customer_no = CUSTOMER_NO


class LineOpenedEventFactory(EventFactory):
    kind = "line_opened"
    occurred_at = "2026-01-10T09:00:00+08:00"
    customer_no = factory.Sequence(lambda n: f"C7{n:07d}")
    name = "李四"
    national_id = "11010119900307123X"
    mobile = factory.Sequence(lambda n: f"139{n:08d}")
    city = "Shanghai"
    employer = "Acme Trading"
    income_band = "5k_10k"
    credit_limit = "30000.00"
    daily_rate = "0.000500"


class DrawdownEventFactory(EventFactory):
    kind = "drawdown"
    occurred_at = "2026-02-01T10:00:00+08:00"
    loan_no = factory.Sequence(lambda n: f"L{n:08d}")
    amount = "6000.00"
    term_months = 6
    repayment_mode = "equal_principal"
    purpose = "daily"
    card_no = "6222020000001234"
    bank_name = "ICBC"
    device_id = "dev-aaaa"


class RepaymentEventFactory(EventFactory):
    kind = "repayment"
    occurred_at = "2026-03-01T12:00:00+08:00"
    loan_no = "L00000000"
    amount = "1091.25"  # the first instalment of the default drawdown, exactly


class LoginEventFactory(EventFactory):
    kind = "login"
    occurred_at = "2026-02-02T23:10:00+08:00"
    device_id = "dev-bbbb"
    platform = "android"
    ip = "10.1.2.3"


class DeviceChangeEventFactory(EventFactory):
    kind = "device_change"
    occurred_at = "2026-02-03T08:00:00+08:00"
    device_id = "dev-cccc"
    platform = "ios"


class BankAccountChangeEventFactory(EventFactory):
    kind = "bank_account_change"
    occurred_at = "2026-02-04T08:00:00+08:00"
    card_no = "6228480000005678"
    bank_name = "ABC"


class TransferOutEventFactory(EventFactory):
    kind = "transfer_out"
    occurred_at = "2026-02-01T10:20:00+08:00"
    amount = "5800.00"
    counterparty_name = "某某小贷"
    counterparty_account = "6217000000009999"
    counterparty_is_lender = True
