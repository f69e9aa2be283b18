"""The champion / challenger report on a small book built by hand: two borrowers fall behind
after their scores, three do not, and every figure is worked out here independently."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from itertools import product

import pytest
import time_machine
from django.urls import reverse

from decisions.choices import ModelStatus
from decisions.models import Score, ScorecardModel
from decisions.services import scorecard_set_status, scorecard_store
from decisions.tests.test_scoring import _result
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 20, 12)
OBSERVED = date(2026, 7, 1)  # the scores compared: 142 days before NOW, so matured at 90
STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]
NOT_STAFF = ["borrower_user", "service_user"]

# Each borrower's scores on OBSERVED by the champion (v1) and the challenger (v2), and which
# of the two acted for them (the challenger's share).
TOTALS = {
    "bad_early": (550, 650),  # unpaid loan of 1 June: 30+ on 31 July, 90+ on 29 September
    "bad_late": (610, 590),  # unpaid loan of 15 June: 30+ on 14 August, 90+ after the window
    "good_a": (640, 600),
    "good_b": (670, 680),
    "good_c": (700, 720),  # borrows only on 1 October: its first instalment falls due later
}
CHALLENGER_ACTS_FOR = {"good_b", "good_c"}


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def book():
    champion = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="30+")
    champion = scorecard_set_status(actor=None, model=champion, status=ModelStatus.CHAMPION)
    challenger = scorecard_store(actor=None, name="book", result=_result((310, 190)), target="30+")
    challenger = scorecard_set_status(actor=None, model=challenger, status=ModelStatus.CHALLENGER)
    borrowers = {name: BorrowerFactory(registered_at=at(2026, 1, 2)) for name in TOTALS}
    for name, day in (("bad_early", at(2026, 6, 1)), ("bad_late", at(2026, 6, 15))):
        DrawdownFactory(borrower=borrowers[name], amount=Decimal("3000.00"), disbursed_at=day)
    DrawdownFactory(
        borrower=borrowers["good_c"], amount=Decimal("3000.00"), disbursed_at=at(2026, 10, 1)
    )
    Score.objects.all().delete()  # whatever the book's events scored
    for name, (v1, v2) in TOTALS.items():
        acting_v2 = name in CHALLENGER_ACTS_FOR
        for model, total, acting in ((champion, v1, not acting_v2), (challenger, v2, acting_v2)):
            _score(borrowers[name], model, total, OBSERVED, acting)
    # An older score of each model is superseded by the one on OBSERVED; one too recent to
    # have matured is left out.
    _score(borrowers["bad_early"], champion, 720, date(2026, 6, 1), True)
    _score(borrowers["bad_early"], challenger, 720, date(2026, 6, 1), False)
    _score(borrowers["bad_late"], champion, 800, date(2026, 11, 1), True)
    return champion, challenger


def _score(borrower, model, total, as_of, acting) -> None:
    Score.objects.create(
        borrower=borrower,
        model=model,
        total=total,
        inputs={},
        acting=acting,
        as_of=as_of,
        scored_at=at(as_of.year, as_of.month, as_of.day, 2),
    )


def _auc_by_pairs(bads: list[int], goods: list[int]) -> float:
    """The share of (bad, good) pairs the score orders right (good higher), ties half."""
    wins = sum(1.0 if g > b else 0.5 if g == b else 0.0 for b, g in product(bads, goods))
    return wins / (len(bads) * len(goods))


def _rows(html: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2) for m in re.finditer(r'<tr id="(cmp-[\w-]+)">(.*?)</tr>', html, re.S)
    }


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
    ]


def test_the_report_opens_on_the_champion_and_its_challenger_at_30_days(client, analyst, book):
    champion, challenger = book
    client.force_login(analyst)

    html = client.get(reverse("decisions:model-comparison")).content.decode()

    rows = _rows(html)
    v1, v2 = _cells(rows["cmp-1"]), _cells(rows["cmp-2"])
    assert v1[0] == "book v1" and v2[0] == "book v2"
    # Two of five went 30+ past due in the 90 days after 1 July: 40% for both models.
    assert v1[2:5] == ["5", "2", "40.0%"] and v2[2:5] == ["5", "2", "40.0%"]
    bads = ["bad_early", "bad_late"]
    goods = ["good_a", "good_b", "good_c"]
    auc_v1 = _auc_by_pairs([TOTALS[n][0] for n in bads], [TOTALS[n][0] for n in goods])
    auc_v2 = _auc_by_pairs([TOTALS[n][1] for n in bads], [TOTALS[n][1] for n in goods])
    assert (auc_v1, round(auc_v2, 3)) == (1.0, 0.833)
    assert v1[5] == f"{auc_v1:.3f}" and v2[5] == f"{auc_v2:.3f}"
    # KS: v1 separates perfectly; v2 at the cut between 650 and 680 catches both bads and
    # one good in three: 1 - 1/3.
    assert v1[6] == "1.000" and v2[6] == f"{1 - 1 / 3:.3f}"
    # The acting split: the challenger acted for two borrowers, the champion for three.
    assert (v1[7], v2[7]) == ("3", "2")

    # By band (policy defaults: A 660+, B 630+, C 600+, D 570+, E below):
    # v1: A {670, 700} none bad; B {640} good; C {610} bad; D none; E {550} bad.
    # v2: A {680, 720} none bad; B {650} bad; C {600} good; D {590} bad; E none.
    expected = {
        "A": ["2", "0.0%", "2", "0.0%"],
        "B": ["1", "0.0%", "1", "100.0%"],
        "C": ["1", "100.0%", "1", "0.0%"],
        "D": ["0", "—", "1", "100.0%"],
        "E": ["1", "100.0%", "0", "—"],
    }
    for band, cells in expected.items():
        assert _cells(rows[f"cmp-band-{band}"])[1:] == cells, band
    found = re.search(r'id="fig-comparison"[^>]*>(.*?)</script>', html, re.S)
    assert found is not None
    figure = json.loads(found.group(1))
    assert [trace["name"] for trace in figure["data"]] == ["book v1", "book v2"]
    assert figure["data"][0]["y"] == [0.0, 0.0, 1.0, None, 1.0]
    assert figure["data"][1]["y"] == [0.0, 1.0, 0.0, 1.0, None]


def test_at_90_days_past_due_only_the_early_loan_is_bad(client, analyst, book):
    champion, challenger = book
    client.force_login(analyst)
    html = client.get(
        reverse("decisions:model-comparison"),
        {"first": challenger.pk, "second": champion.pk, "window_days": 90, "dpd": 90},
    ).content.decode()
    rows = _rows(html)
    # bad_early reached 90 days on 29 September, the window's last day; bad_late did not.
    assert _cells(rows["cmp-1"])[0:5] == ["book v2", "Challenger", "5", "1", "20.0%"]
    assert _cells(rows["cmp-2"])[0:5] == ["book v1", "Champion", "5", "1", "20.0%"]


def test_a_window_longer_than_the_scores_have_had_leaves_nothing_to_compare(client, analyst, book):
    champion, challenger = book
    client.force_login(analyst)
    html = client.get(
        reverse("decisions:model-comparison"),
        {"first": champion.pk, "second": challenger.pk, "window_days": 200, "dpd": 30},
    ).content.decode()
    v1 = _cells(_rows(html)["cmp-1"])
    assert v1[2:7] == ["0", "0", "—", "—", "—"]


def test_only_two_versions_of_one_scorecard_are_compared(client, analyst, book):
    champion, challenger = book
    other = scorecard_store(actor=None, name="other", result=_result((300, 200)), target="30+")
    client.force_login(analyst)
    url = reverse("decisions:model-comparison")
    same = client.get(
        url, {"first": champion.pk, "second": champion.pk, "window_days": 90, "dpd": 30}
    )
    mixed = client.get(
        url, {"first": champion.pk, "second": other.pk, "window_days": 90, "dpd": 30}
    )
    for response in (same, mixed):
        html = response.content.decode()
        assert 'id="comparison-error"' in html and 'id="comparison-table"' not in html


def test_without_two_versions_the_page_says_so(client, analyst):
    client.force_login(analyst)
    html = client.get(reverse("decisions:model-comparison")).content.decode()
    assert 'id="comparison-table"' not in html and 'id="comparison-none"' in html


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_reads_the_report(client, request, role, book):
    client.force_login(request.getfixturevalue(role))
    response = client.get(reverse("decisions:model-comparison"))
    assert response.status_code == 200
    for tag in re.findall(r"<script\b[^>]*>", response.content.decode()):
        assert "src=" in tag or 'type="application/json"' in tag, tag


@pytest.mark.parametrize("role", NOT_STAFF)
def test_borrowers_and_service_accounts_get_403_on_the_report(client, request, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(reverse("decisions:model-comparison")).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in_from_the_report(client):
    response = client.get(reverse("decisions:model-comparison"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_scorecards_page_links_the_report_and_the_runs(client, analyst):
    client.force_login(analyst)
    html = client.get(reverse("decisions:scorecard-list")).content.decode()
    assert reverse("decisions:model-comparison") in html
    assert reverse("decisions:run-list") in html
    assert ScorecardModel.objects.count() == 0
