"""The analysts' alert pages: the role matrix, filters shared with the API (an invalid one is a
message, never the whole list), keyset pages and their edges, the evidence made readable with
links to the loans and borrowers it names, and a query count that does not grow with the rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lending.tests.factories import borrower_with_drawdown
from monitoring.choices import AlertCategory, RuleKind, Severity
from monitoring.models import Alert
from monitoring.selectors import alerts as alert_selectors
from monitoring.services.cases import alerts_group
from monitoring.tests.cases_setup import make_alert, make_borrower

pytestmark = pytest.mark.django_db

LIST = "/monitoring/alerts/"


def _login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _ids(response) -> list[int]:
    """The alert numbers in the table, top to bottom."""
    return [alert.pk for alert, _masked in response.context["rows"]]


def _aged(alert: Alert, minutes: int) -> Alert:
    Alert.objects.filter(pk=alert.pk).update(raised_at=timezone.now() - timedelta(minutes=minutes))
    alert.refresh_from_db()
    return alert


# --- who may look -----------------------------------------------------------------------------


@pytest.mark.parametrize("role_fixture", ["analyst", "senior_analyst", "manager", "head_of_risk"])
def test_risk_staff_see_the_list_and_an_alert(request, role_fixture):
    alert = make_alert(make_borrower())
    client = _login(request.getfixturevalue(role_fixture))
    assert client.get(LIST).status_code == 200
    assert client.get(reverse("monitoring:alert-detail", args=[alert.pk])).status_code == 200


@pytest.mark.parametrize(
    ("role_fixture", "status"),
    [("borrower_user", 403), ("service_user", 403), ("outsider", 302)],  # deactivated: signed out
)
def test_borrowers_the_service_account_and_outsiders_are_refused(request, role_fixture, status):
    alert = make_alert(make_borrower())
    client = _login(request.getfixturevalue(role_fixture))
    assert client.get(LIST).status_code == status
    assert client.get(reverse("monitoring:alert-detail", args=[alert.pk])).status_code == status


def test_anonymous_visitors_are_sent_to_sign_in():
    alert = make_alert(make_borrower())
    for url in (LIST, reverse("monitoring:alert-detail", args=[alert.pk])):
        response = Client().get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_nav_links_to_the_alerts_for_staff_only(analyst, borrower_user):
    staff_page = _login(analyst).get(LIST, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'href="{LIST}" aria-current="page">Alerts</a>' in staff_page
    portal = _login(borrower_user).get(reverse("lending:my-line")).content.decode()
    assert LIST not in portal


def test_an_unknown_alert_is_404(analyst):
    assert _login(analyst).get(reverse("monitoring:alert-detail", args=[999999])).status_code == 404


# --- the list ---------------------------------------------------------------------------------


def test_newest_first_with_rule_version_severity_masked_borrower_and_case(analyst):
    borrower = make_borrower()
    old = _aged(make_alert(borrower, severity=Severity.CRITICAL), 30)
    new = make_alert(make_borrower(), category=AlertCategory.CREDIT, kind=RuleKind.UTILISATION_JUMP)
    (case,) = alerts_group(alert_ids=[old.pk])

    response = _login(analyst).get(LIST, HTTP_ACCEPT_LANGUAGE="en")

    assert _ids(response) == [new.pk, old.pk]
    page = response.content.decode()
    assert f'href="/monitoring/cases/{case.pk}/">#{case.pk}</a>' in page
    assert '<span class="badge sev-4">Critical</span>' in page
    assert "v1" in page and borrower.customer_no in page
    assert "王五" not in page and "王*" in page  # the name masked
    assert "Not grouped yet" in page


def test_filters_are_the_apis(analyst):
    fraud = make_borrower()
    a_fraud = _aged(make_alert(fraud, severity=Severity.CRITICAL), 60 * 48)
    a_credit = make_alert(
        make_borrower(),
        category=AlertCategory.CREDIT,
        severity=Severity.LOW,
        kind=RuleKind.UTILISATION_JUMP,
    )
    alerts_group(alert_ids=[a_fraud.pk])
    client = _login(analyst)
    today = timezone.localdate().isoformat()

    def shown(**query) -> list[int]:
        response = client.get(LIST, query)
        assert response.status_code == 200
        return _ids(response)

    assert shown(category="credit") == [a_credit.pk]
    assert shown(rule=RuleKind.SMALL_DRAWDOWN_VELOCITY) == [a_fraud.pk]
    assert shown(severity_min=Severity.HIGH) == [a_fraud.pk]
    assert shown(customer_no=fraud.customer_no) == [a_fraud.pk]
    assert shown(has_case="true") == [a_fraud.pk]
    assert shown(has_case="false") == [a_credit.pk]
    assert shown(raised_from=today) == [a_credit.pk]
    assert shown(raised_to=today) == [a_fraud.pk]
    # The API answers the same rows for the same parameters.
    api = client.get("/api/v1/alerts/", {"has_case": "false", "category": "credit"}).json()
    assert [row["id"] for row in api["results"]] == shown(has_case="false", category="credit")


def test_an_invalid_filter_is_a_message_never_the_whole_list(analyst):
    make_alert(make_borrower())
    response = _login(analyst).get(LIST, {"severity_min": "9"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.context["rows"] == []
    assert "The filter is not valid" in response.content.decode()


# --- pages ------------------------------------------------------------------------------------


@pytest.fixture
def three_per_page(monkeypatch):
    monkeypatch.setattr(alert_selectors, "PAGE_SIZE", 3)


def test_pages_walk_older_and_back_newer_without_gaps_or_repeats(analyst, three_per_page):
    borrower = make_borrower()
    made = [_aged(make_alert(borrower), minutes) for minutes in range(7, 0, -1)]
    # Two alerts raised in the same microsecond: the id breaks the tie.
    Alert.objects.filter(pk=made[3].pk).update(raised_at=made[4].raised_at)
    newest_first = list(Alert.objects.order_by("-raised_at", "-id").values_list("pk", flat=True))
    client = _login(analyst)

    first = client.get(LIST)
    assert _ids(first) == newest_first[:3]
    assert first.context["page"].newer == ""  # the first page has no "Newer"
    second = client.get(LIST, {"after": first.context["page"].older})
    assert _ids(second) == newest_first[3:6]
    last = client.get(LIST, {"after": second.context["page"].older})
    assert _ids(last) == newest_first[6:]
    assert last.context["page"].older == ""  # the last page has no "Older"

    back = client.get(LIST, {"before": last.context["page"].newer})
    assert _ids(back) == newest_first[3:6]
    top = client.get(LIST, {"before": back.context["page"].newer})
    assert _ids(top) == newest_first[:3] and top.context["page"].newer == ""


def test_page_edges_a_tampered_link_and_a_link_past_the_end(analyst, three_per_page):
    borrower = make_borrower()
    made = [_aged(make_alert(borrower), minutes) for minutes in (3, 2, 1)]
    client = _login(analyst)

    tampered = client.get(LIST, {"after": "not-a-cursor"}, HTTP_ACCEPT_LANGUAGE="en")
    assert _ids(tampered) == [made[2].pk, made[1].pk, made[0].pk]
    assert "That page link is not valid" in tampered.content.decode()

    oldest = alert_selectors.AlertCursor.of(made[0]).encode()
    past_end = client.get(LIST, {"after": oldest}, HTTP_ACCEPT_LANGUAGE="en")
    assert past_end.status_code == 200 and _ids(past_end) == []
    assert "No older alerts." in past_end.content.decode()
    assert past_end.context["page"].newer  # and the way back

    nothing_newer = client.get(LIST, {"before": alert_selectors.AlertCursor.of(made[2]).encode()})
    assert _ids(nothing_newer) == [made[2].pk, made[1].pk, made[0].pk]


def test_the_pager_keeps_the_filters(analyst, three_per_page):
    borrower = make_borrower()
    for minutes in range(5, 0, -1):
        _aged(make_alert(borrower), minutes)
    make_alert(make_borrower(), category=AlertCategory.CREDIT, kind=RuleKind.UTILISATION_JUMP)
    page = _login(analyst).get(LIST, {"category": "fraud"}).content.decode()
    assert "?category=fraud&amp;after=" in page


def test_the_list_runs_the_same_queries_for_3_or_30_alerts(analyst):
    client = _login(analyst)
    for _ in range(3):
        alerts_group(alert_ids=[make_alert(make_borrower()).pk])
    client.get(LIST)  # warm the session and the user
    with CaptureQueriesContext(connection) as few:
        assert client.get(LIST).status_code == 200
    for _ in range(27):
        alerts_group(alert_ids=[make_alert(make_borrower()).pk])
    with CaptureQueriesContext(connection) as many:
        assert len(_ids(client.get(LIST))) == 30
    assert len(many) == len(few) <= 6


# --- one alert --------------------------------------------------------------------------------


def test_the_evidence_reads_as_labelled_values_with_links(analyst):
    borrower, loan = borrower_with_drawdown()
    ring_mate = make_borrower()
    alert = make_alert(borrower)
    alert.evidence = {
        "event_id": "evt-42",
        "loan_no": loan.loan_no,
        "loan_nos": [loan.loan_no, "L-GONE"],
        "amount": "1234.50",
        "first_at": "2026-11-30T02:15:00+00:00",
        "shared_with": [ring_mate.customer_no],
        "links": [{"kind": "device", "value": "dev-***9", "borrower_ids": [ring_mate.pk]}],
        "something_new": 7,
    }
    alert.save(update_fields=["evidence"])
    client = _login(analyst)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            reverse("monitoring:alert-detail", args=[alert.pk]), HTTP_ACCEPT_LANGUAGE="en"
        )
    page = response.content.decode()

    loan_url = reverse("lending:borrower-detail", args=[borrower.pk]) + f"#loan-{loan.loan_no}"
    assert page.count(f'href="{loan_url}"') == 2
    assert "L-GONE" in page  # a loan not in the book still shows, unlinked
    assert "¥1,234.50" in page
    assert "2026-11-30 10:15" in page  # Shanghai time
    mate_url = reverse("lending:borrower-detail", args=[ring_mate.pk])
    assert page.count(f'href="{mate_url}"') == 2  # shared_with and the ring link
    assert "dev-***9" in page and "something_new" in page
    assert "Loans" in page and "Shares details with" in page
    assert borrower.name not in page  # the borrower's name masked
    timeline = reverse("monitoring:borrower-timeline", args=[borrower.pk])
    assert f"{timeline}?cursor=" in page
    assert len(queries) <= 10


def test_a_fund_flow_path_shows_each_hop(analyst):
    sender, receiver = make_borrower(), make_borrower()
    alert = make_alert(receiver)
    alert.evidence = {
        "path": [
            {
                "from": sender.customer_no,
                "to": receiver.customer_no,
                "transfer": "T-9",
                "amount": "500.00",
                "at": "2026-11-30T00:00:00+00:00",
            }
        ],
        "hops": 1,
    }
    alert.save(update_fields=["evidence"])
    page = _login(analyst).get(reverse("monitoring:alert-detail", args=[alert.pk])).content.decode()
    for who in (sender, receiver):
        assert f'href="{reverse("lending:borrower-detail", args=[who.pk])}"' in page
    assert "T-9" in page and "¥500.00" in page


def test_the_borrower_timeline_links_its_alerts_here(analyst):
    borrower = make_borrower()
    alert = make_alert(borrower)
    page = (
        _login(analyst)
        .get(reverse("monitoring:borrower-timeline", args=[borrower.pk]), {"kind": "alert"})
        .content.decode()
    )
    assert reverse("monitoring:alert-detail", args=[alert.pk]) in page


def test_money_in_evidence_stays_decimal():
    alert = Alert(evidence={"amount": "0.10", "total": "not money"})
    rows = {row.key: row for row in alert_selectors.alert_evidence(alert)}
    assert rows["amount"].parts[0].money == Decimal("0.10")
    assert rows["total"].parts[0].text == "not money"
