"""The scores-and-limits pages: who may open and use each, what each shows, the policy editor
(simulate before saving, PolicyInvalid in place), activation (four eyes in place), the staff
score panel and the borrower's own reasons."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from decisions.choices import ModelStatus, PolicyStatus
from decisions.models import LimitDecision, LimitPolicy, PolicySimulation, Score, ScorecardModel
from decisions.policy import DEFAULT_RULES, PolicyInvalid, policy_rules
from decisions.scorecard import BIN_MISSING, PointsBin, PointsTable, TrainingResult
from decisions.services import (
    line_review,
    policy_activate,
    policy_draft,
    scorecard_set_status,
    scorecard_store,
)
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 20, 12)
STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]
DRAFTERS = ["manager", "head_of_risk", "admin_user"]
NOT_STAFF = ["borrower_user", "service_user"]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def _result() -> TrainingResult:
    table = PointsTable(
        bins=[
            PointsBin("utilisation", 0, "range", None, 0.5, points=300, count=60, label="< 0.5"),
            PointsBin("utilisation", 1, "range", 0.5, None, points=260, count=40, label=">= 0.5"),
            PointsBin("utilisation", 2, BIN_MISSING, points=0, label="Missing"),
            PointsBin("months_on_book", 0, "range", None, 6, points=300, count=30, label="< 6"),
            PointsBin("months_on_book", 1, "range", 6, None, points=340, count=70, label=">= 6"),
            PointsBin("months_on_book", 2, BIN_MISSING, points=0, label="Missing"),
        ]
    )
    return TrainingResult(
        table=table,
        auc=0.78,
        ks=0.41,
        gini=0.56,
        iv={"utilisation": 0.31, "months_on_book": 0.12},
        train_rows=70,
        test_rows=30,
        bad_rate=0.08,
    )


@pytest.fixture
def scorecard() -> ScorecardModel:
    return scorecard_store(actor=None, name="book", result=_result(), target="90+ in 180 days")


@pytest.fixture
def champion(scorecard) -> ScorecardModel:
    return scorecard_set_status(actor=None, model=scorecard, status=ModelStatus.CHAMPION)


@pytest.fixture
def active(manager, head_of_risk) -> LimitPolicy:
    draft = policy_draft(actor=manager, rules=DEFAULT_RULES, note="first")
    return policy_activate(actor=head_of_risk, policy=draft)


@pytest.fixture
def draft(active, manager) -> LimitPolicy:
    bands = [dict(b) for b in DEFAULT_RULES["bands"]]
    bands[1]["raise_step"] = "3000"
    return policy_draft(
        actor=manager, rules={**DEFAULT_RULES, "bands": bands}, note="B raises faster"
    )


def _score(borrower, model, total, *, reasons=(), day=1, acting=True) -> Score:
    return Score.objects.create(
        borrower=borrower,
        model=model,
        total=total,
        inputs={
            "utilisation": {"value": 0.75, "points": 260.0},
            "months_on_book": {"value": 10.5, "points": 340.0},
        },
        reasons=list(reasons),
        acting=acting,
        as_of=date(2026, 11, day),
        scored_at=at(2026, 11, day),
    )


@pytest.fixture
def scored(champion, active):
    """A borrower scored twice (the newest 50 points lower) and cut by the active policy."""
    borrower = BorrowerFactory(credit_limit=Decimal("5000.00"))
    _score(borrower, champion, 680, day=1)
    _score(borrower, champion, 630, reasons=["R02", "R05", "R15", "R06", "R16"], day=2)
    line_review(borrower_id=borrower.pk)
    return borrower


def _login(client, request, role: str | None):
    if role is not None:
        client.force_login(request.getfixturevalue(role))
    return client


def _pages(request) -> list[str]:
    """Every read-only staff page, with objects to show."""
    model = request.getfixturevalue("champion")
    policy = request.getfixturevalue("draft")
    borrower = request.getfixturevalue("scored")
    return [
        reverse("decisions:scorecard-list"),
        reverse("decisions:scorecard-detail", args=[model.pk]),
        reverse("decisions:feature-list"),
        reverse("decisions:policy-list"),
        reverse("decisions:policy-detail", args=[policy.pk]),
        reverse("decisions:policy-simulation", args=[policy.pk]),
        reverse("decisions:borrower-score", args=[borrower.pk]),
    ]


def _find(pattern: str, html: str) -> str:
    """The first group of `pattern` in the page (which must match)."""
    match = re.search(pattern, html, re.S)
    assert match is not None, pattern
    return match.group(1)


def _no_inline_script(html: str) -> None:
    # The CSP allows scripts from this site only: every <script> has a src or is JSON data.
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag


# --- who may do what ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_reads_every_page(client, request, role):
    pages = _pages(request)
    _login(client, request, role)
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        _no_inline_script(response.content.decode())


@pytest.mark.parametrize("role", NOT_STAFF)
def test_borrowers_and_service_accounts_get_403_on_every_staff_page(client, request, role):
    pages = _pages(request) + [reverse("decisions:policy-draft")]
    _login(client, request, role)
    for url in pages:
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_log_in(client, request):
    borrower = request.getfixturevalue("scored")
    pages = _pages(request) + [
        reverse("decisions:policy-draft"),
        reverse("decisions:borrower-reasons", args=[borrower.pk]),
    ]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("analyst", False),
        ("senior_analyst", False),
        ("manager", True),
        ("head_of_risk", True),
        ("admin_user", True),
        ("borrower_user", False),
        ("service_user", False),
    ],
)
def test_only_managers_and_above_open_the_editor_simulate_and_save(
    client, request, role, allowed, active
):
    _login(client, request, role)
    editor = client.get(reverse("decisions:policy-draft"))
    simulate = client.post(reverse("decisions:policy-simulate"), _editor_data())
    save = client.post(reverse("decisions:policy-draft"), {"note": "x"})
    if allowed:
        assert editor.status_code == 200
        assert simulate.status_code == 200
    else:
        assert (editor.status_code, simulate.status_code, save.status_code) == (403, 403, 403)
        assert LimitPolicy.objects.count() == 1


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("analyst", False),
        ("senior_analyst", False),
        ("manager", True),
        ("head_of_risk", True),
        ("admin_user", True),
        ("borrower_user", False),
        ("service_user", False),
    ],
)
def test_only_managers_and_above_promote_a_scorecard(client, request, role, allowed, scorecard):
    _login(client, request, role)
    response = client.post(
        reverse("decisions:scorecard-status", args=[scorecard.pk]),
        {"status": "challenger", "note": "try it"},
        headers={"HX-Request": "true"},
    )
    scorecard.refresh_from_db()
    if allowed:
        assert response.status_code == 200
        assert scorecard.status == ModelStatus.CHALLENGER
    else:
        assert response.status_code == 403
        assert scorecard.status == ModelStatus.DRAFT


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("analyst", False),
        ("senior_analyst", False),
        ("manager", False),
        ("head_of_risk", True),
        ("admin_user", True),
        ("borrower_user", False),
        ("service_user", False),
    ],
)
def test_only_the_head_of_risk_and_admins_activate(client, request, role, allowed, draft):
    _login(client, request, role)
    response = client.post(
        reverse("decisions:policy-activate", args=[draft.pk]), headers={"HX-Request": "true"}
    )
    draft.refresh_from_db()
    if allowed:
        assert response.status_code == 200
        assert draft.status == PolicyStatus.ACTIVE
    else:
        assert response.status_code == 403
        assert draft.status == PolicyStatus.DRAFT


def test_the_controls_follow_the_role(client, analyst, manager, head_of_risk, scorecard, draft):
    detail = reverse("decisions:scorecard-detail", args=[scorecard.pk])
    policy = reverse("decisions:policy-detail", args=[draft.pk])
    client.force_login(analyst)
    assert 'name="status"' not in client.get(detail).content.decode()
    assert 'id="new-draft"' not in client.get(reverse("decisions:policy-list")).content.decode()
    assert 'id="activate"' not in client.get(policy).content.decode()
    client.force_login(manager)
    assert 'value="challenger"' in client.get(detail).content.decode()
    assert 'id="new-draft"' in client.get(reverse("decisions:policy-list")).content.decode()
    assert 'id="activate"' not in client.get(policy).content.decode()
    client.force_login(head_of_risk)
    assert 'id="activate"' in client.get(policy).content.decode()


# --- scorecards and features --------------------------------------------------------------------


def test_the_list_shows_each_version_in_a_fixed_number_of_queries(
    client, analyst, scorecard, django_assert_num_queries
):
    scorecard_store(actor=analyst, name="book", result=_result(), target="90+")
    client.force_login(analyst)
    client.get(reverse("decisions:scorecard-list"))  # warm the session
    # Session, user, ONE query for the versions with their creators, then the session save
    # (savepoint, update, release): nothing per row.
    with django_assert_num_queries(6):
        html = client.get(reverse("decisions:scorecard-list")).content.decode()
    assert html.count("status-draft") == 2 and "v2" in html and "0.780" in html


def test_a_scorecard_page_shows_metrics_points_and_charts(client, analyst, scorecard):
    client.force_login(analyst)
    html = client.get(reverse("decisions:scorecard-detail", args=[scorecard.pk])).content.decode()
    assert "0.780 / 0.410 / 0.560" in html
    assert "Principal outstanding as a share of the limit" in html  # the feature's description
    iv = json.loads(_find(r'id="fig-iv"[^>]*>(.*?)</script>', html))
    assert iv["data"][0]["y"] == ["months_on_book", "utilisation"]  # strongest at the top
    bins = json.loads(_find(r'id="fig-bins-0"[^>]*>(.*?)</script>', html))
    assert bins["data"][0]["x"] == ["< 0.5", ">= 0.5"]  # the empty missing bin is not charted
    assert len(re.findall(r'data-figure="fig-bins-\d"', html)) == 2


def test_promoting_a_champion_retires_the_old_one_in_place(client, manager, champion):
    newer = scorecard_store(actor=None, name="book", result=_result(), target="90+")
    client.force_login(manager)
    response = client.post(
        reverse("decisions:scorecard-status", args=[newer.pk]),
        {"status": "champion", "note": "better KS"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel" id="status-panel"')  # the fragment
    assert "status-champion" in html and "message-success" in html
    champion.refresh_from_db()
    assert champion.status == ModelStatus.RETIRED


def test_a_refused_status_change_is_shown_in_place(client, manager, champion):
    scorecard_set_status(actor=manager, model=champion, status=ModelStatus.RETIRED)
    client.force_login(manager)
    response = client.post(
        reverse("decisions:scorecard-status", args=[champion.pk]),
        {"status": "champion"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="error"' in html and "cannot become champion" in html
    assert "status-retired" in html


def test_the_features_page_lists_the_catalogue_with_the_borrowers_reason(client, analyst):
    client.force_login(analyst)
    html = client.get(reverse("decisions:feature-list")).content.decode()
    assert html.count("<tr>") == 17  # the header and sixteen features
    assert "lender_transfers_90d" in html and "R15" in html
    assert "Money moved to other lenders soon after drawing" in html


def test_pages_read_in_chinese(client, analyst, scorecard):
    client.force_login(analyst)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("decisions:feature-list")).content.decode()
    assert "剩余本金占授信额度的比例" in html  # a feature description, from the catalogue
    assert "额度策略" in html  # the navigation


# --- limit policy -------------------------------------------------------------------------------


def _editor_data(**changes: Any) -> dict[str, str]:
    """The editor's fields as the page fills them (from the policy in force), with changes."""
    data: dict[str, str] = {
        "base": "",
        "freeze_dpd": "30",
        "cut_score_drop": "40",
        "cut_below_band": "E",
        "cut_share": "0.30",
        "multi_lender_spike": "2",
        "cooldown_days": "90",
        "raise_interval_days": "90",
        "raise_after_on_time": "3",
        "raise_min_band": "C",
        "small_loan": "1000",
        "step": "100",
        "note": "",
        "bands-TOTAL_FORMS": str(len(DEFAULT_RULES["bands"]) + 1),
        "bands-INITIAL_FORMS": str(len(DEFAULT_RULES["bands"])),
        "scenarios-TOTAL_FORMS": str(len(DEFAULT_RULES["scenarios"])),
        "scenarios-INITIAL_FORMS": str(len(DEFAULT_RULES["scenarios"])),
    }
    for n, band in enumerate(DEFAULT_RULES["bands"]):
        for key, value in band.items():
            data[f"bands-{n}-{key}"] = str(value)
    for n, (purpose, rule) in enumerate(DEFAULT_RULES["scenarios"].items()):
        data[f"scenarios-{n}-purpose"] = purpose
        for key, value in rule.items():
            data[f"scenarios-{n}-{key}"] = str(value)
    data.update(changes)
    return data


def test_the_editor_starts_from_the_policy_in_force(client, manager, draft):
    policy_activate(actor=None, policy=draft)
    client.force_login(manager)
    html = client.get(reverse("decisions:policy-draft")).content.decode()
    assert 'name="bands-1-raise_step" value="3000"' in html  # the draft now in force
    assert f'name="base" value="{draft.pk}"' in html
    assert 'id="simulate"' in html and 'id="save-draft"' in html
    _no_inline_script(html)


def test_simulating_a_draft_shows_the_table_and_saves_nothing(
    client, manager, scored, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    # The worker runs the simulation once the request's record is committed (eager in tests).
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("decisions:policy-simulate"),
            _editor_data(**{"bands-1-raise_step": "3000"}),
            headers={"HX-Request": "true"},
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="policy-editor">')  # the editor, swapped whole
    simulation = PolicySimulation.objects.get()
    poll = reverse("decisions:simulation-detail", args=[simulation.pk])
    # The page the request answered with was rendered before the commit: it polls.
    assert 'id="simulation-running"' in html and f'hx-get="{poll}"' in html
    assert (simulation.status, simulation.policy, simulation.requested_by) == (
        "done",
        None,
        manager,
    )

    polled = client.get(poll, headers={"HX-Request": "true"}).content.decode()

    assert polled.lstrip().startswith('<section id="simulation"')
    assert "hx-trigger" not in polled  # done: the polling stops
    row_b = _find(r'<tr id="sim-B">(.*?)</tr>', polled)
    assert re.search(r'class="num sim-cut">1<', row_b)  # the scored borrower, cut already
    figure = json.loads(_find(r'id="fig-simulation"[^>]*>(.*?)</script>', polled))
    assert [t["name"] for t in figure["data"]][:4] == ["Raise", "Hold", "Cut", "Freeze"]
    assert LimitPolicy.objects.count() == 1


def test_an_unusable_policy_is_explained_in_place(client, manager, active):
    client.force_login(manager)
    response = client.post(
        reverse("decisions:policy-simulate"),
        _editor_data(cut_share="2", **{"bands-4-min_score": "10"}),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert 'id="policy-error"' in html
    error = _find(r'id="policy-error">(.*?)</p>', html)
    # The refusal's own words (whatever the language), one sentence per problem:
    bands = [dict(b) for b in DEFAULT_RULES["bands"]]
    bands[4]["min_score"] = 10
    with pytest.raises(PolicyInvalid) as refused:
        policy_rules({**DEFAULT_RULES, "bands": bands, "cut_share": "2"})
    assert refused.value.codes == ["last_band_not_zero", "cut_share_range"]
    assert error == str(refused.value)
    assert 'id="simulation-table"' not in html
    assert not PolicySimulation.objects.exists()


def test_the_refusal_is_shown_in_the_language_of_the_page(client, manager, active):
    from unittest import mock

    from django.utils import translation

    client.force_login(manager)
    client.cookies["django_language"] = "zh-hans"
    asked: list[str] = []

    def catalogue(text: str) -> str:
        asked.append(translation.get_language())
        return {
            "The cut share of the limit must be between 0 and 1.": "削减比例须在0与1之间。"
        }.get(text, text)

    # A stand-in catalogue (the real one is translated at the end): the message is looked up
    # when the page is rendered, in the page's language.
    with mock.patch("django.utils.translation._trans.gettext", side_effect=catalogue):
        html = client.post(
            reverse("decisions:policy-simulate"), _editor_data(cut_share="2")
        ).content.decode()
    assert "削减比例须在0与1之间。" in _find(r'id="policy-error">(.*?)</p>', html)
    assert "zh-hans" in asked


def test_a_value_that_is_not_a_number_is_marked_at_its_field(client, manager, active):
    client.force_login(manager)
    response = client.post(
        reverse("decisions:policy-simulate"), _editor_data(**{"bands-2-ceiling": "lots"})
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="policy-error"' in html and "Enter a number." in html


def test_saving_needs_a_note_then_stores_a_draft(client, manager, active):
    client.force_login(manager)
    data = _editor_data(**{"bands-1-raise_step": "3000"})
    refused = client.post(reverse("decisions:policy-draft"), data)
    assert refused.status_code == 400 and "Say what changed and why" in refused.content.decode()

    response = client.post(reverse("decisions:policy-draft"), {**data, "note": "B faster"})

    saved = LimitPolicy.objects.get(status=PolicyStatus.DRAFT)
    assert response.status_code == 302
    assert response["Location"] == reverse("decisions:policy-detail", args=[saved.pk])
    assert (saved.version, saved.created_by, saved.note) == (2, manager, "B faster")
    assert saved.rules["bands"][1] == {**DEFAULT_RULES["bands"][1], "raise_step": "3000"}
    assert saved.rules["income_factor"] == DEFAULT_RULES["income_factor"]  # kept from the base


def test_bands_can_be_added_removed_and_typed_in_any_order(client, manager, active):
    client.force_login(manager)
    data = _editor_data(
        note="split A",
        **{
            "bands-3-DELETE": "on",  # D goes
            "bands-5-name": "AA",  # a new best band, typed in the empty row at the bottom
            "bands-5-min_score": "700",
            "bands-5-initial_limit": "8000",
            "bands-5-raise_step": "4000",
            "bands-5-ceiling": "80000",
            "bands-5-daily_rate": "0.000250",
        },
    )
    client.post(reverse("decisions:policy-draft"), data)
    saved = LimitPolicy.objects.get(status=PolicyStatus.DRAFT)
    assert [b["name"] for b in saved.rules["bands"]] == ["AA", "A", "B", "C", "E"]


def test_the_draft_page_shows_what_differs_from_the_policy_in_force(client, analyst, draft):
    client.force_login(analyst)
    html = client.get(reverse("decisions:policy-detail", args=[draft.pk])).content.decode()
    row_b = _find(r'<tr id="band-B">(.*?)</tr>', html)
    assert re.search(r'<strong class="changed">3000</strong>\s*<del[^>]*>2000</del>', row_b)
    assert html.count('class="changed"') == 1
    assert "B raises faster" in html


def test_the_drafter_cannot_activate_and_is_told_in_place(client, head_of_risk, active):
    own = policy_draft(actor=head_of_risk, rules=DEFAULT_RULES, note="mine")
    client.force_login(head_of_risk)
    response = client.post(
        reverse("decisions:policy-activate", args=[own.pk]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="activate-error"' in html and "another person must approve it" in html
    own.refresh_from_db()
    assert own.status == PolicyStatus.DRAFT


def test_activating_retires_the_version_in_force(client, head_of_risk, active, draft):
    client.force_login(head_of_risk)
    response = client.post(
        reverse("decisions:policy-activate", args=[draft.pk]),
        {"note": "approved after simulation"},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    active.refresh_from_db()
    assert (draft.status, draft.approved_by) == (PolicyStatus.ACTIVE, head_of_risk)
    assert active.status == PolicyStatus.RETIRED


def test_the_policy_list_shows_every_version_in_a_fixed_number_of_queries(
    client, head_of_risk, draft, django_assert_num_queries
):
    client.force_login(head_of_risk)
    client.get(reverse("decisions:policy-list"))
    # Session, user, ONE query for the versions with both people, the session save (three).
    with django_assert_num_queries(6):
        html = client.get(reverse("decisions:policy-list")).content.decode()
    assert "Review and activate" in html and "status-active" in html and "mia" in html


def test_a_stored_version_is_simulated_for_any_staff_member(
    client, analyst, scored, draft, django_capture_on_commit_callbacks
):
    client.force_login(analyst)
    url = reverse("decisions:policy-simulation", args=[draft.pk])
    before = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="simulate"' in before and "simulation-table" not in before  # none yet

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, headers={"HX-Request": "true"})

    html = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<section id="simulation"')
    assert re.search(r'<tr id="sim-total">.*?sim-cut">1<', html, re.S)
    simulation = PolicySimulation.objects.get()
    assert (simulation.policy, simulation.requested_by, simulation.status) == (
        draft,
        analyst,
        "done",
    )
    # The version's page shows the latest simulation too.
    page = client.get(reverse("decisions:policy-detail", args=[draft.pk])).content.decode()
    assert 'id="sim-total"' in page


# --- a borrower's score and reasons -------------------------------------------------------------


def test_the_score_panel_explains_the_score_and_the_decisions(client, analyst, scored, active):
    client.force_login(analyst)
    response = client.get(
        reverse("decisions:borrower-score", args=[scored.pk]), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel" id="score-panel"')
    assert '<strong id="score-total">630</strong>' in html
    assert re.search(r'id="score-band">B', html)
    assert "A large share of your credit line is in use" in html  # R02 as a sentence
    assert "0.75" in html and "260" in html  # utilisation's value and points
    decision = LimitDecision.objects.get(borrower=scored)
    assert decision.action == "cut"
    assert "action-cut" in html and "The credit score fell since the last review" in html
    assert f"v{active.version}" in html
    history = json.loads(_find(r'id="fig-score-history"[^>]*>(.*?)</script>', html))
    assert history["data"][0]["y"] == [680, 630]


def test_an_unscored_borrower_has_an_empty_panel(client, analyst):
    borrower = BorrowerFactory()
    client.force_login(analyst)
    html = client.get(reverse("decisions:borrower-score", args=[borrower.pk])).content.decode()
    assert 'id="score-none"' in html and "No limit decision yet." in html


def test_the_borrower_page_pulls_the_score_panel_by_url(client, analyst):
    borrower = BorrowerFactory()
    client.force_login(analyst)
    html = client.get(reverse("lending:borrower-detail", args=[borrower.pk])).content.decode()
    assert f'hx-get="{reverse("decisions:borrower-score", args=[borrower.pk])}"' in html
    _no_inline_script(html)


def test_a_borrower_reads_their_own_reasons_as_at_most_four_sentences(
    client, django_user_model, scored
):
    from conftest import PASSWORD

    user = django_user_model.objects.create_user(
        username="own", password=PASSWORD, role="borrower", borrower_id=scored.pk
    )
    client.force_login(user)
    portal = client.get(reverse("lending:my-line")).content.decode()
    url = reverse("decisions:borrower-reasons", args=[scored.pk])
    assert f'hx-get="{url}"' in portal

    html = client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert "your limit was lowered from ¥5,000.00 to ¥3,500.00" in html
    assert "The credit score fell since the last review" in html
    score_reasons = _find(r'id="my-score-reasons">(.*?)</ul>', html)
    assert score_reasons.count("<li>") == 4  # five reasons stored, four shown
    assert "R0" not in html  # sentences, not codes


def test_a_borrower_cannot_read_another_borrowers_reasons(client, borrower_user, scored):
    client.force_login(borrower_user)
    assert client.get(reverse("decisions:borrower-reasons", args=[scored.pk])).status_code == 404
    own = client.get(reverse("decisions:borrower-reasons", args=[borrower_user.borrower_id]))
    assert own.status_code == 200


def test_a_service_account_reads_no_reasons(client, service_user, scored):
    client.force_login(service_user)
    assert client.get(reverse("decisions:borrower-reasons", args=[scored.pk])).status_code == 404


def test_the_reasons_read_in_chinese(client, django_user_model, scored):
    user = django_user_model.objects.create_user(
        username="own", password="x-long-password-1", role="borrower", borrower_id=scored.pk
    )
    client.force_login(user)
    client.cookies["django_language"] = "zh-hans"
    html = client.get(reverse("decisions:borrower-reasons", args=[scored.pk])).content.decode()
    assert "您的额度使用比例较高" in html  # R02, from the catalogue
