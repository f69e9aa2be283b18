"""The linked-identities rule: rings found book-wide, households left alone, re-runs quiet."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from accounts.models import AuditEvent
from lending.models import Borrower, Device
from monitoring.choices import AlertCategory, RuleKind, RuleVersionStatus, Severity
from monitoring.models import Alert, Rule, RuleVersion
from monitoring.services.graph import (
    RING_DEFAULTS,
    RingParams,
    RingParamsInvalid,
    linked_identities_check,
    ring_params,
    rings_find,
)
from monitoring.signals import alerts_raised
from monitoring.tasks import linked_identities_check_task

pytestmark = pytest.mark.django_db
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 2, 1, 10, 0, tzinfo=TZ)


def _borrower(n: int, **extra: object) -> Borrower:
    fields = {
        "customer_no": f"C9{n:07d}",
        "name": "王五",
        "national_id": f"1101011990030{n:05d}",
        "national_id_last4": f"{n:04d}"[-4:],
        "mobile": f"137{n:08d}",
        "mobile_last4": f"{n:04d}"[-4:],
        "city": "Shanghai",
        "income_band": "5k_10k",
        "registered_at": T0 + timedelta(days=n % 7),
        "home_address": f"上海市延安路{n}号{n}室",
        **extra,
    }
    return Borrower.objects.create(**fields)


def _device(borrower: Borrower, device_id: str, ip: str | None = None) -> Device:
    return Device.objects.create(
        borrower=borrower,
        device_id=device_id,
        ip_address=ip,
        first_seen_at=borrower.registered_at,
        last_seen_at=borrower.registered_at,
    )


def _version(params: dict | None = None, status: str = RuleVersionStatus.ACTIVE) -> RuleVersion:
    """A version of the ring rule in `status`, replacing the shipped one (migration 0005)."""
    rule, _ = Rule.objects.get_or_create(
        kind=RuleKind.LINKED_IDENTITIES, defaults={"category": AlertCategory.FRAUD}
    )
    rule.versions.update(status=RuleVersionStatus.RETIRED)
    return RuleVersion.objects.create(
        rule=rule,
        version=rule.versions.count() + 1,
        params=params or dict(RING_DEFAULTS),
        severity=Severity.HIGH,
        status=status,
        created_at=T0,
    )


@pytest.fixture
def ring() -> list[Borrower]:
    """Four borrowers: two phones passed around, one Wi-Fi, one organiser as contact."""
    members = [_borrower(n, emergency_contact_mobile="13900000000") for n in range(1, 5)]
    for member in members[:2]:
        _device(member, "ring-phone-1", "61.10.20.30")
    for member in members[2:]:
        _device(member, "ring-phone-2", "61.10.20.30")
    return members


@pytest.fixture
def household() -> list[Borrower]:
    """A couple: one address, one shared phone on the home Wi-Fi, each the other's contact."""
    a = _borrower(101, home_address="上海市淮海路8号3室", mobile="13711110001")
    b = _borrower(
        102,
        home_address="上海市淮海路8号3室",
        mobile="13711110002",
        emergency_contact_mobile="13711110001",
    )
    Borrower.objects.filter(pk=a.pk).update(emergency_contact_mobile="13711110002")
    for member in (a, b):
        _device(member, "home-ipad", "58.1.2.3")
    return [a, b]


def test_a_ring_of_four_raises_one_alert_per_member_with_the_links_as_evidence(
    ring, household, django_capture_on_commit_callbacks
):
    _version()
    sent: list[list[int]] = []

    def receiver(sender: object, alert_ids: list[int], **kwargs: object) -> None:
        sent.append(alert_ids)

    alerts_raised.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = linked_identities_check_task.delay().get()
    finally:
        alerts_raised.disconnect(receiver)
    assert result["rings"] == 1 and result["alerts_raised"] == 4
    alerts = Alert.objects.order_by("borrower_id")
    assert [a.borrower_id for a in alerts] == [m.pk for m in ring]
    evidence = alerts[0].evidence
    assert evidence["ring_size"] == 4
    kinds = {link["kind"] for link in evidence["links"]}
    assert kinds == {"device", "network", "contact"}
    # Shown masked: the organiser's mobile and the Wi-Fi address never whole.
    assert "13900000000" not in str(evidence) and "61.10.20.30" not in str(evidence)
    assert all(a.category == AlertCategory.FRAUD and a.severity == Severity.HIGH for a in alerts)
    assert AuditEvent.objects.filter(action="alert.raised").count() == 4
    # Cases are grouped on the signal, once the alerts are committed.
    assert [sorted(ids) for ids in sent] == [sorted(a.pk for a in alerts)]


def test_a_household_pair_sharing_everything_raises_nothing(household):
    _version()
    result = linked_identities_check(actor=None)
    assert result.rings == 0
    assert not Alert.objects.exists()


def test_a_rerun_raises_nothing_twice_and_a_new_member_gets_only_their_own_alert(ring):
    _version()
    assert linked_identities_check(actor=None).alerts_raised == 4
    assert linked_identities_check(actor=None).alerts_raised == 0
    newcomer = _borrower(50)
    _device(newcomer, "ring-phone-2")
    again = linked_identities_check(actor=None)
    assert again.alerts_raised == 1
    assert Alert.objects.filter(borrower=newcomer).count() == 1
    assert Alert.objects.count() == 5


def test_three_is_the_threshold_at_the_default_and_k_is_honoured():
    a, b, c = (_borrower(n) for n in (201, 202, 203))
    _device(a, "p1")
    _device(b, "p1")
    _version({**RING_DEFAULTS, "ring_size": 4})
    _device(c, "p1")
    assert linked_identities_check(actor=None).rings == 0  # three members, K = 4
    RuleVersion.objects.update(params=dict(RING_DEFAULTS))
    assert linked_identities_check(actor=None).alerts_raised == 3


def test_a_value_shared_by_more_than_the_cap_links_nobody():
    people = [_borrower(300 + n) for n in range(6)]
    for person in people:
        _device(person, f"own-{person.pk}", "100.64.0.1")  # a carrier's NAT address
    _version({**RING_DEFAULTS, "max_per_value": 5})
    assert linked_identities_check(actor=None).rings == 0
    RuleVersion.objects.update(params={**RING_DEFAULTS, "max_per_value": 6})
    assert linked_identities_check(actor=None).rings == 1


def test_a_contact_who_is_a_borrower_links_them(household):
    """Chains through a contact's own mobile: C names B's mobile, so the pair becomes three."""
    third = _borrower(400, emergency_contact_mobile=household[0].mobile)
    _version()
    result = linked_identities_check(actor=None)
    assert result.rings == 1
    assert set(Alert.objects.values_list("borrower_id", flat=True)) == {
        household[0].pk,
        household[1].pk,
        third.pk,
    }


def test_no_active_version_means_no_run(ring):
    _version(status=RuleVersionStatus.SHADOW)
    assert linked_identities_check(actor=None).version_id is None
    assert not Alert.objects.exists()


def test_the_params_refuse_a_pair_threshold_and_a_cap_below_k():
    with pytest.raises(RingParamsInvalid) as refused:
        ring_params({"ring_size": 2})
    assert refused.value.extra["field"] == "ring_size"
    with pytest.raises(RingParamsInvalid):
        ring_params({"ring_size": 5, "max_per_value": 4})
    with pytest.raises(RingParamsInvalid):
        ring_params({"shoe_size": 41})
    none = dict.fromkeys(("link_devices", "link_networks", "link_addresses"), False)
    with pytest.raises(RingParamsInvalid):
        ring_params({**none, "link_contacts": False})


def test_the_component_search_is_pure_and_point_in_time_by_its_rows():
    at = T0
    rows = [
        (1, "device", "d", at),
        (2, "device", "d", at + timedelta(days=1)),
        (3, "address", "x", at + timedelta(days=3)),
        (2, "address", "x", at + timedelta(days=2)),
        (9, "device", "lonely", at),
    ]
    (found,) = rings_find(rows, params=RingParams())
    assert found.members == [1, 2, 3]
    assert found.formed_at == at + timedelta(days=3)
    assert rings_find(rows[:2], params=RingParams()) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_raise_each_ring_alert_once():
    """The nightly run and a manual one after seeding, racing: the version's row lock queues
    the second, which then finds the first's alerts (PostgreSQL: SQLite serializes anyway)."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serializes writers; the race needs PostgreSQL's row locks")
    members = [_borrower(n, emergency_contact_mobile="13900000000") for n in range(1, 6)]
    for member in members:
        _device(member, "race-phone")
    _version()
    start = threading.Barrier(2)
    raised: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            raised.append(linked_identities_check(actor=None).alerts_raised)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(raised) == [0, 5]
    assert Alert.objects.count() == 5
