"""The override pages: who may open and act on each (the role matrix), proposing from the
borrower page with evidence, deciding in place, a lost race shown as what happened, the
evidence file served only to staff, the head of risk's matrix page, the report."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conftest import PASSWORD
from decisions.models import AuthorityRule, OverrideProposal
from decisions.services import override_propose, override_reject
from decisions.services.override_defaults import ensure_override_defaults
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n%fake\n"
STAFF = ["analyst", "senior_analyst", "manager", "head_of_risk", "admin_user"]


@pytest.fixture(autouse=True)
def _setup(tmp_path, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_DIR = tmp_path / "evidence"
    ensure_override_defaults()


@pytest.fixture
def line():
    return CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))


def _proposal(actor, line, new_limit="18000", **kw):
    return override_propose(
        actor=actor,
        line=line,
        kind="limit",
        new_limit=Decimal(new_limit),
        reason_code="hardship",
        justification="The borrower lost their job and asked for a lower limit.",
        **kw,
    )


@pytest.mark.parametrize("role", STAFF)
def test_every_staff_role_reads_the_queue_a_proposal_the_matrix_and_the_report(
    client, request, role, analyst, line
):
    p = _proposal(analyst, line)
    client.force_login(request.getfixturevalue(role))
    for url in (
        reverse("decisions:override-inbox"),
        reverse("decisions:override-list"),
        reverse("decisions:override-detail", args=[p.pk]),
        reverse("decisions:override-matrix"),
        reverse("decisions:override-report"),
        reverse("decisions:override-queue-panel"),
        reverse("decisions:override-borrower-panel", args=[line.borrower_id]),
        reverse("decisions:override-propose", args=[line.borrower_id]),
    ):
        assert client.get(url).status_code == 200, url


def test_borrowers_and_the_service_account_are_refused_every_page(
    client, borrower_user, service_user, analyst, line
):
    p = _proposal(analyst, line)
    urls = [
        reverse("decisions:override-inbox"),
        reverse("decisions:override-detail", args=[p.pk]),
        reverse("decisions:override-propose", args=[line.borrower_id]),
        reverse("decisions:override-matrix"),
    ]
    for user in (borrower_user, service_user):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 403, url
        response = client.post(
            reverse("decisions:override-decide", args=[p.pk]), {"action": "approve"}
        )
        assert response.status_code == 403
    client.logout()
    assert client.get(urls[0]).status_code == 302  # to the login page


def test_an_analyst_proposes_from_the_borrower_page_with_evidence(client, analyst, line):
    client.force_login(analyst)
    panel = client.get(reverse("decisions:override-borrower-panel", args=[line.borrower_id]))
    assert reverse("decisions:override-propose", args=[line.borrower_id]) in panel.content.decode()
    response = client.post(
        reverse("decisions:override-propose", args=[line.borrower_id]),
        {
            "kind": "limit",
            "new_limit": "22000",
            "reason": "new_income",
            "justification": "Three payslips show a salary of ¥15,000 a month.",
            "evidence": [SimpleUploadedFile("payslip.pdf", PDF, content_type="application/pdf")],
        },
    )
    p = OverrideProposal.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("decisions:override-detail", args=[p.pk])
    assert p.evidence.count() == 1
    # The file comes back only as a download, to staff.
    ev = p.evidence.get()
    url = reverse("decisions:override-evidence", args=[p.pk, ev.pk])
    got = client.get(url)
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == PDF
    assert got["Content-Disposition"].startswith("attachment")


def test_a_file_that_is_not_what_it_claims_is_refused_in_place(client, analyst, line):
    client.force_login(analyst)
    response = client.post(
        reverse("decisions:override-propose", args=[line.borrower_id]),
        {
            "kind": "limit",
            "new_limit": "22000",
            "reason": "new_income",
            "justification": "Three payslips show a higher salary.",
            "evidence": [SimpleUploadedFile("payslip.pdf", b"<html>x</html>")],
        },
    )
    assert response.status_code == 409
    assert "only PDF, JPEG and PNG" in response.content.decode()
    assert not OverrideProposal.objects.exists()


def test_a_senior_analyst_approves_in_place_and_moves_to_the_next_item(
    client, analyst, senior_analyst, line
):
    first = _proposal(analyst, line)
    other = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("9000")))
    second = _proposal(analyst, other, new_limit="8000")
    client.force_login(senior_analyst)
    page = client.get(reverse("decisions:override-detail", args=[first.pk])).content.decode()
    assert 'id="approve"' in page
    response = client.post(
        reverse("decisions:override-decide", args=[first.pk]),
        {"action": "approve", "note": "ok", "go_next": "on"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("decisions:override-detail", args=[second.pk])
    line.refresh_from_db()
    assert line.credit_limit == Decimal("18000.00")


def test_the_proposer_and_an_approver_without_authority_see_no_decision_form(
    client, analyst, senior_analyst, line
):
    p = _proposal(analyst, line, new_limit="60000")  # ¥40,000 up: a manager's
    for user in (analyst, senior_analyst):
        client.force_login(user)
        page = client.get(reverse("decisions:override-detail", args=[p.pk])).content.decode()
        assert 'id="approve"' not in page
    response = client.post(reverse("decisions:override-decide", args=[p.pk]), {"action": "approve"})
    assert response.status_code == 409
    assert "authority" in response.content.decode()


def test_a_large_increase_asks_for_the_password_on_the_page(client, analyst, head_of_risk, line):
    # Unscored: band E, the head of risk's; ¥50,000.01 up is above their ¥50,000 step-up.
    p = _proposal(analyst, line, new_limit="70000.01")
    client.force_login(head_of_risk)
    page = client.get(reverse("decisions:override-detail", args=[p.pk])).content.decode()
    assert 'name="password"' in page
    url = reverse("decisions:override-decide", args=[p.pk])
    refused = client.post(url, {"action": "approve", "password": "nope"})
    assert refused.status_code == 409
    client.post(url, {"action": "approve", "password": PASSWORD})
    p.refresh_from_db()
    assert (p.status, p.stepped_up) == ("approved", True)


def test_the_loser_of_a_race_sees_what_happened(client, analyst, senior_analyst, manager, line):
    p = _proposal(analyst, line)
    client.force_login(senior_analyst)
    client.get(reverse("decisions:override-detail", args=[p.pk]))  # both have the page open
    override_reject(actor=manager, proposal=p, note="not enough evidence")
    response = client.post(
        reverse("decisions:override-decide", args=[p.pk]), {"action": "approve"}, follow=True
    )
    body = response.content.decode()
    assert "no longer awaiting a decision" in body
    assert "not enough evidence" in body


def test_request_changes_then_the_proposer_edits_and_resubmits(client, analyst, manager, line):
    p = _proposal(analyst, line)
    client.force_login(manager)
    client.post(
        reverse("decisions:override-decide", args=[p.pk]),
        {"action": "changes", "note": "Attach the job-loss letter."},
    )
    client.force_login(analyst)
    page = client.get(reverse("decisions:override-detail", args=[p.pk])).content.decode()
    assert "Attach the job-loss letter." in page and 'id="edit-resubmit"' in page
    client.force_login(manager)  # not the proposer: refused
    assert client.get(reverse("decisions:override-resubmit", args=[p.pk])).status_code == 403
    client.force_login(analyst)
    client.post(
        reverse("decisions:override-resubmit", args=[p.pk]),
        {
            "new_limit": "17000",
            "reason": "hardship",
            "justification": "Letter from the employer attached.",
            "evidence": [SimpleUploadedFile("letter.pdf", PDF)],
        },
    )
    p.refresh_from_db()
    assert (p.status, p.revision, p.new_limit) == ("pending", 2, Decimal("17000.00"))


def test_only_the_head_of_risk_changes_the_matrix(client, manager, head_of_risk):
    rule = AuthorityRule.objects.get(role="senior_analyst", direction="increase")
    data = {
        "which": "rule",
        "rule_id": rule.pk,
        "role": "senior_analyst",
        "direction": "increase",
        "max_increase": "8000",
        "max_increase_share": "1.00",
        "bands": "A,B,C",
        "active": "on",
    }
    client.force_login(manager)
    assert client.post(reverse("decisions:override-matrix"), data).status_code == 403
    client.force_login(head_of_risk)
    assert client.post(reverse("decisions:override-matrix"), data).status_code == 302
    rule.refresh_from_db()
    assert rule.max_increase == Decimal("8000.00")


def test_an_approvers_home_opens_on_the_queue(client, analyst, manager, line):
    _proposal(analyst, line)
    client.force_login(manager)
    home = client.get(reverse("home")).content.decode()
    assert reverse("decisions:override-queue-panel") in home
    panel = client.get(reverse("decisions:override-queue-panel")).content.decode()
    assert 'id="home-queue-count">1<' in panel


def test_the_report_compares_overridden_lines_with_policy_lines(
    client, analyst, senior_analyst, line
):
    from datetime import timedelta

    from django.utils import timezone

    from decisions.selectors.overrides import override_performance
    from decisions.services import override_approve

    p = _proposal(analyst, line)
    override_approve(actor=senior_analyst, proposal=p)
    BorrowerFactory()  # a policy-only line, current
    late = timezone.localdate() - timedelta(days=40)
    CreditLine.objects.filter(pk=line.pk).update(oldest_unpaid_due=late)  # 40 days past due
    r = override_performance(dpd_at_least=30)
    assert (r["overridden"].lines, r["overridden"].delinquent) == (1, 1)
    assert (r["policy"].lines, r["policy"].delinquent) == (1, 0)
    assert [(row.group, row.lines, row.delinquent) for row in r["by_reason"]] == [
        ("hardship", 1, 1)
    ]
    assert override_performance(dpd_at_least=90)["overridden"].delinquent == 0
    client.force_login(senior_analyst)
    page = client.get(reverse("decisions:override-report") + "?dpd=30").content.decode()
    assert "100.0%" in page and "Financial hardship" in page


def test_the_head_of_risk_keeps_the_reason_list(client, analyst, head_of_risk, line):
    from decisions.models import OverrideReason

    client.force_login(analyst)
    data = {"which": "reason", "code": "relocation", "label": "Moved city", "active": "on"}
    assert client.post(reverse("decisions:override-matrix"), data).status_code == 403
    client.force_login(head_of_risk)
    data["label_zh"] = "迁居"
    assert client.post(reverse("decisions:override-matrix"), data).status_code == 302
    reason = OverrideReason.objects.get(code="relocation")
    assert (reason.label, reason.label_zh, reason.active) == ("Moved city", "迁居", True)
    # Retired (never deleted): no longer offered on the proposal form.
    retire = {"which": "reason", "reason_id": reason.pk, "label": "Moved city"}
    client.post(reverse("decisions:override-matrix"), retire)
    reason.refresh_from_db()
    assert reason.active is False
    client.force_login(analyst)
    form = client.get(reverse("decisions:override-propose", args=[line.borrower_id]))
    assert 'value="relocation"' not in form.content.decode()


def test_a_proposal_from_a_case_keeps_the_case_reference(client, analyst, line):
    client.force_login(analyst)
    url = reverse("decisions:override-propose", args=[line.borrower_id]) + "?case=case:42"
    client.post(
        url,
        {
            "kind": "freeze",
            "reason": "fraud_suspicion",
            "justification": "Device shared with a confirmed fraud ring.",
        },
    )
    assert OverrideProposal.objects.get().case_ref == "case:42"
