"""The limit policy end to end in a real browser (Debian's chromium, Playwright's sync API): a
manager drafts a change and simulates it before saving, the head of risk activates it, a line
review applies it, and the borrower sees the new limit and why."""

from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from conftest import PASSWORD
from decisions.choices import ModelStatus
from decisions.models import LimitDecision, LimitPolicy, Score
from decisions.policy import DEFAULT_RULES
from decisions.services import (
    line_review,
    policy_activate,
    policy_draft,
    scorecard_set_status,
    scorecard_store,
)
from decisions.tests.test_views import _result
from lending.models import Instalment
from lending.services import repayment_record
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


class Session:
    """One person's browser context, recording what the Content Security Policy refused."""

    def __init__(self, browser, live_server, username, *, width=1440, height=900):
        self.context = browser.new_context(
            viewport={"width": width, "height": height}, locale="en-US"
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.refused: list[str] = []
        self.page.on(
            "console",
            lambda message: (
                self.refused.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        self.page.goto(f"{live_server.url}/accounts/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("main button[type=submit]")
        self.page.wait_for_load_state()

    def close(self):
        self.context.close()


@pytest.fixture
def book(django_user_model):
    """The scorecard and policy v1 in force (set up by the system), and a borrower in band B
    who has paid three instalments on their due dates."""
    now = timezone.now()
    borrower = BorrowerFactory(
        name="陈静",
        credit_limit=Decimal("5000.00"),
        registered_at=now - timedelta(days=200),
        opened_at=now - timedelta(days=200),
    )
    loan = DrawdownFactory(
        borrower=borrower, amount=Decimal("3000.00"), disbursed_at=now - timedelta(days=100)
    )
    today = timezone.localdate()
    due = Instalment.objects.filter(drawdown=loan, due_date__lt=today).order_by("seq")
    for n, inst in enumerate(due):
        repayment_record(
            actor=None,
            loan_no=loan.loan_no,
            reference=f"ON-TIME-{n}",
            amount=inst.principal_due + inst.interest_due,
            paid_at=at(inst.due_date.year, inst.due_date.month, inst.due_date.day, 9),
        )
    # Then the scorecard and policy v1 (before them, the events above re-score nothing: the
    # back-dated loan would read as 70 days past due until its repayments are in).
    model = scorecard_store(actor=None, name="book", result=_result(), target="90+")
    model = scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    policy_activate(actor=None, policy=policy_draft(actor=None, rules=DEFAULT_RULES, note="v1"))
    Score.objects.create(
        borrower=borrower,
        model=model,
        total=645,  # band B: 630 and up
        inputs={"utilisation": {"value": 0.45, "points": 300.0}},
        reasons=["R05"],
        as_of=today,
        scored_at=now,
    )
    django_user_model.objects.create_user(
        username="chen", password=PASSWORD, role="borrower", borrower_id=borrower.pk
    )
    return borrower


def test_a_policy_change_goes_from_draft_to_the_borrowers_screen(
    browser, live_server, manager, head_of_risk, book
):
    # A manager raises band B's step from ¥2,000 to ¥3,000 and simulates before saving.
    mia = Session(browser, live_server, manager.username)
    page = mia.page
    page.click("nav.mainnav >> text=Limit policy")
    page.click("#new-draft")
    page.wait_for_load_state()  # htmx ready (after the deferred Plotly), or Simulate posts the page
    assert page.input_value("input[name=bands-1-name]") == "B"
    assert page.input_value("input[name=bands-1-raise_step]") == "2000"
    page.fill("input[name=bands-1-raise_step]", "3000")
    page.click("#simulate")
    page.wait_for_selector("#simulation-table")
    assert page.inner_text("#sim-B .sim-raise") == "1"
    assert page.inner_text("#sim-B .sim-change") == "3,000.00"
    page.wait_for_selector("#simulation .chart .main-svg")  # Plotly drew the chart
    assert page.url.endswith("/decisions/policies/draft/")  # htmx swapped the editor in place
    assert LimitPolicy.objects.count() == 1  # nothing saved by simulating

    page.fill("textarea[name=note]", "Band B raises by ¥3,000 after three on-time instalments")
    page.click("#save-draft")
    page.wait_for_url("**/decisions/policies/*/")
    assert "status-draft" in page.inner_html("#activate-panel")
    assert page.inner_text("#band-B .changed") == "3000"
    assert page.locator("#activate").count() == 0  # a manager cannot activate
    mia.close()

    # The head of risk reviews the draft and puts it in force.
    hank = Session(browser, live_server, head_of_risk.username)
    page = hank.page
    page.click("nav.mainnav >> text=Limit policy")
    page.click("text=Review and activate")
    page.fill("#activate-note", "Simulated: one raise in B, +¥3,000 exposure")
    page.click("#activate")
    page.wait_for_selector("#activate-panel .status-active")
    hank.close()
    draft = LimitPolicy.objects.get(version=2)
    assert (draft.status, draft.approved_by_id) == ("active", head_of_risk.pk)

    # The next review of the borrower's line applies the new step.
    decision = line_review(borrower_id=book.pk)
    assert isinstance(decision, LimitDecision)
    assert (decision.action, decision.new_limit, decision.policy_id) == (
        "raise",
        Decimal("8000.00"),
        draft.pk,
    )

    # The borrower, on a phone, sees the new limit and the reason in plain words.
    chen = Session(browser, live_server, "chen", width=390, height=844)
    page = chen.page
    assert page.url.endswith("/borrowers/me/")
    assert "¥8,000.00" in page.inner_text(".portal-hero")
    page.wait_for_selector("#my-decision")
    assert "raised from ¥5,000.00 to ¥8,000.00" in page.inner_text("#my-decision")
    reasons = page.inner_text("#my-decision-reasons")
    assert "Instalments were repaid on time several times in a row" in reasons
    assert "P01" not in page.inner_text("#my-reasons")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    chen.close()

    assert mia.refused == [] and hank.refused == [] and chen.refused == []


def test_the_drafter_is_refused_in_place_and_the_charts_draw_under_the_csp(
    browser, live_server, head_of_risk, book
):
    own = policy_draft(actor=head_of_risk, rules=DEFAULT_RULES, note="my own")
    hank = Session(browser, live_server, head_of_risk.username)
    page = hank.page
    page.goto(f"{live_server.url}/decisions/policies/{own.pk}/")
    page.click("#activate")
    page.wait_for_selector("#activate-error")
    assert "another person must approve it" in page.inner_text("#activate-error")
    assert "status-draft" in page.inner_html("#activate-panel")

    # The staff borrower page pulls the score panel and draws its chart.
    Score.objects.create(
        borrower=book,
        model=Score.objects.earliest("scored_at").model,
        total=650,
        inputs={},
        reasons=[],
        as_of=timezone.localdate(),
        scored_at=timezone.now() + timedelta(minutes=1),
    )
    page.goto(f"{live_server.url}/borrowers/{book.pk}/")
    page.wait_for_selector("#score-total")
    assert page.inner_text("#score-total") == "650"
    page.wait_for_selector("#score-panel .chart .main-svg")
    scorecard = Score.objects.earliest("scored_at").model
    page.goto(f"{live_server.url}/decisions/scorecards/{scorecard.pk}/")
    page.wait_for_selector("[data-figure=fig-iv] .main-svg")
    # Plotly marks each container it drew: the IV chart and one per feature.
    page.wait_for_function("document.querySelectorAll('.chart.js-plotly-plot').length === 3")
    hank.close()
    assert hank.refused == []


def _as_a_worker(service, **kwargs):
    """Run a worker's service from the test thread while the page polls the live server.

    On SQLite the live server shares the test's in-memory database connection: a write that
    lands while a poll's read is open is refused ("table is locked") and is simply tried
    again, as a worker's retry would (both services are idempotent)."""
    import time

    from django.db import OperationalError

    for attempt in range(20):
        try:
            return service(**kwargs)
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.1)
    return None


def test_a_simulation_and_a_run_update_on_the_page_while_workers_finish_them(
    browser, live_server, manager, head_of_risk, book
):
    """The pages poll with htmx (no inline script, strict CSP) and stop once the job is done."""
    from decisions.models import PolicySimulation

    version = LimitPolicy.objects.get(status="active")
    # A simulation a worker has not picked up yet (as if the broker were busy).
    waiting = PolicySimulation.objects.create(
        policy=version,
        rules=version.rules,
        as_of=timezone.localdate(),
        requested_by=manager,
        requested_at=timezone.now(),
    )
    hank = Session(browser, live_server, head_of_risk.username)
    try:
        _pages_that_poll(hank, live_server, waiting, version)
    finally:
        hank.close()  # no poll may outlive the test and meet the database's teardown
    assert hank.refused == []


def _pages_that_poll(hank, live_server, waiting, version):
    from decisions.models import PolicySimulation, ScoringChunk
    from decisions.services import scoring_chunk_run, scoring_run_start
    from decisions.services.simulations import policy_simulation_run

    page = hank.page
    page.goto(f"{live_server.url}/decisions/simulations/{waiting.pk}/")
    page.wait_for_selector("#simulation-running")
    _as_a_worker(policy_simulation_run, simulation_id=waiting.pk)  # the worker finishes
    page.wait_for_selector("#simulation-table")  # the next poll swapped the result in
    assert page.inner_text("#sim-total .sim-raise") == "1"
    page.wait_for_selector("#simulation .chart .main-svg")

    # The version's page asks for a new one; with the worker eager it is there at once.
    page.goto(f"{live_server.url}/decisions/policies/{version.pk}/")
    assert page.inner_text("#sim-total .sim-raise") == "1"  # the latest simulation, shown
    with page.expect_response(lambda r: r.url.endswith("/simulation/") and r.status == 200):
        page.click("#simulate")
    page.wait_for_selector("#simulation-table")
    assert PolicySimulation.objects.filter(policy=version, status="done").count() == 2

    # A whole-book run in progress: its row counts up as chunks finish.
    run = scoring_run_start(as_of=timezone.localdate(), chunk_size=1, run_id="night-b")
    page.click("nav.mainnav >> text=Scorecards")
    page.click("#link-runs")
    page.wait_for_selector(f"#run-{run.pk}")
    assert page.inner_text(f"#run-{run.pk} .run-chunks").startswith("0 / 1")
    _as_a_worker(scoring_chunk_run, run_id="night-b", index=0)
    # Playwright's text selector, not wait_for_function: the CSP forbids evaluating strings.
    page.wait_for_selector(f"#run-{run.pk} .run-chunks:has-text('1 / 1')", timeout=15_000)
    assert page.locator(".run-polling").count() == 0  # done: the table stopped polling
    assert ScoringChunk.objects.get(run=run).status == "done"

    # The champion / challenger report draws its chart (one version only: the page says so).
    page.click("nav.mainnav >> text=Scorecards")
    page.click("#link-comparison")
    page.wait_for_selector("#comparison-form")
