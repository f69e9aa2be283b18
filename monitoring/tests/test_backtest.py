"""Backtests: a version replayed over a past window counts the alerts it would have raised
and on whom, and how those borrowers fared afterwards against all it judged (the lift);
nothing live is written; the refusals; a redelivered task changes nothing."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from lending.choices import DayCloseStatus
from lending.models import DayClose, Instalment
from monitoring.choices import RuleKind, RuleVersionStatus
from monitoring.models import Alert, Backtest, RuleVersion, ShadowHit
from monitoring.models.shadow import BacktestStatus
from monitoring.services import event_ingest
from monitoring.services.backtest import (
    BacktestNotAllowed,
    BacktestWindowInvalid,
    backtest_request,
    backtest_run,
)
from monitoring.services.outcomes import Outcome, lift_of, outcome_of
from monitoring.tests.factories import (
    DrawdownEventFactory,
    LineOpenedEventFactory,
    RepaymentEventFactory,
)

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
WINDOW = (datetime(2026, 2, 1, tzinfo=TZ), datetime(2026, 2, 2, 23, 59, tzinfo=TZ))
# Three months after the window, the book closed through 4 May: every judged borrower's 90 days
# (to 2 or 3 May) are over. The bursters' first instalments (due 1 March, never paid) were 30
# days past due by 31 March; the others paid March and April, all but one.
LATER = datetime(2026, 5, 5, 12, 0, tzinfo=TZ)
CLOSED = date(2026, 5, 4)


def _close(day: date) -> None:
    """The nightly day close of `day` done: the book's outcomes are known through it."""
    at = datetime(day.year, day.month, day.day, 23, 30, tzinfo=TZ)
    DayClose.objects.create(day=day, status=DayCloseStatus.DONE, started_at=at, finished_at=at)


def _borrower(n: int) -> str:
    opened = LineOpenedEventFactory(customer_no=f"C61{n:06d}", mobile=f"1391234{n:04d}")
    event_ingest(actor=None, events=[opened])
    return opened["customer_no"]


def _drawdown(customer_no: str, n: int, amount: str, at: str) -> dict:
    return DrawdownEventFactory(
        customer_no=customer_no,
        loan_no=f"L{customer_no}-{n}",
        amount=amount,
        occurred_at=at,
        card_no=f"62220200{customer_no[-6:]}00",
        device_id=f"dev-{customer_no}",
    )


@pytest.fixture
def book() -> dict[str, list[str]]:
    """Two borrowers drawing four small sums within hours and never paying (both go 30+ DPD);
    six drawing once, five of whom pay their first instalment (one does not)."""
    bursters = [_borrower(n) for n in range(2)]
    for customer_no in bursters:
        events = [
            _drawdown(customer_no, n, "500.00", f"2026-02-01T1{n}:00:00+08:00") for n in range(4)
        ]
        event_ingest(actor=None, events=events)
    others = [_borrower(n) for n in range(10, 16)]
    for n, customer_no in enumerate(others):
        event_ingest(
            actor=None, events=[_drawdown(customer_no, 0, "6000.00", "2026-02-01T10:00:00+08:00")]
        )
        if n:  # the first of them never pays; the others pay March's and April's instalments
            loan_no = f"L{customer_no}-0"
            repay = RepaymentEventFactory(customer_no=customer_no, loan_no=loan_no)
            event_ingest(actor=None, events=[repay])
            second = Instalment.objects.get(drawdown__loan_no=loan_no, seq=2)
            owed = second.principal_due + second.interest_due + second.fee_due
            repay = RepaymentEventFactory(
                customer_no=customer_no,
                loan_no=loan_no,
                amount=str(owed),
                occurred_at="2026-04-01T12:00:00+08:00",
            )
            with time_machine.travel(datetime(2026, 4, 1, 12, 5, tzinfo=TZ), tick=False):
                event_ingest(actor=None, events=[repay])
    return {"bursters": bursters, "others": others}


def _velocity() -> RuleVersion:
    return RuleVersion.objects.select_related("rule").get(
        rule__kind=RuleKind.SMALL_DRAWDOWN_VELOCITY, status=RuleVersionStatus.ACTIVE
    )


def test_a_backtest_counts_alerts_borrowers_and_the_lift_over_the_book(
    book, manager, django_capture_on_commit_callbacks
):
    version = _velocity()
    live_alerts = Alert.objects.count()
    _close(CLOSED)
    with (
        time_machine.travel(LATER, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        backtest = backtest_request(
            actor=manager, version=version, window_start=WINDOW[0], window_end=WINDOW[1]
        )
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.DONE
    assert backtest.events_replayed == 8 + 6  # every drawdown in the window
    assert (backtest.alerts, backtest.borrowers) == (2, 2)
    # 2 of 2 alerted went 30+ DPD; 3 of the 8 judged did (the bursters and the non-payer).
    assert (backtest.hit_bad, backtest.population, backtest.population_bad) == (2, 8, 3)
    assert backtest.hit_bad_rate == Decimal("1.0000")
    assert backtest.base_rate == Decimal("0.3750")
    assert backtest.lift == Decimal("2.67")
    assert not backtest.outcome_incomplete  # 90 days after the window ended by 4 May
    listed = {hit["customer_no"] for hit in backtest.result["hits"]}
    assert listed == set(book["bursters"])
    assert all(hit["went_bad"] for hit in backtest.result["hits"])
    # A replay writes nothing live.
    assert Alert.objects.count() == live_alerts
    assert not ShadowHit.objects.exists()


def test_a_stricter_draft_backtested_finds_nothing_and_has_no_lift(book, manager):
    version = _velocity()
    draft = RuleVersion.objects.create(
        rule=version.rule,
        version=2,
        params={**version.params, "count": 5},
        severity=version.severity,
        created_at=WINDOW[0],
    )
    _close(CLOSED)
    with time_machine.travel(LATER, tick=False):
        backtest = Backtest.objects.create(
            rule_version=draft, window_start=WINDOW[0], window_end=WINDOW[1], requested_at=LATER
        )
        backtest = backtest_run(backtest_id=backtest.pk)
    assert (backtest.alerts, backtest.borrowers, backtest.lift) == (0, 0, None)
    assert backtest.population == 8


def test_before_the_outcome_matures_nobody_has_gone_bad_yet(book, manager):
    """Judged right after the window, with the book closed through 1 February: nobody's 90
    days are over, so nobody counts, neither bad nor good."""
    _close(date(2026, 2, 1))
    backtest = Backtest.objects.create(
        rule_version=_velocity(),
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        requested_at=WINDOW[1],
    )
    backtest = backtest_run(backtest_id=backtest.pk)
    assert (backtest.alerts, backtest.hit_bad, backtest.population_bad) == (2, 0, 0)
    assert backtest.population == 0
    assert backtest.lift is None  # no base rate to compare with
    assert backtest.outcome_incomplete


@pytest.mark.parametrize(
    ("closed", "judged", "bad", "pending"),
    [
        (date(2026, 5, 2), 2, 1, 0),  # 1 February + 90 days: both windows have matured
        (date(2026, 5, 1), 0, 0, 2),  # a day short: nobody is judged, nobody counts as good
    ],
)
def test_an_outcome_counts_only_once_its_window_has_ended_by_the_last_day_close(
    book, closed, judged, bad, pending
):
    """A burster (never paid) and a payer, both from 1 February: judged once the book has
    closed the 90th day after. The clock (5 May, past both) does not decide; the close does."""
    from lending.models import Borrower

    ids = dict(Borrower.objects.values_list("customer_no", "id"))
    at = datetime(2026, 2, 1, 10, 0, tzinfo=TZ)
    reference = {ids[book["bursters"][0]]: at, ids[book["others"][1]]: at}
    _close(closed)
    with time_machine.travel(LATER, tick=False):
        outcome, went_bad = outcome_of(reference)
    assert (outcome.borrowers, outcome.bad, outcome.pending) == (judged, bad, pending)
    assert went_bad == ({ids[book["bursters"][0]]} if bad else set())


def test_without_any_day_close_no_outcome_is_known(book):
    from lending.models import Borrower

    at = datetime(2026, 2, 1, 10, 0, tzinfo=TZ)
    reference = dict.fromkeys(Borrower.objects.values_list("id", flat=True), at)
    outcome, _ = outcome_of(reference)
    assert (outcome.borrowers, outcome.bad, outcome.pending) == (0, 0, len(reference))


def test_a_redelivered_task_leaves_a_finished_backtest_as_it_is(book):
    backtest = Backtest.objects.create(
        rule_version=_velocity(),
        window_start=WINDOW[0],
        window_end=WINDOW[1],
        requested_at=WINDOW[1],
    )
    first = backtest_run(backtest_id=backtest.pk)
    again = backtest_run(backtest_id=backtest.pk)
    assert again.finished_at == first.finished_at
    assert again.alerts == first.alerts


def test_only_a_manager_may_run_a_backtest(analyst, senior_analyst):
    for who in (analyst, senior_analyst):
        with pytest.raises(BacktestNotAllowed):
            backtest_request(
                actor=who, version=_velocity(), window_start=WINDOW[0], window_end=WINDOW[1]
            )
    assert not Backtest.objects.exists()


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (WINDOW[1], WINDOW[0]),  # ends before it starts
        (WINDOW[0], datetime(2026, 4, 1, tzinfo=TZ)),  # ends in the future
        (datetime(2025, 1, 1, tzinfo=TZ), WINDOW[1]),  # over a year
    ],
)
def test_a_window_that_is_not_a_past_year_or_less_is_refused(manager, start, end):
    with pytest.raises(BacktestWindowInvalid):
        backtest_request(actor=manager, version=_velocity(), window_start=start, window_end=end)
    assert not Backtest.objects.exists()


def test_the_ring_rule_backtests_on_rings_formed_in_the_window(manager):
    from monitoring.tests.test_graph import _borrower as ring_borrower
    from monitoring.tests.test_graph import _device

    members = [ring_borrower(n) for n in range(1, 5)]
    for member in members:
        _device(member, "shared-phone")
    version = RuleVersion.objects.select_related("rule").get(
        rule__kind=RuleKind.LINKED_IDENTITIES, status=RuleVersionStatus.ACTIVE
    )
    backtest = Backtest.objects.create(
        rule_version=version,
        window_start=datetime(2026, 1, 1, tzinfo=TZ),
        window_end=datetime(2026, 3, 1, tzinfo=TZ),
        requested_at=WINDOW[1],
    )
    backtest = backtest_run(backtest_id=backtest.pk)
    assert backtest.status == BacktestStatus.DONE
    assert (backtest.alerts, backtest.borrowers) == (4, 4)
    assert not Alert.objects.exists()


def test_the_page_polls_a_running_backtest_and_shows_the_lift_when_done(client, manager, book):
    version = _velocity()
    backtest = Backtest.objects.create(
        rule_version=version, window_start=WINDOW[0], window_end=WINDOW[1], requested_at=WINDOW[1]
    )
    client.force_login(manager)
    url = reverse("monitoring:rule-backtests", args=[version.rule.kind])
    queued = client.get(url, HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 3s"' in queued.content
    _close(CLOSED)
    with time_machine.travel(LATER, tick=False):
        backtest_run(backtest_id=backtest.pk)
    done = client.get(url, HTTP_HX_REQUEST="true")
    assert b'hx-trigger="every 3s"' not in done.content
    assert b"2.67" in done.content
    assert f'id="fig-backtest-{backtest.pk}"'.encode() in done.content


def test_the_backtest_form_on_the_page_queues_a_run_for_a_manager_only(client, manager, analyst):
    version = _velocity()
    url = reverse("monitoring:rule-backtest-start", args=[version.rule.kind])
    data = {"version": version.pk, "start": "2026-02-01", "end": "2026-02-02"}
    client.force_login(analyst)
    assert client.post(url, data).status_code == 403
    client.force_login(manager)
    assert client.post(url, data).status_code == 302
    assert Backtest.objects.get().requested_by == manager


def test_lift_is_the_ratio_of_the_two_bad_rates():
    assert lift_of(Outcome(10, 5), Outcome(100, 10)) == Decimal("5.00")
    assert lift_of(Outcome(0, 0), Outcome(100, 10)) is None
    assert lift_of(Outcome(10, 5), Outcome(100, 0)) is None


def test_a_live_versions_lift_shows_on_the_rule_page(client, analyst, book):
    """The active version raised the bursters' alerts live; three months on, its lift is the
    backtest's: 2 of 2 alerted went 30+ DPD against 3 of the 8 it judged."""
    from monitoring.selectors.rules import live_lift

    version = _velocity()
    assert Alert.objects.filter(rule_version=version).count() == 2
    _close(CLOSED)
    with time_machine.travel(LATER, tick=False):
        figures = live_lift(version, refresh=True)
    assert (figures["alerted"], figures["alerted_bad"]) == (2, 2)
    assert (figures["population"], figures["population_bad"]) == (8, 3)
    assert figures["lift"] == Decimal("2.67")
    client.force_login(analyst)
    page = client.get(reverse("monitoring:rule-live", args=[version.rule.kind]))
    assert b"2.67" in page.content  # read from the cache the nightly task warms
    listed = client.get(reverse("monitoring:rule-list"))
    row = next(r for r in listed.context["rows"] if r.rule.kind == version.rule.kind)
    assert row.lift == Decimal("2.67")
