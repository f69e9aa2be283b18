"""The scoring runs page: who may open it and re-queue a chunk, what it shows of each run
(progress, failures, chunk durations, decisions by action), the stale scores, and the htmx
polling while a run is running."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from decisions.choices import ModelStatus
from decisions.models import LimitDecision, LimitPolicy, Score, ScoringChunk, ScoringRun
from decisions.policy import DEFAULT_RULES
from decisions.services import (
    policy_activate,
    policy_draft,
    scorecard_set_status,
    scorecard_store,
    scoring_chunk_run,
    scoring_run_start,
)
from decisions.tests.test_scoring import _result
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 20, 12)
STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]
OPERATORS = ["manager", "head_of_risk", "admin_user"]
NOT_STAFF = ["borrower_user", "service_user"]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def champion_and_policy(manager, head_of_risk):
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    policy_activate(actor=head_of_risk, policy=policy_draft(actor=manager, rules=DEFAULT_RULES))
    return model


@pytest.fixture
def run(champion_and_policy) -> ScoringRun:
    """Five borrowers in three chunks of two: chunk 0 done, chunk 1 failed, chunk 2 running."""
    for _ in range(5):
        BorrowerFactory()
    run = scoring_run_start(as_of=date(2026, 11, 20), chunk_size=2, run_id="night-1")
    scoring_chunk_run(run_id="night-1", index=0)
    ScoringChunk.objects.filter(run=run, index=1).update(
        status="failed", attempts=4, error="OperationalError: the database went away"
    )
    return run


def _login(client, request, role: str | None):
    if role is not None:
        client.force_login(request.getfixturevalue(role))
    return client


# --- who may do what ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_reads_the_runs_pages(client, request, role, run):
    _login(client, request, role)
    for url in (reverse("decisions:run-list"), reverse("decisions:run-detail", args=[run.pk])):
        response = client.get(url)
        assert response.status_code == 200, url
        for tag in response.content.decode().split("<script")[1:]:
            assert tag.split(">")[0].count("src=") or "application/json" in tag.split(">")[0]


@pytest.mark.parametrize("role", NOT_STAFF)
def test_borrowers_and_service_accounts_get_403_on_the_runs_pages(client, request, role, run):
    _login(client, request, role)
    for url in (reverse("decisions:run-list"), reverse("decisions:run-detail", args=[run.pk])):
        assert client.get(url).status_code == 403, url
    requeue = reverse("decisions:chunk-requeue", args=[run.pk, 1])
    assert client.post(requeue).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, run):
    for url in (reverse("decisions:run-list"), reverse("decisions:run-detail", args=[run.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.post(reverse("decisions:chunk-requeue", args=[run.pk, 1]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert ScoringChunk.objects.get(run=run, index=1).status == "failed"


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
def test_only_managers_and_above_requeue_a_failed_chunk(
    client, request, role, allowed, run, django_capture_on_commit_callbacks
):
    _login(client, request, role)
    detail = client.get(reverse("decisions:run-detail", args=[run.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(
            reverse("decisions:chunk-requeue", args=[run.pk, 1]), headers={"HX-Request": "true"}
        )
    chunk = ScoringChunk.objects.get(run=run, index=1)
    if allowed:
        assert 'class="btn btn-small requeue"' in detail
        assert response.status_code == 200 and 'id="requeue-done"' in response.content.decode()
        assert len(queued) == 1
        # The chunk task ran (eager in tests) and scored the chunk this time.
        assert (chunk.status, chunk.error, chunk.attempts) == ("done", "", 5)
        assert Score.objects.filter(run_id="night-1").count() == 4  # chunks 0 and 1
    else:
        assert response.status_code == 403 and not queued
        assert chunk.status == "failed"
        if role in STAFF:
            assert "requeue" not in detail  # no button for those who may not press it


# --- re-queueing --------------------------------------------------------------------------------


def test_a_requeue_is_audited_and_finishes_the_run(
    client, manager, run, django_capture_on_commit_callbacks
):
    scoring_chunk_run(run_id="night-1", index=2)
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("decisions:chunk-requeue", args=[run.pk, 1]))
    assert response.status_code == 302
    assert response["Location"] == reverse("decisions:run-detail", args=[run.pk])
    run.refresh_from_db()
    assert run.status == "done" and run.finished_at is not None
    event = AuditEvent.objects.get(action="scoring_chunk.requeued")
    assert event.actor_id == manager.pk and event.after == {"run_id": "night-1", "index": 1}


def test_a_chunk_that_has_not_failed_is_not_requeued(
    client, manager, run, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        response = client.post(
            reverse("decisions:chunk-requeue", args=[run.pk, 0]), headers={"HX-Request": "true"}
        )
    html = response.content.decode()
    assert response.status_code == 200 and 'id="requeue-error"' in html
    assert "only a failed chunk can be re-queued" in html
    assert not queued and not AuditEvent.objects.filter(action="scoring_chunk.requeued").exists()


def test_requeueing_twice_applies_nothing_twice(
    client, manager, run, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    url = reverse("decisions:chunk-requeue", args=[run.pk, 1])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url)
    scores, decisions = Score.objects.count(), LimitDecision.objects.count()
    with django_capture_on_commit_callbacks(execute=True) as queued:
        client.post(url)  # the chunk is done now: refused, nothing queued
    assert not queued
    assert (Score.objects.count(), LimitDecision.objects.count()) == (scores, decisions)


def test_an_unknown_chunk_is_404(client, manager, run):
    client.force_login(manager)
    assert client.post(reverse("decisions:chunk-requeue", args=[run.pk, 9])).status_code == 404
    assert client.get(reverse("decisions:run-detail", args=[run.pk + 100])).status_code == 404


# --- what the pages show ------------------------------------------------------------------------


def _decision(borrower_id: int, policy: LimitPolicy, action: str, run_id: str) -> None:
    LimitDecision.objects.create(
        borrower_id=borrower_id,
        policy=policy,
        action=action,
        old_limit=Decimal("1000.00"),
        new_limit=Decimal("1000.00"),
        band="C",
        reasons=[],
        decided_at=timezone.now(),
        run_id=run_id,
    )


def test_the_list_shows_progress_failures_durations_and_decisions(client, analyst, run):
    # Chunk durations set by hand: p50 and p95 of [1, 3] by linear interpolation.
    ScoringChunk.objects.filter(run=run, index=0).update(seconds=1.0)
    done = ScoringRun.objects.create(
        run_id="night-0",
        as_of=date(2026, 11, 19),
        status="done",
        chunks_total=5,
        borrowers=10,
        started_at=NOW - timedelta(days=1),
        finished_at=NOW - timedelta(days=1) + timedelta(seconds=3725),
    )
    for index, seconds in enumerate([4.0, 1.0, 10.0, 2.0, 3.0]):
        ScoringChunk.objects.create(
            run=done, index=index, first_id=1, last_id=2, size=2, status="done", seconds=seconds
        )
    policy = LimitPolicy.objects.get()
    borrower_id = CreditLine.objects.order_by("pk").values_list("borrower_id", flat=True)[0]
    for action in ("raise", "raise", "cut"):
        _decision(borrower_id, policy, action, "night-0")
    _decision(borrower_id, policy, "freeze", "event")  # not a run's

    client.force_login(analyst)
    html = client.get(reverse("decisions:run-list")).content.decode()

    row = html[html.index(f'id="run-{done.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "5 / 5" in row and "10 / 10" in row and "1:02:05" in row
    # Sorted durations 1, 2, 3, 4, 10: the median is 3; p95 sits 0.8 of the way from 4 to 10.
    assert 'run-p50">3.00<' in row and 'run-p95">8.80<' in row
    assert 'run-raise">2<' in row and 'run-cut">1<' in row and 'run-freeze">0<' in row
    running = html[html.index(f'id="run-{run.pk}"') :]
    running = running[: running.index("</tr>")]
    assert "1 / 3" in running and "2 / 5" in running and 'run-failed"><a' in running
    assert 'hx-trigger="every 5s"' in html  # night-1 is still running
    failed = html[html.index('id="failed-chunks"') :]
    assert f'id="failed-{run.pk}-1"' in failed and "the database went away" in failed
    assert "requeue" not in failed  # an analyst reads, a manager re-queues


def test_the_run_page_lists_failed_chunks_first_with_their_error(client, analyst, run):
    client.force_login(analyst)
    html = client.get(reverse("decisions:run-detail", args=[run.pk])).content.decode()
    order = [html.index(f'id="chunk-{i}"') for i in (1, 2, 0)]
    assert order == sorted(order)  # failed, running, done
    assert "OperationalError: the database went away" in html
    assert 'hx-trigger="every 5s"' in html


def test_polling_stops_once_the_run_is_done(client, analyst, run):
    ScoringChunk.objects.filter(run=run).update(status="done", seconds=1.0)
    ScoringRun.objects.filter(pk=run.pk).update(status="done", finished_at=timezone.now())
    client.force_login(analyst)
    fragment = client.get(
        reverse("decisions:run-list"), headers={"HX-Request": "true", "HX-Target": "runs-progress"}
    ).content.decode()
    assert fragment.lstrip().startswith('<section class="panel panel-flush" id="runs-progress"')
    assert "hx-trigger" not in fragment and "stale-scores" not in fragment
    detail = client.get(
        reverse("decisions:run-detail", args=[run.pk]), headers={"HX-Request": "true"}
    ).content.decode()
    assert detail.lstrip().startswith('<div id="run-body"') and "hx-trigger" not in detail


def test_the_list_reads_in_a_fixed_number_of_queries(client, analyst, run):
    client.force_login(analyst)
    url = reverse("decisions:run-list")
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for n in range(3):
        extra = ScoringRun.objects.create(
            run_id=f"old-{n}",
            as_of=date(2026, 11, 1 + n),
            status="done",
            chunks_total=1,
            borrowers=1,
            started_at=NOW - timedelta(days=10 + n),
        )
        ScoringChunk.objects.create(
            run=extra, index=0, first_id=1, last_id=1, size=1, status="done", seconds=1.0
        )
    with CaptureQueriesContext(connection) as four:
        html = client.get(url).content.decode()
    assert len(four) == len(one)
    assert len(re.findall(r'id="run-\d+"', html)) == 4


def test_stale_scores_count_and_list_masked_borrowers(client, analyst, champion_and_policy):
    fresh, old, not_acting, never, closed = (BorrowerFactory() for _ in range(5))
    Score.objects.all().delete()  # whatever registering scored

    def score(borrower, days_ago: int, *, acting: bool = True) -> None:
        Score.objects.create(
            borrower=borrower,
            model=champion_and_policy,
            total=600,
            inputs={},
            acting=acting,
            as_of=(NOW - timedelta(days=days_ago)).date(),
            scored_at=NOW - timedelta(days=days_ago),
        )

    score(fresh, 1)
    score(old, 5)
    score(not_acting, 1, acting=False)
    CreditLine.objects.filter(borrower=closed).update(status="closed")

    client.force_login(analyst)
    html = client.get(reverse("decisions:run-list"), {"days": "2"}).content.decode()

    assert "3 borrowers with an open line have no acting score from the last 2 days" in html
    table = html[html.index('id="stale-table"') :]
    listed = [b for b in (fresh, old, not_acting, never, closed) if b.customer_no in table]
    assert listed == [old, not_acting, never]
    # Never scored first, then the oldest score:
    assert table.index(not_acting.customer_no) < table.index(old.customer_no)
    assert table.index(never.customer_no) < table.index(old.customer_no)
    assert reverse("lending:borrower-detail", args=[old.pk]) in table
    assert old.name not in html and old.name[0] + "*" in table  # masked
    wider = client.get(reverse("decisions:run-list"), {"days": "7"}).content.decode()
    assert "2 borrowers with an open line have no acting score from the last 7 days" in wider
