"""Policy simulations as worker jobs: asked for on a page, computed once by a Celery task,
read back by polling; who may ask for and read them; failures and lost workers shown."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.urls import reverse

from accounts.models import AuditEvent
from decisions.errors import InvalidPolicy, NotAllowed
from decisions.models import PolicySimulation
from decisions.policy import DEFAULT_RULES
from decisions.services.simulations import policy_simulation_request, policy_simulation_run
from decisions.tasks import policy_simulation_run_task
from decisions.tests.test_views import _editor_data
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db

NOW = at(2026, 11, 20, 12)
STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]
NOT_STAFF = ["borrower_user", "service_user"]


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def version(manager):
    from decisions.services import policy_draft

    return policy_draft(actor=manager, rules=DEFAULT_RULES, note="v1")


def test_a_requested_simulation_is_computed_once_after_commit(
    manager, django_capture_on_commit_callbacks
):
    BorrowerFactory(credit_limit=Decimal("5000.00"))
    with django_capture_on_commit_callbacks(execute=False) as queued:
        simulation = policy_simulation_request(actor=manager, rules=DEFAULT_RULES)
    assert simulation.status == "queued" and len(queued) == 1  # the task waits for the commit
    assert AuditEvent.objects.filter(action="policy_simulation.requested").count() == 1

    policy_simulation_run_task.delay(simulation_id=simulation.pk)
    simulation.refresh_from_db()
    assert simulation.status == "done" and simulation.seconds is not None
    assert simulation.result["totals"]["lines"] == 1
    assert simulation.result["totals"]["exposure_before"] == "5000.00"  # exact, as text

    # A redelivered task computes nothing again.
    with mock.patch("decisions.selectors.policy_simulation") as compute:
        policy_simulation_run(simulation_id=simulation.pk)
    compute.assert_not_called()


def test_only_drafters_simulate_an_unsaved_draft_but_any_staff_a_stored_version(
    analyst, manager, version
):
    with pytest.raises(NotAllowed):
        policy_simulation_request(actor=analyst, rules=DEFAULT_RULES)
    assert policy_simulation_request(actor=analyst, rules=version.rules, policy=version)
    assert policy_simulation_request(actor=manager, rules=DEFAULT_RULES)


def test_unusable_rules_are_refused_before_anything_is_queued(manager):
    with pytest.raises(InvalidPolicy) as refused:
        policy_simulation_request(actor=manager, rules={**DEFAULT_RULES, "cut_share": "2"})
    assert "between 0 and 1" in refused.value.message
    assert not PolicySimulation.objects.exists()


def test_a_failed_simulation_is_stored_and_shown(
    client, manager, django_capture_on_commit_callbacks
):
    broken = mock.patch("decisions.selectors.policy_simulation", side_effect=RuntimeError("boom"))
    with broken, django_capture_on_commit_callbacks(execute=True):
        simulation = policy_simulation_request(actor=manager, rules=DEFAULT_RULES)
    simulation.refresh_from_db()
    assert (simulation.status, simulation.error) == ("failed", "RuntimeError: boom")
    client.force_login(manager)
    html = client.get(reverse("decisions:simulation-detail", args=[simulation.pk])).content.decode()
    assert 'id="simulation-failed"' in html and "RuntimeError: boom" in html
    assert "hx-trigger" not in html


def test_the_page_polls_while_running_and_gives_up_on_a_lost_worker(client, analyst, version):
    simulation = policy_simulation_request(actor=analyst, rules=version.rules, policy=version)
    client.force_login(analyst)
    url = reverse("decisions:simulation-detail", args=[simulation.pk])
    running = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="simulation-running"' in running
    assert f'hx-get="{url}"' in running and 'hx-trigger="every 2s"' in running
    assert 'id="simulate"' not in running  # no second request while one runs

    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        lost = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'id="simulation-lost"' in lost and "hx-trigger" not in lost
    assert 'id="simulate"' in lost  # it can be run again


def test_the_editor_refuses_to_simulate_for_an_analyst(client, analyst):
    client.force_login(analyst)
    assert client.post(reverse("decisions:policy-simulate"), _editor_data()).status_code == 403
    assert not PolicySimulation.objects.exists()


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_reads_and_asks_for_a_version_simulation(
    client, request, role, version, django_capture_on_commit_callbacks
):
    client.force_login(request.getfixturevalue(role))
    url = reverse("decisions:policy-simulation", args=[version.pk])
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(url)
    assert asked.status_code == 302 and asked["Location"] == url
    simulation = PolicySimulation.objects.get()
    assert simulation.status == "done"
    for page in (url, reverse("decisions:simulation-detail", args=[simulation.pk])):
        html = client.get(page).content.decode()
        assert 'id="sim-total"' in html, page


@pytest.mark.parametrize("role", NOT_STAFF)
def test_borrowers_and_service_accounts_neither_ask_for_nor_read_simulations(
    client, request, role, manager, version
):
    simulation = policy_simulation_request(actor=manager, rules=version.rules, policy=version)
    client.force_login(request.getfixturevalue(role))
    url = reverse("decisions:policy-simulation", args=[version.pk])
    assert client.post(url).status_code == 403
    assert client.get(url).status_code == 403
    assert (
        client.get(reverse("decisions:simulation-detail", args=[simulation.pk])).status_code == 403
    )
    assert PolicySimulation.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in_from_simulations(client, manager, version):
    simulation = policy_simulation_request(actor=manager, rules=version.rules, policy=version)
    for response in (
        client.post(reverse("decisions:policy-simulation", args=[version.pk])),
        client.get(reverse("decisions:simulation-detail", args=[simulation.pk])),
    ):
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert PolicySimulation.objects.count() == 1
