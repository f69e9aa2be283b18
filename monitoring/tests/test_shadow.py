"""Shadow versions: judged on live events beside the active version, hits stored not raised,
compared with the rule's alerts (both / only shadow / only active); replays store nothing
twice; the ring rule's shadow is judged book-wide with the nightly run."""

from __future__ import annotations

import pytest

from monitoring.choices import RuleKind, RuleVersionStatus
from monitoring.models import Alert, RuleVersion, ShadowHit
from monitoring.services import event_ingest
from monitoring.services.rules import rule_version_draft, rule_version_shadow
from monitoring.services.shadow import shadow_comparison, shadow_rings_record
from monitoring.tests.factories import DrawdownEventFactory, LineOpenedEventFactory

pytestmark = pytest.mark.django_db
VELOCITY = RuleKind.SMALL_DRAWDOWN_VELOCITY


def _shadow(manager, **params) -> RuleVersion:
    rule = RuleVersion.objects.get(rule__kind=VELOCITY, status=RuleVersionStatus.ACTIVE).rule
    draft = rule_version_draft(actor=manager, rule=rule, params=params, note="shadow trial")
    return rule_version_shadow(actor=manager, version=draft)


def _customer(n: int) -> str:
    opened = LineOpenedEventFactory(customer_no=f"C62{n:06d}", mobile=f"1381234{n:04d}")
    event_ingest(actor=None, events=[opened])
    return opened["customer_no"]


def _burst(customer_no: str, count: int, amount: str = "500.00") -> list[dict]:
    return [
        DrawdownEventFactory(
            customer_no=customer_no,
            loan_no=f"L{customer_no}-{n}",
            amount=amount,
            occurred_at=f"2026-02-01T1{n}:00:00+08:00",
            card_no=f"62220200{customer_no[-6:]}00",
        )
        for n in range(count)
    ]


def test_a_shadow_version_is_compared_with_the_alerts_both_ways(manager):
    """Active: 4 small drawdowns of at most 1,000 in 24 h. Shadow: 3 of at most 400.

    Borrower one draws 4 x 300: both fire (on the 3rd for the shadow, the 4th for the active:
    different loans, so different keys: one only-shadow hit and one only-active alert).
    Borrower two draws 3 x 300: only the shadow fires. Borrower three draws 4 x 800: only the
    active fires."""
    shadow = _shadow(manager, count=3, max_amount="400.00")
    one, two, three = (_customer(n) for n in range(3))
    event_ingest(actor=None, events=_burst(one, 4, "300.00"))
    event_ingest(actor=None, events=_burst(two, 3, "300.00"))
    event_ingest(actor=None, events=_burst(three, 4, "800.00"))
    hits = ShadowHit.objects.filter(rule_version=shadow)
    # The shadow fires on every drawdown that completes 3: the 3rd and 4th of one, the 3rd of two.
    assert hits.count() == 3
    alerts = Alert.objects.filter(rule_version__rule__kind=VELOCITY)
    assert alerts.count() == 2 and not alerts.filter(rule_version=shadow).exists()
    comparison = shadow_comparison(shadow=shadow)
    # one's 4th drawdown: both; one's 3rd and two's 3rd: only shadow; three's 4th: only active.
    assert (comparison.both, comparison.only_shadow, comparison.only_active) == (1, 2, 1)
    assert {row["customer_no"] for row in comparison.rows_only_active} == {three}
    assert {row["customer_no"] for row in comparison.rows_only_shadow} == {one, two}


def test_a_replayed_batch_stores_no_shadow_hit_twice(manager):
    shadow = _shadow(manager, count=2)
    customer = _customer(1)
    events = _burst(customer, 2)
    event_ingest(actor=None, events=events)
    event_ingest(actor=None, events=events)
    assert ShadowHit.objects.filter(rule_version=shadow).count() == 1


def test_a_version_in_draft_is_not_judged_on_live_events(manager):
    rule = RuleVersion.objects.get(rule__kind=VELOCITY, status=RuleVersionStatus.ACTIVE).rule
    rule_version_draft(actor=manager, rule=rule, params={"count": 2}, note="not yet")
    event_ingest(actor=None, events=_burst(_customer(1), 2))
    assert not ShadowHit.objects.exists()


def test_the_ring_rules_shadow_version_stores_its_rings_and_raises_nothing(manager):
    from monitoring.tests.test_graph import _borrower, _device

    members = [_borrower(n) for n in range(1, 4)]
    for member in members:
        _device(member, "shared-phone")
    rule = RuleVersion.objects.get(
        rule__kind=RuleKind.LINKED_IDENTITIES, status=RuleVersionStatus.ACTIVE
    ).rule
    draft = rule_version_draft(actor=manager, rule=rule, params={"ring_size": 3}, note="K=3")
    shadow = rule_version_shadow(actor=manager, version=draft)
    assert shadow_rings_record() == 3
    assert shadow_rings_record() == 0  # the nightly re-run stores nothing twice
    assert not Alert.objects.filter(rule_version=shadow).exists()
