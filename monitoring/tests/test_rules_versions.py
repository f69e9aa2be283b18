"""Rule and list versions: who may change them, a version's thresholds apply only once it is
active, shadow versions raise nothing, lists take effect by version; and the no-write form
of evaluation that backtests and the demo use."""

from __future__ import annotations

import pytest
import time_machine

from accounts.models import AuditEvent
from monitoring.choices import ListKind, RuleKind, RuleVersionStatus
from monitoring.errors.rules import (
    ListEntriesInvalid,
    RuleEditNotAllowed,
    RuleParamsInvalid,
    RuleVersionWrongStatus,
)
from monitoring.models import Alert, Event, ListVersion, ManagedList, Rule, RuleVersion
from monitoring.services import (
    events_hits,
    list_version_activate,
    list_version_draft,
    rule_version_activate,
    rule_version_draft,
    rule_version_retire,
    rule_version_shadow,
    rules_ensure_defaults,
)
from monitoring.tests.factories import TransferOutEventFactory
from monitoring.tests.rules_helpers import alerts, drawdown, feb, post

pytestmark = pytest.mark.django_db
VELOCITY = RuleKind.SMALL_DRAWDOWN_VELOCITY


@pytest.fixture(autouse=True)
def _rules(borrower_record):
    rules_ensure_defaults()


def _rule(kind: str = VELOCITY) -> Rule:
    return Rule.objects.get(kind=kind)


def test_every_shipped_rule_and_list_has_one_active_first_version_and_ensuring_again_adds_none():
    assert rules_ensure_defaults() == []
    assert set(Rule.objects.values_list("kind", flat=True)) == set(RuleKind.values)
    assert RuleVersion.objects.filter(status="active").count() == len(RuleKind.values)
    assert ListVersion.objects.filter(status="active", entries=[]).count() == len(ListKind.values)


def test_a_drafted_threshold_applies_only_once_the_version_is_active(manager):
    draft = rule_version_draft(actor=manager, rule=_rule(), params={"count": 2}, note="tighter")
    assert draft.params == {"count": 2, "max_amount": "1000.00", "window_hours": "24"}
    post(drawdown(feb(2, 10)), drawdown(feb(2, 11)))
    assert alerts(VELOCITY) == []

    rule_version_activate(actor=manager, version=draft)
    post(drawdown(feb(5, 10)), drawdown(feb(5, 11)))

    (alert,) = alerts(VELOCITY)
    assert alert.rule_version == draft
    assert list(_rule().versions.values_list("version", "status")) == [
        (2, "active"),
        (1, "retired"),
    ]
    assert AuditEvent.objects.filter(action="rule.version_activated", actor=manager).exists()


def test_a_version_in_shadow_raises_no_alert(manager):
    draft = rule_version_draft(actor=manager, rule=_rule(), params={"count": 2})
    rule_version_shadow(actor=manager, version=draft)

    post(drawdown(feb(2, 10)), drawdown(feb(2, 11)))

    assert alerts(VELOCITY) == []


def test_a_retired_active_version_switches_the_rule_off(manager):
    active = _rule().versions.get(status="active")
    rule_version_retire(actor=manager, version=active)

    post(*[drawdown(feb(2, h)) for h in range(10, 16)])

    assert alerts(VELOCITY) == []
    with pytest.raises(RuleVersionWrongStatus):
        rule_version_activate(actor=manager, version=active)


def test_an_analyst_may_not_change_a_rule_or_a_list(analyst):
    with pytest.raises(RuleEditNotAllowed):
        rule_version_draft(actor=analyst, rule=_rule(), params={"count": 2})
    with pytest.raises(RuleEditNotAllowed):
        list_version_draft(
            actor=analyst,
            managed_list=ManagedList.objects.get(kind=ListKind.KNOWN_LENDERS),
            entries=["x"],
        )
    assert RuleVersion.objects.filter(status="draft").count() == 0


def test_invalid_thresholds_are_refused_each_by_name(head_of_risk):
    with pytest.raises(RuleParamsInvalid) as refused:
        rule_version_draft(
            actor=head_of_risk,
            rule=_rule(),
            params={"count": 1, "max_amount": "lots", "windows": 3},
        )

    assert set(refused.value.extra["errors"]) == {"count", "max_amount", "windows"}
    assert not RuleVersion.objects.filter(status="draft").exists()


def _lenders(actor, *entries: str, at: str):
    """A new version of the known-lenders list with these entries, activated at `at`."""
    draft = list_version_draft(
        actor=actor,
        managed_list=ManagedList.objects.get(kind=ListKind.KNOWN_LENDERS),
        entries=list(entries),
    )
    with time_machine.travel(at, tick=False):
        return list_version_activate(actor=actor, version=draft)


def test_a_known_lender_counts_only_once_its_list_version_is_active(manager):
    transfer = {"counterparty_is_lender": False, "amount": "400.00"}
    draft = list_version_draft(
        actor=manager,
        managed_list=ManagedList.objects.get(kind=ListKind.KNOWN_LENDERS),
        entries=["某某小贷", " 某某小贷 ", "Other Lender Co"],
    )
    assert draft.entries == ["other lender co", "某某小贷"]
    post(drawdown(feb(2, 10)), TransferOutEventFactory(occurred_at=feb(2, 11), **transfer))
    assert alerts(RuleKind.BORROW_TO_REPAY) == []

    with time_machine.travel(feb(3, 0), tick=False):
        list_version_activate(actor=manager, version=draft)
    post(drawdown(feb(3, 10)), TransferOutEventFactory(occurred_at=feb(3, 11), **transfer))

    assert len(alerts(RuleKind.BORROW_TO_REPAY)) == 1
    with pytest.raises(RuleVersionWrongStatus):
        list_version_activate(actor=manager, version=draft)


def test_each_event_is_judged_with_the_list_in_force_at_its_own_time(manager):
    """某某小贷 joins the known lenders on 3 February and leaves on 5 February. Transfers to
    it are judged by the list of their own day: a back-filled one from 2 February, received
    after it joined, is not an episode; one from 4 February is; a replay in March, after it
    left, still says so; one from 6 February is not."""
    transfer = {"counterparty_is_lender": False, "amount": "400.00"}
    _lenders(manager, "某某小贷", at=feb(3, 0))
    _lenders(manager, at=feb(5, 0))
    for day in (4, 2, 6):  # 2 February arrives late: back-filled after the change
        post(drawdown(feb(day, 10)), TransferOutEventFactory(occurred_at=feb(day, 11), **transfer))

    (alert,) = alerts(RuleKind.BORROW_TO_REPAY)
    assert alert.occurred_at.isoformat() == "2026-02-04T03:00:00+00:00"
    version = RuleVersion.objects.get(rule__kind=RuleKind.BORROW_TO_REPAY, status="active")
    replayed = events_hits(
        events=Event.objects.filter(kind="transfer_out").order_by("occurred_at"),
        versions=[version],
    )
    assert [h.hit.occurred_at.isoformat() for h in replayed] == ["2026-02-04T03:00:00+00:00"]


def test_a_trusted_employer_listed_after_a_night_withdrawal_does_not_clear_it_on_replay(
    manager, borrower_record
):
    """The borrower's employer (Acme) is trusted from 10 February: a replay of a large
    withdrawal at 01:00 on 3 February still alerts; one on 11 February does not."""
    off_hours = RuleVersion.objects.get(rule__kind=RuleKind.OFF_HOURS_WITHDRAWAL, status="active")
    post(drawdown(feb(3, 1), "6000.00"), drawdown(feb(11, 1), "6000.00"))
    draft = list_version_draft(
        actor=manager,
        managed_list=ManagedList.objects.get(kind=ListKind.TRUSTED_EMPLOYERS),
        entries=["ACME"],
    )
    with time_machine.travel(feb(10, 0), tick=False):
        list_version_activate(actor=manager, version=draft)
    replayed = events_hits(
        events=Event.objects.filter(kind="drawdown").order_by("occurred_at"), versions=[off_hours]
    )
    assert [h.hit.occurred_at.isoformat() for h in replayed] == ["2026-02-02T17:00:00+00:00"]


def test_list_entries_must_be_short_text(manager):
    with pytest.raises(ListEntriesInvalid):
        list_version_draft(
            actor=manager,
            managed_list=ManagedList.objects.get(kind=ListKind.BLOCKED_CARDS),
            entries=["6222", 42, "x" * 101],
        )


def test_the_no_write_form_gives_a_drafts_hits_and_writes_nothing(manager):
    post(*[drawdown(feb(2, 10 + h)) for h in range(3)])
    draft = rule_version_draft(actor=manager, rule=_rule(), params={"count": 2})
    before = Alert.objects.count()

    hits = events_hits(events=Event.objects.filter(kind="drawdown"), versions=[draft])

    assert [h.hit.evidence["count"] for h in hits] == [2, 3]
    assert {h.version for h in hits} == {draft}
    assert Alert.objects.count() == before
    assert draft.status == RuleVersionStatus.DRAFT
