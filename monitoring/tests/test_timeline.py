"""The borrower's timeline: everything that happened, newest first, filterable by kind, paged
without gaps or repeats, in a bounded number of queries, for risk staff only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from decisions.models import Score, ScorecardModel
from lending.choices import PiiField
from lending.models import Borrower
from lending.services import line_freeze, line_limit_set, pii_reveal
from monitoring.choices import AlertCategory, CaseStatus, QueueKind, RuleKind, Severity
from monitoring.models import Alert, Case, Queue, Rule, RuleVersion
from monitoring.selectors.timeline import KINDS, Cursor, borrower_timeline
from monitoring.services import event_ingest
from monitoring.tests.factories import (
    BankAccountChangeEventFactory,
    DeviceChangeEventFactory,
    DrawdownEventFactory,
    LoginEventFactory,
    RepaymentEventFactory,
    TransferOutEventFactory,
)

pytestmark = pytest.mark.django_db

STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]


def _ingest(service_user, *events) -> None:
    results = event_ingest(actor=service_user, events=list(events))
    assert all(r.get("status") in {"recorded", "replayed"} for r in results), results


@pytest.fixture
def history(borrower_record: Borrower, service_user, senior_analyst, manager, frozen_now):
    """One borrower with a bit of everything: two loans (one with a missed due date), a
    repayment, a login, a new device and bank card, a transfer to another lender, a reveal,
    a limit change, a freeze, two scores, an alert and its case."""
    borrower = borrower_record
    _ingest(
        service_user,
        DrawdownEventFactory(loan_no="L-MISS", occurred_at="2026-01-10T10:00:00+08:00"),
        DrawdownEventFactory(loan_no="L-PAID", occurred_at="2026-02-01T10:00:00+08:00"),
        TransferOutEventFactory(counterparty_is_lender=True),
        LoginEventFactory(),
        DeviceChangeEventFactory(),
        BankAccountChangeEventFactory(),
        RepaymentEventFactory(loan_no="L-PAID"),
    )
    pii_reveal(
        actor=senior_analyst,
        borrower=borrower,
        field=PiiField.MOBILE,
        reason="Calling about the missed instalment",
    )
    line_limit_set(
        actor=manager, line=borrower.line, new_limit=Decimal("15000.00"), reason_code="manual"
    )
    line_freeze(actor=manager, line=borrower.line, reason="Arrears review")
    model = ScorecardModel.objects.create(
        name="book",
        version=1,
        target="90+",
        base_score=600,
        base_odds=50,
        pdo=20,
        auc=0.7,
        ks=0.3,
        gini=0.4,
        train_rows=70,
        test_rows=30,
        bad_rate=0.08,
        created_at=frozen_now - timedelta(days=60),
    )
    for days, total in ((20, 610), (19, 610), (5, 560)):  # the unchanged re-score is left out
        Score.objects.create(
            borrower=borrower,
            model=model,
            total=total,
            inputs={},
            reasons=["R02", "R08"],
            as_of=(frozen_now - timedelta(days=days)).date(),
            scored_at=frozen_now - timedelta(days=days),
        )
    # Rules and queues may be seeded by migrations: reuse them, add a version of our own.
    rule, _ = Rule.objects.get_or_create(
        kind=RuleKind.BORROW_TO_REPAY, defaults={"category": AlertCategory.FRAUD}
    )
    version = RuleVersion.objects.create(
        rule=rule,
        version=(rule.versions.count() + 1) * 10,
        severity=Severity.HIGH,
        status="retired",
        created_at=frozen_now,
    )
    queue, _ = Queue.objects.get_or_create(kind=QueueKind.FRAUD)
    case = Case.objects.create(
        borrower=borrower,
        queue=queue,
        category=AlertCategory.FRAUD,
        opened_at=frozen_now - timedelta(days=3),
        due_at=frozen_now + timedelta(days=1),
    )
    Alert.objects.create(
        borrower=borrower,
        rule_version=version,
        category=AlertCategory.FRAUD,
        severity=Severity.HIGH,
        occurred_at=frozen_now - timedelta(days=3, minutes=1),
        raised_at=frozen_now - timedelta(days=3),
        dedupe_key="t-1",
        case=case,
    )
    return borrower


def _timeline(client, user, borrower, **params):
    client.force_login(user)
    return client.get(
        reverse("monitoring:borrower-timeline", args=[borrower.pk]), params, HTTP_HX_REQUEST="true"
    )


def test_the_timeline_tells_everything_newest_first(analyst, history):
    page = borrower_timeline(user=analyst, borrower_id=history.pk, size=100)
    kinds = {e.kind for e in page.entries}

    expected = {
        "drawdown",
        "repayment",
        "missed",
        "transfer",
        "login",
        "device",
        "bank_account",
        "reveal",
        "limit",
        "change",
        "score",
        "alert",
        "case",
    }
    assert expected <= kinds
    keys = [e.key for e in page.entries]
    assert keys == sorted(keys, reverse=True)
    assert not page.next_cursor
    # The nightly re-score that changed nothing is not news; the drop is.
    scores = [e.text for e in page.entries if e.kind == "score"]
    assert len(scores) == 2 and "610 → 560" in scores[0]


def test_transfers_to_lenders_late_instalments_and_foreign_repayments_are_marked(analyst, history):
    entries = borrower_timeline(user=analyst, borrower_id=history.pk, size=100).entries
    transfer = next(e for e in entries if e.kind == "transfer")
    assert transfer.badge == "Another lender"
    missed = [e for e in entries if e.kind == "missed"]
    assert missed and all("L-MISS" in e.text for e in missed)
    assert {e.badge for e in missed} == {"Unpaid"}


def test_audit_rows_read_as_sentences_not_codes(client, analyst, history):
    html = _timeline(client, analyst, history).content.decode()

    assert "Limit changed from ¥20,000.00 to ¥15,000.00 by" in html
    assert "revealed the mobile number: reason “Calling about the missed instalment”" in html
    assert "Line frozen by" in html
    for code in ("line.limit_changed", "pii.revealed", "line.frozen", "{&quot;"):
        assert code not in html


def test_the_timeline_renders_in_chinese_too(client, analyst, history):
    client.force_login(analyst)
    with translation.override("zh-hans"):
        response = client.get(
            reverse("monitoring:borrower-timeline", args=[history.pk]),
            HTTP_HX_REQUEST="true",
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )
    html = response.content.decode()
    assert response.status_code == 200
    # Amounts keep their grouping and the reason its words, whatever the language.
    assert "¥20,000.00" in html and "¥15,000.00" in html
    assert "Calling about the missed instalment" in html
    assert "line.limit_changed" not in html


def test_kind_chips_filter_the_timeline(client, analyst, history):
    response = _timeline(client, analyst, history, kind=["reveal", "transfer"])
    entries = response.context["page"].entries

    assert {e.kind for e in entries} == {"reveal", "transfer"}
    html = response.content.decode()
    assert 'value="reveal" checked' in html and 'value="drawdown" checked' not in html


def test_an_unknown_kind_shows_everything(client, analyst, history):
    response = _timeline(client, analyst, history, kind="bogus")
    assert len({e.kind for e in response.context["page"].entries}) > 5


def test_pages_walk_the_whole_timeline_without_gaps_or_repeats(analyst, history):
    whole = [
        e.key for e in borrower_timeline(user=analyst, borrower_id=history.pk, size=500).entries
    ]
    walked: list = []
    cursor = None
    while True:
        page = borrower_timeline(user=analyst, borrower_id=history.pk, cursor=cursor, size=4)
        walked.extend(e.key for e in page.entries)
        if not page.next_cursor:
            break
        cursor = Cursor.decode(page.next_cursor)
    assert walked == whole


def test_show_older_returns_only_the_next_rows(client, analyst, history):
    first = borrower_timeline(user=analyst, borrower_id=history.pk, size=30)
    response = _timeline(client, analyst, history, cursor=first.next_cursor or "0.0.0")
    assert response.status_code == 200
    assert 'id="h-timeline"' not in response.content.decode()  # rows only, appended in place


def test_a_tampered_cursor_starts_from_the_top(client, analyst, history):
    response = _timeline(client, analyst, history, cursor="9999999999999999999.x")
    assert response.status_code == 200
    assert response.context["page"].first


def test_without_javascript_the_timeline_is_a_page_of_its_own(client, analyst, history):
    client.force_login(analyst)
    response = client.get(reverse("monitoring:borrower-timeline", args=[history.pk]))
    assert response.status_code == 200
    assert "<html" in response.content.decode()


def test_the_timeline_costs_the_same_queries_however_long_the_history(
    client, analyst, history, service_user, django_assert_max_num_queries
):
    client.force_login(analyst)
    url = reverse("monitoring:borrower-timeline", args=[history.pk])
    client.get(url, HTTP_HX_REQUEST="true")
    with django_assert_max_num_queries(100) as short:
        client.get(url, HTTP_HX_REQUEST="true")
    base = len(short.captured_queries)
    _ingest(
        service_user,
        *[
            LoginEventFactory(occurred_at=f"2026-02-{d:02d}T2{h}:00:00+08:00")
            for d in range(5, 25)
            for h in range(3)
        ],
        *[
            TransferOutEventFactory(occurred_at=f"2026-02-{d:02d}T11:00:00+08:00")
            for d in range(5, 25)
        ],
    )
    with django_assert_max_num_queries(base):
        response = client.get(url, HTTP_HX_REQUEST="true")
    assert len(response.context["page"].entries) == 30


def test_the_borrower_page_costs_the_same_queries_however_long_the_history(
    client, analyst, history, service_user, django_assert_max_num_queries
):
    client.force_login(analyst)
    url = reverse("lending:borrower-detail", args=[history.pk])
    client.get(url)
    with django_assert_max_num_queries(100) as short:
        client.get(url)
    base = len(short.captured_queries)
    _ingest(
        service_user,
        *[
            RepaymentEventFactory(
                loan_no="L-PAID", amount="50.00", occurred_at=f"2026-03-{d:02d}T12:00:00+08:00"
            )
            for d in range(2, 14)
        ],
        *[
            DeviceChangeEventFactory(
                device_id=f"dev-{n}", occurred_at=f"2026-02-{n + 5:02d}T08:00:00+08:00"
            )
            for n in range(6)
        ],
        *[
            BankAccountChangeEventFactory(
                card_no=f"62284800000{n:05d}", occurred_at=f"2026-02-{n + 5:02d}T09:00:00+08:00"
            )
            for n in range(6)
        ],
    )
    with django_assert_max_num_queries(base):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_reads_the_timeline(client, request, role, history):
    response = _timeline(client, request.getfixturevalue(role), history)
    assert response.status_code == 200


def test_a_borrower_never_sees_the_staff_timeline(client, borrower_user, history):
    # Even their own: the portal shows their line, not the staff's notes and reveals.
    assert _timeline(client, borrower_user, history).status_code == 403
    client.force_login(borrower_user)
    url = reverse("monitoring:borrower-open-cases", args=[history.pk])
    assert client.get(url).status_code == 403


def test_a_service_login_is_refused(client, service_user, history):
    assert _timeline(client, service_user, history).status_code == 403


def test_a_deactivated_login_is_sent_to_login(client, outsider, history):
    response = _timeline(client, outsider, history)
    assert response.status_code == 302 and "login" in response["Location"]


def test_anonymous_visitors_are_sent_to_login(client, history):
    response = client.get(reverse("monitoring:borrower-timeline", args=[history.pk]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_an_unknown_borrower_is_404(client, analyst, history):
    assert _timeline(client, analyst, Borrower(pk=history.pk + 999)).status_code == 404


def test_the_header_counts_open_cases(client, analyst, history):
    client.force_login(analyst)
    url = reverse("monitoring:borrower-open-cases", args=[history.pk])
    assert "1 open case" in client.get(url).content.decode()
    Case.objects.filter(borrower=history).update(status=CaseStatus.RESOLVED)
    assert "0 open cases" in client.get(url).content.decode()


def test_every_kind_has_a_chip(client, analyst, history):
    html = _timeline(client, analyst, history).content.decode()
    for code in KINDS:
        assert f'value="{code}"' in html


def test_the_borrower_page_pulls_the_timeline_and_shows_payoff_today(client, analyst, history):
    client.force_login(analyst)
    html = client.get(reverse("lending:borrower-detail", args=[history.pk])).content.decode()
    assert reverse("monitoring:borrower-timeline", args=[history.pk]) in html
    assert reverse("monitoring:borrower-open-cases", args=[history.pk]) in html
    borrower = Borrower.objects.get(pk=history.pk)
    assert borrower.line.used > 0
    assert 'id="head-payoff"' in html and 'id="head-overdue"' in html
    assert timezone.localdate().year == 2026
