"""An outsider's review of overrides: amounts that are not amounts, the API's ids out of range,
the risk band read again at approval, expiry at exactly its hour, evidence names, and the
report's figures recomputed by hand on a small book."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from decisions.choices import ModelStatus
from decisions.errors.overrides import AlreadyDecided, OverrideInvalid
from decisions.models import OverrideProposal, Score
from decisions.models.overrides import OverrideStatus
from decisions.selectors.overrides import inbox_for, override_performance
from decisions.services import (
    override_approve,
    override_propose,
    overrides_expire,
    scorecard_set_status,
    scorecard_store,
)
from decisions.services.override_defaults import ensure_override_defaults
from decisions.tests.test_scoring import _result
from lending.models import CreditLine
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db
URL = "/api/v1/overrides/"
NOW = at(2026, 11, 20)
TODAY = date(2026, 11, 20)
PDF = b"%PDF-1.4\n%fake\n"
JUSTIFICATION = "Payslips for three months show a higher salary."


@pytest.fixture(autouse=True)
def _defaults(tmp_path, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_DIR = tmp_path / "evidence"
    ensure_override_defaults()
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def line():
    return CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))


def _score(line: CreditLine, total: int) -> None:
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    if model.version == 1:
        scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    Score.objects.create(
        borrower_id=line.borrower_id,
        model=model,
        total=total,
        inputs={},
        reasons=[],
        as_of=TODAY,
        scored_at=NOW + timedelta(seconds=Score.objects.count()),
    )


def _propose(actor, line, new_limit, **kw):
    return override_propose(
        actor=actor,
        line=line,
        kind=kw.pop("kind", "limit"),
        new_limit=new_limit,
        reason_code="new_income",
        justification=JUSTIFICATION,
        **kw,
    )


# --- amounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "1e30", "abc"])
def test_the_service_refuses_what_is_not_an_amount(analyst, line, value):
    with pytest.raises(OverrideInvalid):
        _propose(analyst, line, value)
    assert not OverrideProposal.objects.exists()


def test_full_width_digits_are_read_as_the_amount_they_write(analyst, line):
    client = APIClient()
    client.force_authenticate(analyst)
    body = {
        "borrower_id": line.borrower_id,
        "kind": "limit",
        "new_limit": "５０００",
        "reason_code": "new_income",
        "justification": JUSTIFICATION,
    }
    response = client.post(URL, body, format="json")
    assert response.status_code == 201
    assert OverrideProposal.objects.get().new_limit == Decimal("5000.00")


# --- the API ----------------------------------------------------------------------------------


@pytest.mark.parametrize("borrower_id", [10**30, 2**63, -(2**63) - 1])
def test_an_id_out_of_any_range_is_a_plain_refusal(analyst, line, borrower_id):
    client = APIClient()
    client.force_authenticate(analyst)
    body = {
        "borrower_id": borrower_id,
        "kind": "limit",
        "new_limit": "16000",
        "reason_code": "new_income",
        "justification": JUSTIFICATION,
    }
    response = client.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "borrower_id"
    assert not OverrideProposal.objects.exists()


# --- the band at approval ---------------------------------------------------------------------


def test_a_band_that_worsened_since_the_proposal_is_read_again_at_approval(
    analyst, senior_analyst, manager
):
    line = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
    _score(line, 700)  # band A: a senior analyst may approve ¥1,000 more
    p = _propose(analyst, line, Decimal("21000"))
    assert p.band == "A"
    _score(line, 500)  # re-scored into band E: the head of risk's alone
    with pytest.raises(OverrideInvalid) as exc:
        override_approve(actor=senior_analyst, proposal=p)
    assert "E" in exc.value.message
    line.refresh_from_db()
    assert line.credit_limit == Decimal("20000.00")
    p.refresh_from_db()
    assert p.status == OverrideStatus.PENDING


# --- expiry at exactly its hour ---------------------------------------------------------------


def test_a_proposal_expires_at_exactly_72_hours(analyst, manager, line):
    p = _propose(analyst, line, Decimal("16000"))
    with time_machine.travel(NOW + timedelta(hours=72) - timedelta(microseconds=1), tick=False):
        assert [i.proposal for i in inbox_for(manager)] == [p]
        assert overrides_expire() == 0
    with time_machine.travel(NOW + timedelta(hours=72), tick=False):
        assert inbox_for(manager) == []
        with pytest.raises(AlreadyDecided):
            override_approve(actor=manager, proposal=p)
        assert overrides_expire() == 1


# --- evidence names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "served_as"),
    [
        ("payslip.png", PDF, "payslip.png.pdf"),  # a PDF renamed .png is downloaded as a PDF
        ("../../etc/工资单.pdf", PDF, "工资单.pdf"),
        ("scan.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 16, "scan.JPG"),
    ],
)
def test_an_evidence_file_is_downloaded_under_a_name_that_matches_its_type(
    client, analyst, manager, line, name, content, served_as
):
    client.force_login(analyst)
    response = client.post(
        reverse("decisions:override-propose", args=[line.borrower_id]),
        {
            "kind": "limit",
            "new_limit": "16000",
            "reason": "new_income",
            "justification": JUSTIFICATION,
            "evidence": [SimpleUploadedFile(name, content)],
        },
    )
    assert response.status_code == 302
    p = OverrideProposal.objects.get()
    evidence = p.evidence.get()
    client.force_login(manager)
    got = client.get(reverse("decisions:override-evidence", args=[p.pk, evidence.pk]))
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == content
    disposition = got["Content-Disposition"]
    assert disposition.startswith("attachment")
    from urllib.parse import quote

    assert f'filename="{served_as}"' in disposition or quote(served_as) in disposition


def test_an_empty_file_is_refused_in_place(client, analyst, line):
    client.force_login(analyst)
    response = client.post(
        reverse("decisions:override-propose", args=[line.borrower_id]),
        {
            "kind": "limit",
            "new_limit": "16000",
            "reason": "new_income",
            "justification": JUSTIFICATION,
            "evidence": [SimpleUploadedFile("empty.pdf", b"")],
        },
    )
    assert response.status_code == 200
    assert not OverrideProposal.objects.exists()


# --- the report by hand -----------------------------------------------------------------------


def test_the_report_figures_recomputed_by_hand(analyst, head_of_risk):
    """Seven lines. Overridden: O1 (new income, 45 days late), O2 (new income, exactly 30
    days late), O3 (hardship cut, current), O4 (a freeze, 29 days late). Policy-only: P1 (31
    days late), P2 (30 days late), P3 (current). At 30+ days: overridden 2 of 4, policy 2 of
    3; by reason: new income 2 of 2, hardship 0 of 2 (the freeze's reason); by kind: limit 2
    of 3, freeze 0 of 1. At 31+: overridden 1 of 4 (O1), policy 1 of 3 (P1)."""
    lines = {
        name: CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
        for name in ("O1", "O2", "O3", "O4", "P1", "P2", "P3")
    }
    reasons = {"O1": "new_income", "O2": "new_income", "O3": "hardship", "O4": "hardship"}
    changes = {"O1": ("limit", "21000"), "O2": ("limit", "22000"), "O3": ("limit", "10000")}
    for name, reason in reasons.items():
        kind, amount = changes.get(name, ("freeze", None))
        p = override_propose(
            actor=analyst,
            line=lines[name],
            kind=kind,
            new_limit=Decimal(amount) if amount else None,
            reason_code=reason,
            justification=JUSTIFICATION,
        )
        override_approve(actor=head_of_risk, proposal=p)
    # A rejected proposal leaves its line a policy line.
    from decisions.services import override_reject

    rejected = _propose(analyst, lines["P3"], Decimal("25000"))
    override_reject(actor=head_of_risk, proposal=rejected, note="No documents.")
    late = {"O1": 45, "O2": 30, "O4": 29, "P1": 31, "P2": 30}
    for name, days in late.items():
        CreditLine.objects.filter(pk=lines[name].pk).update(
            oldest_unpaid_due=TODAY - timedelta(days=days)
        )
    r = override_performance(dpd_at_least=30)
    assert (r["overridden"].lines, r["overridden"].delinquent) == (4, 2)
    assert (r["policy"].lines, r["policy"].delinquent) == (3, 2)
    assert r["overridden"].share == Decimal("0.5000")
    assert r["policy"].share == Decimal("0.6667")
    assert [(x.group, x.lines, x.delinquent) for x in r["by_reason"]] == [
        ("hardship", 2, 0),
        ("new_income", 2, 2),
    ]
    assert [(x.group, x.lines, x.delinquent) for x in r["by_kind"]] == [
        ("freeze", 1, 0),
        ("limit", 3, 2),
    ]
    r31 = override_performance(dpd_at_least=31)
    assert (r31["overridden"].delinquent, r31["policy"].delinquent) == (1, 1)
    r1 = override_performance(dpd_at_least=1)
    assert (r1["overridden"].delinquent, r1["policy"].delinquent) == (3, 2)


# --- the reason list: what the head of risk types ---------------------------------------------


@pytest.mark.parametrize(
    ("code", "position"),
    [
        ("x" * 33, "10"),  # longer than a code holds
        ("new income", "10"),  # not a code (spaces)
        ("../etc", "10"),
        ("ok_code", "-1"),  # the order is 0 or more
        ("ok_code", "40000"),  # and fits a small number
        ("ok_code", "99999999999999999999999"),
    ],
)
def test_a_reason_the_list_cannot_hold_is_refused_in_place(client, head_of_risk, code, position):
    from decisions.models import OverrideReason

    before = OverrideReason.objects.count()
    client.force_login(head_of_risk)
    response = client.post(
        reverse("decisions:override-matrix"),
        {"which": "reason", "code": code, "label": "A label", "position": position},
    )
    assert response.status_code == 409
    assert OverrideReason.objects.count() == before


# --- evidence by guessed ids ------------------------------------------------------------------


def test_evidence_is_reached_only_through_its_own_proposal(
    client, analyst, manager, borrower_user, line
):
    other = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
    p1 = _propose(analyst, line, Decimal("16000"), evidence_files=[("a.pdf", PDF)])
    p2 = _propose(analyst, other, Decimal("16000"))
    evidence = p1.evidence.get()
    client.force_login(manager)
    assert (
        client.get(reverse("decisions:override-evidence", args=[p1.pk, evidence.pk])).status_code
        == 200
    )
    assert (
        client.get(reverse("decisions:override-evidence", args=[p2.pk, evidence.pk])).status_code
        == 404
    )
    assert (
        client.get(
            reverse("decisions:override-evidence", args=[p1.pk, evidence.pk + 99])
        ).status_code
        == 404
    )
    client.force_login(borrower_user)
    assert (
        client.get(reverse("decisions:override-evidence", args=[p1.pk, evidence.pk])).status_code
        == 403
    )
    client.logout()
    assert (
        client.get(reverse("decisions:override-evidence", args=[p1.pk, evidence.pk])).status_code
        == 302
    )


# --- the step-up is no password oracle --------------------------------------------------------


def test_wrong_step_up_passwords_pause_the_step_up(request, analyst, manager, django_user_model):
    from django.core.cache import cache

    from conftest import PASSWORD
    from decisions.errors.overrides import StepUpFailed, StepUpLocked

    other = django_user_model.objects.create_user(
        username="manager2", password=PASSWORD, role="manager"
    )
    keys = [f"override-step-up-failures:{user.pk}" for user in (manager, other)]
    cache.delete_many(keys)
    request.addfinalizer(lambda: cache.delete_many(keys))  # ids are reused by later tests
    line = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
    _score(line, 700)
    p = _propose(analyst, line, Decimal("45000"))  # ¥25,000 more: a manager, with the password
    for _attempt in range(4):
        with pytest.raises(StepUpFailed):
            override_approve(actor=manager, proposal=p, password="guess")
    with pytest.raises(StepUpLocked):
        override_approve(actor=manager, proposal=p, password="guess")
    with pytest.raises(StepUpLocked):  # even the right one, while paused
        override_approve(actor=manager, proposal=p, password=PASSWORD)
    p.refresh_from_db()
    assert p.status == OverrideStatus.PENDING
    # Another approver is not paused; a right password clears their count.
    with pytest.raises(StepUpFailed):
        override_approve(actor=other, proposal=p, password="guess")
    override_approve(actor=other, proposal=p, password=PASSWORD)
    assert cache.get(f"override-step-up-failures:{other.pk}") is None
    line.refresh_from_db()
    assert line.credit_limit == Decimal("45000.00")


# --- a temporary cut's return is held by the hard blocks --------------------------------------


@pytest.mark.parametrize("block", ["fraud", "cap"])
def test_a_temporary_cut_does_not_return_past_a_hard_block(
    analyst, senior_analyst, line, settings, block
):
    from accounts.models import AuditEvent
    from decisions.services import fraud_flag_set, temporary_limits_revert

    p = _propose(analyst, line, Decimal("10000"), kind="temporary", until=TODAY + timedelta(days=3))
    override_approve(actor=senior_analyst, proposal=p)
    if block == "fraud":
        fraud_flag_set(actor=senior_analyst, borrower_id=line.borrower_id, source="case:1")
    else:
        settings.RISKOPS_PRODUCT_LIMIT_CAP = "15000"
    later = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
    q = _propose(
        analyst, later, Decimal("12000"), kind="temporary", until=TODAY + timedelta(days=3)
    )
    override_approve(actor=senior_analyst, proposal=q)
    with time_machine.travel(NOW + timedelta(days=5), tick=False):
        # The blocked line stays cut; the other line still returns (the job goes on).
        reverted = temporary_limits_revert()
    line.refresh_from_db()
    later.refresh_from_db()
    assert line.credit_limit == Decimal("10000.00")
    skipped = AuditEvent.objects.get(action="override.revert_skipped", object_id=str(p.pk))
    assert skipped.after["blocked"] == "override_hard_block"
    if block == "fraud":
        assert (reverted, later.credit_limit) == (1, Decimal("20000.00"))
    else:  # above the lowered cap too: left as it is, not a failed job
        assert (reverted, later.credit_limit) == (0, Decimal("12000.00"))


# --- a proposal sent back and left ------------------------------------------------------------


def test_a_proposal_sent_back_and_left_expires_and_frees_the_line(analyst, manager, line):
    from decisions.selectors.overrides import pending_override_ids
    from decisions.services import override_request_changes, override_resubmit

    p = _propose(analyst, line, Decimal("16000"))
    with time_machine.travel(NOW + timedelta(hours=70), tick=False):
        override_request_changes(actor=manager, proposal=p, note="Attach the payslips.")
    # 72 hours from the request, not from the proposal.
    with time_machine.travel(NOW + timedelta(hours=100), tick=False):
        assert overrides_expire() == 0
        assert pending_override_ids([line.borrower_id]) == {line.borrower_id}
    with time_machine.travel(NOW + timedelta(hours=142), tick=False):
        with pytest.raises(AlreadyDecided):
            override_resubmit(
                actor=analyst,
                proposal=p,
                new_limit=Decimal("17000"),
                reason_code="new_income",
                justification=JUSTIFICATION,
            )
        assert overrides_expire() == 1
        assert pending_override_ids([line.borrower_id]) == set()
        _propose(analyst, line, Decimal("15000"))  # the line takes a new proposal
    p.refresh_from_db()
    assert p.status == OverrideStatus.EXPIRED


# --- who the line's own audit row names ---------------------------------------------------------


def test_a_senior_analysts_approval_is_named_on_the_lines_audit_row(
    analyst, senior_analyst, manager
):
    from accounts.models import AuditEvent
    from lending.errors import NotAllowed
    from lending.services import line_limit_set

    line = CreditLine.objects.get(borrower=BorrowerFactory(credit_limit=Decimal("20000")))
    _score(line, 700)
    override_approve(actor=senior_analyst, proposal=_propose(analyst, line, Decimal("21000")))
    row = AuditEvent.objects.filter(action="line.limit_changed", object_id=str(line.pk)).latest(
        "id"
    )
    assert row.actor_id == senior_analyst.pk
    assert row.after["approved_by"] == senior_analyst.get_username()
    assert row.after["credit_limit"] == "21000.00"
    # Naming the approver grants nothing: a senior analyst still may not set a limit directly.
    with pytest.raises(NotAllowed):
        line_limit_set(
            actor=senior_analyst, line=line, new_limit=Decimal("22000"), reason_code="manual"
        )
