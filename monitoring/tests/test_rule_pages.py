"""The rule pages: who sees and who changes what (the role matrix), the version editor's
validation, the buttons that move a version, and the test panel that records nothing."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from monitoring.choices import RuleKind, RuleVersionStatus
from monitoring.models import Alert, Event, RuleVersion, ShadowHit
from monitoring.services import event_ingest
from monitoring.tests.factories import DrawdownEventFactory

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
VELOCITY = RuleKind.SMALL_DRAWDOWN_VELOCITY

STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]
EDITORS = {"manager", "head_of_risk", "admin_user"}


def _login(client, request, who):
    user = request.getfixturevalue(who)
    client.force_login(user)
    return user


@pytest.mark.parametrize("who", STAFF)
def test_every_risk_staff_member_reads_the_rules_list_and_a_rule(client, request, who):
    _login(client, request, who)
    page = client.get(reverse("monitoring:rule-list"))
    assert page.status_code == 200
    assert b'id="rule-small_drawdown_velocity"' in page.content
    detail = client.get(reverse("monitoring:rule-detail", args=[VELOCITY]))
    assert detail.status_code == 200
    # The editor's buttons only for those who may use them.
    assert (b'id="new-version"' in detail.content) == (who in EDITORS)
    assert (b'id="backtest-form"' in detail.content) == (who in EDITORS)


def test_a_borrower_and_an_anonymous_visitor_are_kept_out(client, borrower_user):
    url = reverse("monitoring:rule-list")
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(borrower_user)
    assert client.get(url).status_code == 403
    assert client.get(reverse("monitoring:rule-detail", args=[VELOCITY])).status_code == 403


@pytest.mark.parametrize("who", STAFF)
def test_only_managers_open_the_editor_and_move_versions(client, request, who):
    _login(client, request, who)
    editor = client.get(reverse("monitoring:rule-version-new", args=[VELOCITY]))
    assert editor.status_code == (200 if who in EDITORS else 403)
    active = RuleVersion.objects.get(rule__kind=VELOCITY, status=RuleVersionStatus.ACTIVE)
    moved = client.post(
        reverse("monitoring:rule-version-action", args=[VELOCITY, active.version]),
        {"action": "retire"},
    )
    assert moved.status_code == (302 if who in EDITORS else 403)
    active.refresh_from_db()
    expected = RuleVersionStatus.RETIRED if who in EDITORS else RuleVersionStatus.ACTIVE
    assert active.status == expected


def test_an_unknown_rule_is_404(client, analyst):
    client.force_login(analyst)
    assert client.get(reverse("monitoring:rule-detail", args=["no_such_rule"])).status_code == 404


def _editor_post(client, **overrides):
    data = {
        "p_count": "3",
        "p_max_amount": "800.00",
        "p_window_hours": "12",
        "severity": "3",
        "enabled": "on",
        "note": "Tighter after the March bursts",
        **overrides,
    }
    return client.post(reverse("monitoring:rule-version-new", args=[VELOCITY]), data)


def test_a_manager_drafts_a_version_with_new_thresholds_then_activates_it(client, manager):
    client.force_login(manager)
    answer = _editor_post(client)
    assert answer.status_code == 302
    draft = RuleVersion.objects.get(rule__kind=VELOCITY, status=RuleVersionStatus.DRAFT)
    assert draft.params == {"count": 3, "max_amount": "800.00", "window_hours": "12"}
    assert draft.severity == 3 and draft.created_by == manager
    page = client.get(reverse("monitoring:rule-detail", args=[VELOCITY]))
    assert b"Tighter after the March bursts" in page.content
    client.post(
        reverse("monitoring:rule-version-action", args=[VELOCITY, draft.version]),
        {"action": "activate"},
    )
    draft.refresh_from_db()
    assert draft.status == RuleVersionStatus.ACTIVE
    assert AuditEvent.objects.filter(action="rule.version_activated", actor=manager).exists()


def test_the_editor_refuses_a_threshold_below_its_minimum_and_names_the_field(client, manager):
    client.force_login(manager)
    answer = _editor_post(client, p_count="1", p_window_hours="abc")
    assert answer.status_code == 400
    form = answer.context["form"]
    assert "p_count" in form.errors and "p_window_hours" in form.errors
    assert not RuleVersion.objects.filter(status=RuleVersionStatus.DRAFT).exists()


def test_the_ring_rule_editor_refuses_a_cap_below_the_ring_size(client, manager):
    client.force_login(manager)
    url = reverse("monitoring:rule-version-new", args=[RuleKind.LINKED_IDENTITIES])
    page = client.get(url)
    assert b'name="p_ring_size"' in page.content and b'min="3"' in page.content
    answer = client.post(
        url,
        {
            "p_ring_size": "6",
            "p_max_per_value": "5",
            "p_link_devices": "on",
            "severity": "3",
            "enabled": "on",
            "note": "x",
        },
    )
    assert answer.status_code == 400
    assert "p_max_per_value" in answer.context["form"].errors


def test_running_a_draft_in_shadow_stores_its_hits_and_raises_no_alert(
    client, manager, borrower_record
):
    """A shadow version counting 2 small drawdowns fires where the active one (4) does not."""
    client.force_login(manager)
    _editor_post(client, p_count="2", p_max_amount="1000.00", p_window_hours="24")
    draft = RuleVersion.objects.get(rule__kind=VELOCITY, status=RuleVersionStatus.DRAFT)
    client.post(
        reverse("monitoring:rule-version-action", args=[VELOCITY, draft.version]),
        {"action": "shadow"},
    )
    draft.refresh_from_db()
    assert draft.status == RuleVersionStatus.SHADOW
    events = [
        DrawdownEventFactory(amount="500.00", occurred_at=f"2026-02-01T1{n}:00:00+08:00")
        for n in range(2)
    ]
    event_ingest(actor=None, events=events)
    event_ingest(actor=None, events=events)  # a replay stores nothing twice
    assert ShadowHit.objects.filter(rule_version=draft).count() == 1
    assert not Alert.objects.filter(rule_version__rule__kind=VELOCITY).exists()
    page = client.get(reverse("monitoring:rule-detail", args=[VELOCITY]))
    assert page.context["comparison"].only_shadow == 1
    assert page.context["comparison"].both == 0


def test_the_test_panel_shows_hits_on_a_sample_drawdown_and_records_nothing(
    client, analyst, borrower_record
):
    client.force_login(analyst)
    active = RuleVersion.objects.get(rule__kind=RuleKind.OFF_HOURS_WITHDRAWAL, status="active")
    before = (Event.objects.count(), Alert.objects.count(), ShadowHit.objects.count())
    answer = client.post(
        reverse("monitoring:rule-test", args=[RuleKind.OFF_HOURS_WITHDRAWAL]),
        {
            "version": active.pk,
            "customer_no": borrower_record.customer_no,
            "kind": "drawdown",
            "amount": "15000.00",
            "occurred_at": "2026-03-10T03:10",
        },
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200
    hits = answer.context["hits"]
    assert hits and hits[0].hit.kind == RuleKind.OFF_HOURS_WITHDRAWAL
    assert (Event.objects.count(), Alert.objects.count(), ShadowHit.objects.count()) == before
    daytime = client.post(
        reverse("monitoring:rule-test", args=[RuleKind.OFF_HOURS_WITHDRAWAL]),
        {
            "version": active.pk,
            "customer_no": borrower_record.customer_no,
            "kind": "drawdown",
            "amount": "15000.00",
            "occurred_at": "2026-03-10T11:10",
        },
        HTTP_HX_REQUEST="true",
    )
    assert daytime.context["hits"] == []
    assert b'id="test-no-hit"' in daytime.content


def test_the_test_panel_names_an_unknown_event_id(client, analyst):
    client.force_login(analyst)
    active = RuleVersion.objects.get(rule__kind=VELOCITY, status="active")
    answer = client.post(
        reverse("monitoring:rule-test", args=[VELOCITY]),
        {"version": active.pk, "event_id": "evt-nope"},
        HTTP_HX_REQUEST="true",
    )
    assert "event_id" in answer.context["test_form"].errors


def test_precision_counts_confirmed_against_false_positive_cases_of_the_version(
    client, analyst, borrower_record
):
    from monitoring.models import Case, Queue

    active = RuleVersion.objects.get(rule__kind=VELOCITY, status="active")
    queue, _ = Queue.objects.get_or_create(kind="fraud")
    at = datetime(2026, 3, 1, 12, 0, tzinfo=TZ)
    outcomes = ["confirmed_fraud", "confirmed_fraud", "confirmed_fraud", "false_positive", "other"]
    for n, disposition in enumerate(outcomes):
        case = Case.objects.create(
            borrower=borrower_record,
            queue=queue,
            category="",
            status="resolved",
            disposition=disposition,
            opened_at=at,
            due_at=at,
        )
        Alert.objects.create(
            borrower=borrower_record,
            rule_version=active,
            category="fraud",
            severity=2,
            occurred_at=at,
            raised_at=at,
            dedupe_key=f"k{n}",
            case=case,
        )
    client.force_login(analyst)
    page = client.get(reverse("monitoring:rule-list"))
    row = next(r for r in page.context["rows"] if r.rule.kind == VELOCITY)
    # 3 confirmed of 4 resolved either way; "other" counts neither way.
    assert (row.precision.confirmed, row.precision.resolved) == (3, 4)
    assert b"75%" in page.content


# --- the API: the same permissions as the pages -------------------------------------------------


@pytest.mark.parametrize("who", STAFF)
def test_every_risk_staff_member_reads_rules_over_the_api(client, request, who):
    _login(client, request, who)
    listed = client.get(reverse("rule-list-api"))
    assert listed.status_code == 200
    row = next(r for r in listed.json() if r["kind"] == VELOCITY)
    assert row["active_version"] == 1 and row["enabled"] is True
    detail = client.get(reverse("rule-detail-api", args=[VELOCITY]))
    assert detail.status_code == 200
    assert detail.json()["versions"][0]["params"]["count"] == 4


def test_borrowers_and_the_service_account_are_refused_by_the_rules_api(
    client, borrower_user, service_user
):
    for user in (borrower_user, service_user):
        client.force_login(user)
        assert client.get(reverse("rule-list-api")).status_code == 403


@pytest.mark.parametrize("who", STAFF)
def test_only_managers_draft_and_activate_over_the_api(client, request, who):
    _login(client, request, who)
    drafted = client.post(
        reverse("rule-version-draft-api", args=[VELOCITY]),
        {"params": {"count": 5}, "note": "api draft"},
        content_type="application/json",
    )
    if who not in EDITORS:
        assert drafted.status_code == 403
        assert not RuleVersion.objects.filter(status="draft").exists()
        return
    assert drafted.status_code == 201
    assert drafted.json()["params"]["count"] == 5
    number = drafted.json()["version"]
    moved = client.post(reverse("rule-version-action-api", args=[VELOCITY, number, "activate"]))
    assert moved.status_code == 200 and moved.json()["status"] == "active"
    again = client.post(reverse("rule-version-action-api", args=[VELOCITY, number, "activate"]))
    assert again.status_code == 409
    assert again.json()["code"] == "rule_version_wrong_status"


def test_an_invalid_threshold_over_the_api_is_409_naming_the_parameter(client, manager):
    client.force_login(manager)
    answer = client.post(
        reverse("rule-version-draft-api", args=[VELOCITY]),
        {"params": {"count": 1}, "note": "too loose"},
        content_type="application/json",
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "rule_params_invalid"
    assert "count" in answer.json()["extra"]["errors"]


def test_the_test_panel_judges_a_recorded_event_by_a_draft_as_of_its_own_time(
    client, manager, borrower_record
):
    """Three small drawdowns were recorded; the active version (4) raised nothing. A draft
    counting 3 fires on the third when tried on it, and on the second it does not."""
    events = [
        DrawdownEventFactory(amount="500.00", occurred_at=f"2026-02-01T1{n}:00:00+08:00")
        for n in range(3)
    ]
    event_ingest(actor=None, events=events)
    client.force_login(manager)
    _editor_post(client, p_count="3", p_max_amount="1000.00", p_window_hours="24")
    draft = RuleVersion.objects.get(rule__kind=VELOCITY, status=RuleVersionStatus.DRAFT)
    url = reverse("monitoring:rule-test", args=[VELOCITY])
    third = client.post(
        url, {"version": draft.pk, "event_id": events[2]["event_id"]}, HTTP_HX_REQUEST="true"
    )
    (hit,) = third.context["hits"]
    assert hit.hit.evidence["count"] == 3
    assert b"loan_nos" in third.content  # the evidence is shown
    second = client.post(
        url, {"version": draft.pk, "event_id": events[1]["event_id"]}, HTTP_HX_REQUEST="true"
    )
    assert second.context["hits"] == []
    assert not Alert.objects.exists() and not ShadowHit.objects.exists()
