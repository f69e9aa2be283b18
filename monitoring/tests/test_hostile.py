"""Hostile input to POST /api/v1/events/.

Each test is an attack that once booked money (200) or crashed the API (500). Each must now
answer 400, or 413 for a body over the size limit, in the API's one error shape (core.api),
and record nothing. The API is driven through DRF's test client, and through Django's with
raw bytes where the body itself is the attack. The clock stands at conftest.NOW.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lending import services as lending
from lending.errors import InvalidDate
from lending.models import BankAccount, Borrower, CreditLine, Drawdown, Repayment
from monitoring.models import Event
from monitoring.tests.conftest import NOW
from monitoring.tests.factories import (
    BankAccountChangeEventFactory,
    DeviceChangeEventFactory,
    DrawdownEventFactory,
    LineOpenedEventFactory,
    LoginEventFactory,
    RepaymentEventFactory,
    TransferOutEventFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/events/"
# The one error shape (core.api), and what each problem of an event batch carries.
ERROR_KEYS = {"message", "code", "extra", "errors"}
EVENT_ERROR_KEYS = {"index", "event_id", "field", "code", "message"}
EVERY_KIND = [
    LineOpenedEventFactory,
    DrawdownEventFactory,
    RepaymentEventFactory,
    LoginEventFactory,
    DeviceChangeEventFactory,
    BankAccountChangeEventFactory,
    TransferOutEventFactory,
]


def _client(user: Any = None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def lending_core(service_user) -> APIClient:
    return _client(service_user)


@pytest.fixture
def raw_post(service_user):
    """POST raw bytes as application/json with the service account's token."""
    client = Client()
    authorization = f"Token {service_user.auth_token.key}"

    def post(body: bytes, content_type: str = "application/json") -> Any:
        return client.post(
            URL, data=body, content_type=content_type, HTTP_AUTHORIZATION=authorization
        )

    return post


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The body of an error answer, checked to have the one shape, the status and the code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["extra"], dict)
    assert all(set(item) == EVENT_ERROR_KEYS for item in body["errors"]), body["errors"]
    return body


def _problems(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(e["index"], e["field"], e["code"]) for e in body["errors"]]


def _when(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


# --- a date books money ------------------------------------------------------------------------


def test_a_repayment_dated_in_year_9999_is_refused_and_accrues_no_penalty(
    borrower_record, lending_core
):
    drawdown = DrawdownEventFactory()
    assert lending_core.post(URL, drawdown, format="json").status_code == 200
    attack = RepaymentEventFactory(
        loan_no=drawdown["loan_no"], amount="1.00", occurred_at="9999-12-31T23:00+08:00"
    )

    response = lending_core.post(URL, attack, format="json")

    body = _error(response, 400, "invalid_events")
    assert _problems(body) == [(0, "occurred_at", "in_future")]
    assert body["errors"][0]["event_id"] == attack["event_id"]
    assert not Repayment.objects.exists()
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("occurred_at", "code"),
    [
        # Year 1 at midnight in Shanghai is in year 0 in UTC: no date can hold it.
        ("0001-01-01T00:00:00+08:00", "overflow"),
        ("0001-06-01T10:00:00+08:00", "too_old"),  # put the line in M7 at once
        ("1900-01-01T10:00:00+08:00", "too_old"),
        ("2100-01-01T10:00:00+08:00", "in_future"),
        # A 36-month schedule from here runs past 31 December 9999 (a ValueError, 500):
        ("9999-06-01T10:00:00+08:00", "in_future"),
        # The line opened on 5 January 2026 at 10:00 (conftest.borrower_record).
        ("2026-01-05T09:59:59+08:00", "before_line_opened"),
    ],
)
def test_a_drawdown_dated_when_it_cannot_have_happened_is_refused(
    borrower_record, lending_core, occurred_at, code
):
    event = DrawdownEventFactory(occurred_at=occurred_at, term_months=36)

    response = lending_core.post(URL, event, format="json")

    body = _error(response, 400, "invalid_events")
    assert _problems(body) == [(0, "occurred_at", code)]
    assert not Drawdown.objects.exists()
    line = CreditLine.objects.get(borrower=borrower_record)
    assert (line.used, line.oldest_unpaid_due) == (Decimal("0.00"), None)


@pytest.mark.parametrize("factory", EVERY_KIND, ids=lambda f: f.kind)
def test_any_event_dated_in_the_future_or_past_the_backdating_limit_is_refused(
    borrower_record, lending_core, factory
):
    future = factory(occurred_at=_when(timedelta(seconds=301)))
    ancient = factory(occurred_at=_when(-timedelta(days=400, seconds=1)))

    response = lending_core.post(URL, {"events": [future, ancient]}, format="json")

    body = _error(response, 400, "invalid_events")
    assert _problems(body) == [(0, "occurred_at", "in_future"), (1, "occurred_at", "too_old")]
    assert not Event.objects.exists()


def test_the_window_runs_from_the_backdating_limit_to_now_plus_the_clock_skew(
    borrower_record, lending_core
):
    events = [
        LoginEventFactory(occurred_at=_when(timedelta(seconds=300))),
        LoginEventFactory(occurred_at=_when(-timedelta(days=400))),
    ]

    response = lending_core.post(URL, {"events": events}, format="json")

    assert response.status_code == 200, response.json()


def test_the_window_comes_from_the_settings(borrower_record, lending_core, settings):
    settings.RISKOPS_EVENT_BACKDATE_DAYS = 10
    settings.RISKOPS_EVENT_CLOCK_SKEW_SECONDS = 0
    events = [
        LoginEventFactory(occurred_at=_when(-timedelta(days=10, seconds=1))),
        LoginEventFactory(occurred_at=_when(timedelta(seconds=1))),
        LoginEventFactory(occurred_at=_when(timedelta(0))),
    ]

    response = lending_core.post(URL, {"events": events}, format="json")

    body = _error(response, 400, "invalid_events")
    assert _problems(body) == [(0, "occurred_at", "too_old"), (1, "occurred_at", "in_future")]


def test_a_drawdown_before_its_line_opened_in_the_same_batch_is_refused(lending_core):
    opened = LineOpenedEventFactory()  # 10 January 2026, 09:00
    drawdown = DrawdownEventFactory(
        customer_no=opened["customer_no"], occurred_at="2026-01-10T08:59:00+08:00"
    )

    response = lending_core.post(URL, {"events": [opened, drawdown]}, format="json")

    body = _error(response, 400, "invalid_events")
    assert _problems(body) == [(1, "occurred_at", "before_line_opened")]
    assert not Borrower.objects.exists()


def test_a_repayment_before_its_loan_was_paid_out_is_refused(borrower_record, lending_core):
    drawdown = DrawdownEventFactory()  # 1 February 2026, 10:00
    early = RepaymentEventFactory(
        loan_no=drawdown["loan_no"], occurred_at="2026-02-01T09:00:00+08:00"
    )

    in_one_batch = lending_core.post(URL, {"events": [drawdown, early]}, format="json")
    assert lending_core.post(URL, drawdown, format="json").status_code == 200
    later = lending_core.post(URL, early, format="json")

    for response, index in ((in_one_batch, 1), (later, 0)):
        body = _error(response, 400, "invalid_events")
        assert _problems(body) == [(index, "occurred_at", "before_disbursement")]
    assert not Repayment.objects.exists()


def test_an_event_recorded_before_still_replays_once_past_the_backdating_limit(
    borrower_record, lending_core
):
    login = LoginEventFactory()
    first = lending_core.post(URL, login, format="json").json()["results"][0]

    with time_machine.travel(NOW + timedelta(days=800), tick=False):
        again = lending_core.post(URL, login, format="json")

    assert again.status_code == 200
    assert again.json()["results"] == [{**first, "status": "replayed"}]


def test_the_book_refuses_a_future_or_premature_time_from_any_caller(borrower_record):
    """The lending services check what they can themselves: not in the future, a drawdown
    not before its line opened (the API checks the back-dating limit too)."""
    drawdown = {
        "actor": None,
        "borrower": borrower_record,
        "amount": Decimal("100.00"),
        "term_months": 36,
        "repayment_mode": "equal_instalment",
        "purpose": "daily",
        "card_no": "6222020000001234",
        "bank_name": "ICBC",
    }
    line_opened = borrower_record.line.opened_at

    for n, when in enumerate([NOW + timedelta(days=3), line_opened - timedelta(seconds=1)]):
        with pytest.raises(InvalidDate):
            lending.drawdown_create(loan_no=f"L-{n}", disbursed_at=when, **drawdown)
    with pytest.raises(InvalidDate):
        lending.bank_account_seen(
            actor=None,
            borrower=borrower_record,
            card_no="6222020000009999",
            bank_name="ICBC",
            seen_at=NOW + timedelta(days=1),
        )
    assert not Drawdown.objects.exists()
    assert not BankAccount.objects.exists()


# --- bodies that crashed the API ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000, id="nested 100,000 deep (a RecursionError)"),
        pytest.param(b'{"events": ' + b"[" * 30 + b"]" * 30 + b"}", id="nested 31 deep"),
        pytest.param(b'{"events": [', id="cut short"),
        pytest.param(b'\xff\xfe{"events": []}', id="not UTF-8"),
        pytest.param(b'{"events": [{"amount": NaN}]}', id="NaN"),
        pytest.param(b'{"events": [{"amount": Infinity}]}', id="Infinity"),
        pytest.param(b'{"events": [{"amount": -Infinity}]}', id="-Infinity"),
        pytest.param(b'{"term_months": ' + b"9" * 5000 + b"}", id="a 5,000-digit integer"),
        pytest.param(b'{"amount": "1.00", "amount": "9000.00"}', id="a key twice"),
    ],
)
def test_a_body_that_is_not_plain_json_answers_400_in_the_error_shape(
    borrower_record, raw_post, body
):
    response = raw_post(body)

    _error(response, 400, "parse_error")
    assert not Event.objects.exists()


@pytest.mark.parametrize("where", ["kind", "event_id", "customer_no", "an unknown key", "nested"])
def test_a_lone_surrogate_anywhere_in_the_body_answers_400(borrower_record, raw_post, where):
    event: dict[str, Any] = LoginEventFactory()
    if where == "an unknown key":
        event["\ud800"] = "x"
    elif where == "nested":
        event["platform"] = [{"deeper": "\udfff"}]
    else:
        event[where] = "\ud800"
    # json.dumps escapes it as ASCII (\ud800), the only way such a string travels in JSON.
    body = json.dumps({"events": [event]}).encode()

    response = raw_post(body)

    body_answered = _error(response, 400, "parse_error")
    assert "\ud800" not in body_answered["message"]
    assert not Event.objects.exists()


def test_a_surrogate_pair_is_text_and_accepted(raw_post):
    opened = LineOpenedEventFactory(name="张三\U0001f600")  # sent as the pair \ud83d\ude00

    response = raw_post(json.dumps(opened).encode())

    assert response.status_code == 200, response.content
    assert Borrower.objects.get().name == "张三\U0001f600"


def test_a_body_over_the_size_limit_answers_413_in_the_error_shape(
    borrower_record, raw_post, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"events": [LoginEventFactory() for _ in range(100)]}).encode()
    assert len(body) > 10_000

    response = raw_post(body)

    answered = _error(response, 413, "too_large")
    assert answered["extra"] == {"max_bytes": 10_000}
    assert not Event.objects.exists()


def test_a_full_batch_of_the_longest_events_fits_the_size_limit(raw_post):
    # One event 1,000 times: the body is full-size, but only the first is applied (the rest
    # replay it within the batch), which keeps the test quick.
    longest = LineOpenedEventFactory(name="龘" * 64, city="龘" * 32, employer="龘" * 100)
    body = json.dumps({"events": [longest] * 1000}, indent=2).encode()  # \u-escaped, indented
    assert len(body) > 1_500_000

    response = raw_post(body)

    assert response.status_code == 200, response.content[:500]
    assert len(response.json()["results"]) == 1000


# --- other scripts' digits, lenient numbers ----------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "field", "value"),
    [
        (
            LineOpenedEventFactory,
            "national_id",
            "１１０１０１１９９００３０７１２３X",
        ),  # full-width
        (LineOpenedEventFactory, "national_id", "١١٠١٠١١٩٩٠٠٣٠٧١٢٣X"),  # Arabic-Indic
        (LineOpenedEventFactory, "mobile", "１３９００００１２３４"),
        (LineOpenedEventFactory, "mobile", "١٣٩٠٠٠٠١٢٣٤"),
        (LineOpenedEventFactory, "credit_limit", "３００００.００"),
        (LineOpenedEventFactory, "credit_limit", "30_000"),
        (LineOpenedEventFactory, "daily_rate", "5E-4"),
        (DrawdownEventFactory, "card_no", "６２２２０２００００００１２３４"),
        (DrawdownEventFactory, "amount", "٦٠٠٠"),
        (DrawdownEventFactory, "amount", "6_000"),
        (DrawdownEventFactory, "amount", "6e3"),
        (DrawdownEventFactory, "amount", "+6000"),
        (DrawdownEventFactory, "amount", "NaN"),
        (DrawdownEventFactory, "amount", "Infinity"),
        (DrawdownEventFactory, "amount", "-Infinity"),
        (DrawdownEventFactory, "amount", "6000.001"),
        (DrawdownEventFactory, "amount", True),
        (DrawdownEventFactory, "term_months", "６"),
        (DrawdownEventFactory, "term_months", "1_2"),
        (DrawdownEventFactory, "term_months", "6.0"),
        (RepaymentEventFactory, "card_no", "٦٢٢٢٠٢٠٠٠٠٠٠١٢٣٤"),
        (RepaymentEventFactory, "amount", "１０９１.２５"),
        (TransferOutEventFactory, "amount", "5_800"),
        (LoginEventFactory, "occurred_at", "２０２６-02-02T23:10:00+08:00"),
    ],
)
def test_digits_of_other_scripts_and_lenient_numbers_are_refused(
    borrower_record, lending_core, factory, field, value
):
    event = factory(**{field: value})

    response = lending_core.post(URL, event, format="json")

    body = _error(response, 400, "invalid_events")
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, field)]
    assert not Event.objects.exists()


@pytest.mark.parametrize("number", ["6e3", "6E+3", "6000.001"])
def test_a_json_number_with_an_exponent_or_three_decimals_is_refused(
    borrower_record, raw_post, number
):
    text = json.dumps(DrawdownEventFactory(amount="AMOUNT")).replace('"AMOUNT"', number)

    body = _error(raw_post(text.encode()), 400, "invalid_events")

    assert [(e["index"], e["field"]) for e in body["errors"]] == [(0, "amount")]


def test_a_json_number_amount_is_read_exactly(borrower_record, lending_core, raw_post):
    drawdown = DrawdownEventFactory()
    assert lending_core.post(URL, drawdown, format="json").status_code == 200
    repayment = RepaymentEventFactory(loan_no=drawdown["loan_no"], amount="AMOUNT")
    text = json.dumps(repayment).replace('"AMOUNT"', "1091.25")

    response = raw_post(text.encode())

    assert response.status_code == 200, response.content
    assert Repayment.objects.get().amount == Decimal("1091.25")


# --- one error shape ---------------------------------------------------------------------------


def test_every_error_the_event_api_answers_has_the_one_shape(
    borrower_record, lending_core, analyst
):
    answers = [
        (APIClient().post(URL, LoginEventFactory(), format="json"), 401, "not_authenticated"),
        (_client(analyst).post(URL, LoginEventFactory(), format="json"), 403, "permission_denied"),
        (lending_core.get(URL), 405, "method_not_allowed"),
        (
            lending_core.post(URL, "x=1", content_type="application/x-www-form-urlencoded"),
            415,
            "unsupported_media_type",
        ),
        (lending_core.post(URL, {"events": []}, format="json"), 400, "invalid_events"),
        (
            lending_core.post(
                URL, {"events": [LoginEventFactory()], "colour": "red"}, format="json"
            ),
            400,
            "invalid_events",
        ),
        (
            lending_core.post(URL, DrawdownEventFactory(amount="50000.00"), format="json"),
            409,
            "events_refused",
        ),
    ]

    for response, status, code in answers:
        _error(response, status, code)
    assert answers[0][0]["WWW-Authenticate"] == "Token"
    assert _problems(answers[5][0].json()) == [(None, "colour", "unknown_field")]


def test_the_other_api_endpoints_answer_errors_in_the_one_shape(lending_core):
    for response, status, code in [
        (lending_core.post("/api/schema/"), 405, "method_not_allowed"),  # YAML by default
        (lending_core.get("/api/schema/?format=nonsense"), 404, "not_found"),
    ]:
        _error(response, status, code)


def test_the_readme_describes_the_error_shape_the_api_answers(lending_core):
    readme = Path(settings.BASE_DIR, "README.md").read_text(encoding="utf-8")
    api_section = readme.split("## API", 1)[1].split("\n## ", 1)[0]
    [shape] = re.findall(r"`(\{\"message\".*?\})`", api_section)
    documented = set(re.findall(r'"(\w+)":', shape))
    item = set(re.findall(r'"(\w+)"', shape.split('"errors":', 1)[1]))

    body = _error(lending_core.post(URL, {"events": []}, format="json"), 400, "invalid_events")

    assert documented == set(body) == ERROR_KEYS
    assert item | {"index", "event_id"} == set(body["errors"][0]) == EVENT_ERROR_KEYS
    assert "index" in api_section
    assert "event_id" in api_section
