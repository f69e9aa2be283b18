"""Overrides under four eyes: proposing, the authority matrix at its boundaries, the step-up,
hard blocks, approval applying the change, rejection, changes requested and resubmitted,
expiry and the return of a temporary limit."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine

from accounts.models import AuditEvent
from conftest import PASSWORD
from decisions.choices import ModelStatus
from decisions.errors import NotAllowed
from decisions.errors.overrides import (
    AlreadyDecided,
    EvidenceRefused,
    FourEyesOverride,
    HardBlock,
    NoAuthority,
    NotYourProposal,
    OverrideInvalid,
    OverrideOpenExists,
    StepUpFailed,
    StepUpRequired,
)
from decisions.models import AuthorityRule, OverrideProposal, Score
from decisions.models.overrides import Direction, OverrideStatus
from decisions.selectors.overrides import inbox_for, pending_override_ids
from decisions.services import (
    authority_rule_save,
    fraud_flag_set,
    override_approve,
    override_propose,
    override_reject,
    override_request_changes,
    override_resubmit,
    override_withdraw,
    overrides_expire,
    scorecard_set_status,
    scorecard_store,
    temporary_limits_revert,
)
from decisions.services.override_defaults import ensure_override_defaults
from decisions.services.overrides import Change, active_rules, authority_for
from decisions.tests.test_scoring import _result
from lending.models import CreditLine, Notice
from lending.services import line_freeze, line_limit_set
from lending.tests.factories import BorrowerFactory, at

pytestmark = pytest.mark.django_db
NOW = at(2026, 11, 20)
TODAY = date(2026, 11, 20)
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
# Scores that fall in each default policy band (decisions.policy.DEFAULT_RULES).
BAND_SCORE = {"A": 700, "B": 640, "C": 610, "D": 580, "E": 500}


@pytest.fixture(autouse=True)
def _setup(tmp_path, settings):
    settings.RISKOPS_OVERRIDE_EVIDENCE_DIR = tmp_path / "evidence"
    ensure_override_defaults()
    with time_machine.travel(NOW, tick=False):
        yield


def _line(limit: str = "20000.00", band: str = "A") -> CreditLine:
    borrower = BorrowerFactory(credit_limit=Decimal(limit))
    model = scorecard_store(actor=None, name="book", result=_result((300, 200)), target="90+")
    if model.version == 1:
        scorecard_set_status(actor=None, model=model, status=ModelStatus.CHAMPION)
    Score.objects.create(
        borrower=borrower,
        model=model,
        total=BAND_SCORE[band],
        inputs={},
        reasons=[],
        as_of=TODAY,
        scored_at=NOW,
    )
    return CreditLine.objects.get(borrower=borrower)


def _propose(actor, line, new_limit=None, kind="limit", **kw):
    defaults = {
        "reason_code": "new_income",
        "justification": "Payslips for three months show a higher salary.",
    }
    return override_propose(
        actor=actor, line=line, kind=kind, new_limit=new_limit, **{**defaults, **kw}
    )


# --- proposing --------------------------------------------------------------------------------


def test_a_proposal_is_pending_and_the_policy_leaves_the_line_alone(analyst):
    line, other = _line(), _line()
    p = _propose(analyst, line, Decimal("22000"), evidence_files=[("payslip.pdf", PDF)])
    assert p.status == OverrideStatus.PENDING
    assert (p.old_limit, p.new_limit, p.direction, p.band, p.score) == (
        Decimal("20000.00"),
        Decimal("22000.00"),
        Direction.INCREASE,
        "A",
        700,
    )
    assert p.evidence.get().content_type == "application/pdf"
    assert pending_override_ids([line.borrower_id, other.borrower_id]) == {line.borrower_id}
    assert AuditEvent.objects.filter(action="override.proposed", object_id=str(p.pk)).exists()
    with pytest.raises(OverrideOpenExists):
        _propose(analyst, line, Decimal("23000"))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"new_limit": None}, "new limit is required"),
        ({"new_limit": Decimal("20000")}, "current limit"),
        ({"new_limit": Decimal("-1")}, "negative"),
        ({"new_limit": Decimal("21000"), "reason_code": "nope"}, "reason"),
        ({"new_limit": Decimal("21000"), "justification": "short"}, "justification"),
        ({"new_limit": Decimal("21000"), "kind": "temporary"}, "last day"),
        ({"new_limit": Decimal("21000"), "kind": "temporary", "until": TODAY}, "after today"),
        ({"new_limit": Decimal("21000"), "until": TODAY + timedelta(days=5)}, "temporary"),
        ({"kind": "unfreeze"}, "not frozen"),
        ({"kind": "freeze", "new_limit": Decimal("1")}, "no limit"),
    ],
)
def test_a_proposal_that_describes_no_usable_change_is_refused(analyst, kwargs, fragment):
    line = _line()
    with pytest.raises(OverrideInvalid) as exc:
        _propose(analyst, line, **kwargs)
    assert fragment in exc.value.message
    assert not OverrideProposal.objects.exists()


def test_evidence_is_checked_by_its_first_bytes_and_size(analyst, settings):
    line = _line()
    with pytest.raises(EvidenceRefused):
        _propose(analyst, line, Decimal("21000"), evidence_files=[("x.pdf", b"MZ\x90\x00exe")])
    settings.RISKOPS_OVERRIDE_EVIDENCE_MAX_BYTES = 10
    with pytest.raises(EvidenceRefused):
        _propose(analyst, line, Decimal("21000"), evidence_files=[("big.png", PNG)])
    # Nothing half-stored: no proposal, no file left behind.
    assert not OverrideProposal.objects.exists()
    folder = settings.RISKOPS_OVERRIDE_EVIDENCE_DIR
    assert not folder.exists() or not any(folder.iterdir())


def test_only_active_risk_staff_propose(borrower_user, outsider):
    line = _line()
    for actor in (borrower_user, outsider):
        with pytest.raises(NotAllowed):
            _propose(actor, line, Decimal("21000"))


# --- the authority matrix at its boundaries ---------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "band", "direction", "who_may"),
    [
        # ¥5,000 of increase: a senior analyst; a fen more: a manager.
        ("20000", "25000.00", "A", "increase", {"senior_analyst", "manager", "head_of_risk"}),
        ("20000", "25000.01", "A", "increase", {"manager", "head_of_risk"}),
        # ¥50,000: a manager; a fen more: the head of risk only.
        ("20000", "70000.00", "A", "increase", {"manager", "head_of_risk"}),
        ("20000", "70000.01", "A", "increase", {"head_of_risk"}),
        # The resulting limit: a manager up to ¥100,000; above it, the head of risk.
        ("60000", "100000.00", "A", "increase", {"manager", "head_of_risk"}),
        ("60000", "100000.01", "A", "increase", {"head_of_risk"}),
        # Relative size: a senior analyst up to doubling the line (100%), a manager 300%.
        ("2000", "4000.00", "A", "increase", {"senior_analyst", "manager", "head_of_risk"}),
        ("2000", "4000.01", "A", "increase", {"manager", "head_of_risk"}),
        ("2000", "8000.00", "A", "increase", {"manager", "head_of_risk"}),
        ("2000", "8000.01", "A", "increase", {"head_of_risk"}),
        # From a zero limit no relative bound can be met: only a row without one decides.
        ("0", "1000.00", "A", "increase", {"head_of_risk"}),
        # Risk band: a senior analyst up to band C, a manager up to D, E is the head's.
        ("20000", "21000.00", "C", "increase", {"senior_analyst", "manager", "head_of_risk"}),
        ("20000", "21000.00", "D", "increase", {"manager", "head_of_risk"}),
        ("20000", "21000.00", "E", "increase", {"head_of_risk"}),
        # Decreases and freezes: anyone senior; an unfreeze: a manager and above.
        ("20000", "1000.00", "E", "decrease", {"senior_analyst", "manager", "head_of_risk"}),
        ("20000", None, "E", "freeze", {"senior_analyst", "manager", "head_of_risk"}),
        ("20000", None, "A", "unfreeze", {"manager", "head_of_risk"}),
    ],
)
def test_who_may_decide_at_each_boundary_of_the_matrix(old, new, band, direction, who_may):
    change = Change(direction, Decimal(old), Decimal(new) if new else None, band)
    rules = active_rules()
    roles = {"analyst", "senior_analyst", "manager", "head_of_risk", "admin"}
    allowed = {r for r in roles if authority_for(r, change, rules).may_decide}
    assert allowed == who_may


@pytest.mark.parametrize(
    ("role", "increase", "step_up"),
    [
        ("manager", "20000.00", False),
        ("manager", "20000.01", True),
        ("head_of_risk", "50000.00", False),
        ("head_of_risk", "50000.01", True),
        ("senior_analyst", "5000.00", False),
    ],
)
def test_a_large_increase_needs_the_password_again(role, increase, step_up):
    old = Decimal("20000")
    change = Change("increase", old, old + Decimal(increase), "A")
    assert authority_for(role, change, active_rules()).step_up is step_up


def test_an_approver_beyond_their_authority_is_refused_and_never_sees_it(
    analyst, senior_analyst, manager, django_user_model
):
    line = _line()
    p = _propose(analyst, line, Decimal("25000.01"))
    assert [i.proposal for i in inbox_for(senior_analyst)] == []
    assert [i.proposal for i in inbox_for(manager)] == [p]
    with pytest.raises(NoAuthority) as exc:
        override_approve(actor=senior_analyst, proposal=p)
    assert "Manager" in exc.value.message
    other = django_user_model.objects.create_user(username="al2", password="x", role="analyst")
    with pytest.raises(NoAuthority):  # an analyst holds no approval authority at all
        override_reject(actor=other, proposal=p, note="no")


def test_the_proposer_never_decides_their_own(manager, head_of_risk):
    line = _line()
    p = _propose(manager, line, Decimal("18000"))
    assert inbox_for(manager) == []
    with pytest.raises(FourEyesOverride):
        override_approve(actor=manager, proposal=p)
    override_approve(actor=head_of_risk, proposal=p)


def test_the_step_up_is_asked_checked_and_audited(analyst, manager):
    line = _line()
    p = _propose(analyst, line, Decimal("40000.01"))
    with pytest.raises(StepUpRequired):
        override_approve(actor=manager, proposal=p)
    with pytest.raises(StepUpFailed):
        override_approve(actor=manager, proposal=p, password="wrong")
    p = override_approve(actor=manager, proposal=p, password=PASSWORD)
    assert p.stepped_up
    assert AuditEvent.objects.filter(action="override.step_up", actor=manager).count() == 1


def test_the_head_of_risk_edits_the_matrix_and_it_acts_at_once(
    analyst, senior_analyst, manager, head_of_risk
):
    rule = AuthorityRule.objects.get(role="senior_analyst", direction="increase")
    with pytest.raises(NotAllowed):
        authority_rule_save(actor=manager, rule=rule, values={"max_increase": Decimal("9000")})
    line = _line()
    p = _propose(analyst, line, Decimal("28000"))
    assert inbox_for(senior_analyst) == []
    values = {"role": "senior_analyst", "direction": "increase", "max_increase": Decimal("9000")}
    authority_rule_save(actor=head_of_risk, rule=rule, values=values)
    assert [i.proposal for i in inbox_for(senior_analyst)] == [p]
    assert AuditEvent.objects.filter(action="override.authority_changed").count() == 1
    with pytest.raises(OverrideInvalid):
        authority_rule_save(actor=head_of_risk, rule=rule, values={**values, "bands": "Z"})


# --- hard blocks ------------------------------------------------------------------------------


def test_the_product_cap_blocks_whoever_asks(analyst, head_of_risk):
    line = _line()
    with pytest.raises(HardBlock):
        _propose(analyst, line, Decimal("200000.01"))
    _propose(analyst, line, Decimal("200000.00"))


def test_a_confirmed_fraud_blocks_increases_and_unfreezes_but_not_cuts(analyst, head_of_risk):
    line = _line()
    p = _propose(analyst, line, Decimal("21000"))
    fraud_flag_set(actor=analyst, borrower_id=line.borrower_id, source="case:7")
    with pytest.raises(HardBlock):  # flagged after the proposal: blocked at approval
        override_approve(actor=head_of_risk, proposal=p)
    override_withdraw(actor=analyst, proposal=p)
    with pytest.raises(HardBlock):
        _propose(analyst, line, Decimal("21000"))
    cut = _propose(analyst, line, Decimal("1000"), reason_code="fraud_suspicion")
    override_approve(actor=head_of_risk, proposal=cut)
    line_freeze(actor=head_of_risk, line=line, status_code="fraud", note="ring")
    with pytest.raises(HardBlock):
        _propose(analyst, line, kind="unfreeze")


def test_a_line_priced_above_the_apr_ceiling_lends_no_more(analyst):
    line = _line()
    CreditLine.objects.filter(pk=line.pk).update(daily_rate=Decimal("0.000700"))  # 25.55%
    line.refresh_from_db()
    with pytest.raises(HardBlock):
        _propose(analyst, line, Decimal("21000"))
    _propose(analyst, line, Decimal("19000"))  # a cut lends no more: allowed


# --- deciding ---------------------------------------------------------------------------------


def test_approval_applies_the_limit_locks_the_line_and_tells_the_borrower(analyst, senior_analyst):
    line = _line()
    p = _propose(analyst, line, Decimal("24000"))
    p = override_approve(actor=senior_analyst, proposal=p, note="payslips verified")
    assert (p.status, p.decided_by, p.decision_note) == (
        OverrideStatus.APPROVED,
        senior_analyst,
        "payslips verified",
    )
    line.refresh_from_db()
    assert line.credit_limit == Decimal("24000.00")
    assert line.locked_until == TODAY + timedelta(days=90)
    notice = Notice.objects.get(borrower_id=line.borrower_id, kind="limit_changed")
    assert notice.params["reason_code"] == "override"
    assert AuditEvent.objects.filter(action="override.approved", actor=senior_analyst).exists()
    assert AuditEvent.objects.filter(action="line.limit_changed", borrower_id=line.borrower_id)
    # The policy may not move the line while the override holds it.
    from lending.errors import LineLocked

    with pytest.raises(LineLocked):
        line_limit_set(
            actor=None, line=line, new_limit=Decimal("1000"), reason_code="policy", automatic=True
        )
    assert pending_override_ids([line.borrower_id]) == set()


def test_a_freeze_and_an_unfreeze_apply_through_lending(analyst, senior_analyst, manager):
    line = _line()
    p = _propose(analyst, line, kind="freeze", reason_code="fraud_suspicion")
    override_approve(actor=senior_analyst, proposal=p)
    line.refresh_from_db()
    assert line.status == "frozen"
    p = _propose(analyst, line, kind="unfreeze", reason_code="data_correction")
    with pytest.raises(NoAuthority):
        override_approve(actor=senior_analyst, proposal=p)
    override_approve(actor=manager, proposal=p)
    line.refresh_from_db()
    assert line.status == "active"
    kinds = set(Notice.objects.filter(borrower_id=line.borrower_id).values_list("kind", flat=True))
    assert {"line_frozen", "line_unfrozen"} <= kinds


def test_a_second_decision_sees_the_first(analyst, senior_analyst, manager):
    line = _line()
    p = _propose(analyst, line, Decimal("21000"))
    override_reject(actor=senior_analyst, proposal=p, note="income not verified")
    with pytest.raises(AlreadyDecided) as exc:
        override_approve(actor=manager, proposal=p)
    assert "Rejected" in exc.value.message
    line.refresh_from_db()
    assert line.credit_limit == Decimal("20000.00")


def test_reject_and_request_changes_need_a_note(analyst, manager):
    p = _propose(analyst, _line(), Decimal("21000"))
    for decide in (override_reject, override_request_changes):
        with pytest.raises(OverrideInvalid):
            decide(actor=manager, proposal=p, note=" ")


def test_changes_requested_go_back_to_the_proposer_who_resubmits(
    analyst, senior_analyst, manager, django_user_model
):
    line = _line()
    p = _propose(analyst, line, Decimal("30000"))
    p = override_request_changes(actor=manager, proposal=p, note="attach the payslips")
    assert p.status == OverrideStatus.CHANGES_REQUESTED
    assert pending_override_ids([line.borrower_id]) == {line.borrower_id}
    assert inbox_for(manager) == []
    other = django_user_model.objects.create_user(username="al2", password="x", role="analyst")
    with pytest.raises(NotYourProposal):
        override_resubmit(
            actor=other,
            proposal=p,
            new_limit=Decimal("24000"),
            reason_code="new_income",
            justification="Payslips attached as asked.",
        )
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        p = override_resubmit(
            actor=analyst,
            proposal=p,
            new_limit=Decimal("24000"),
            reason_code="new_income",
            justification="Payslips attached as asked.",
            evidence_files=[("payslip.png", PNG)],
        )
        assert (p.status, p.revision, p.new_limit) == ("pending", 2, Decimal("24000.00"))
        assert p.submitted_at == NOW + timedelta(hours=2)
        # Smaller now: within a senior analyst's authority.
        assert [i.proposal for i in inbox_for(senior_analyst)] == [p]
    assert AuditEvent.objects.filter(action="override.resubmitted").count() == 1


def test_the_limit_changed_since_the_proposal_is_refused_at_approval(analyst, manager):
    line = _line()
    p = _propose(analyst, line, Decimal("21000"))
    line_limit_set(actor=manager, line=line, new_limit=Decimal("15000"), reason_code="manual")
    with pytest.raises(OverrideInvalid):
        override_approve(actor=manager, proposal=p)


def test_the_inbox_is_oldest_first_and_marks_what_is_past_its_sla(analyst, manager):
    first = _propose(analyst, _line(), Decimal("21000"))
    with time_machine.travel(NOW + timedelta(hours=30), tick=False):
        second = _propose(analyst, _line(), Decimal("21000"))
        items = inbox_for(manager)
    assert [i.proposal for i in items] == [first, second]
    assert [i.overdue for i in items] == [True, False]


# --- the system's jobs ------------------------------------------------------------------------


def test_a_pending_proposal_expires_after_the_configured_time(analyst, manager, settings):
    settings.RISKOPS_OVERRIDE_EXPIRY_HOURS = 48
    p = _propose(analyst, _line(), Decimal("21000"))
    with time_machine.travel(NOW + timedelta(hours=47), tick=False):
        assert overrides_expire() == 0
    with time_machine.travel(NOW + timedelta(hours=48, seconds=1), tick=False):
        with pytest.raises(AlreadyDecided):
            override_approve(actor=manager, proposal=p)
        assert overrides_expire() == 1
        assert overrides_expire() == 0  # a replay expires nothing twice
    p.refresh_from_db()
    assert p.status == OverrideStatus.EXPIRED
    assert AuditEvent.objects.filter(action="override.expired", object_id=str(p.pk)).count() == 1


def test_a_temporary_limit_returns_by_itself_after_its_last_day(analyst, senior_analyst):
    line = _line()
    until = TODAY + timedelta(days=10)
    p = _propose(analyst, line, Decimal("23000"), kind="temporary", until=until)
    override_approve(actor=senior_analyst, proposal=p)
    line.refresh_from_db()
    assert (line.credit_limit, line.locked_until) == (Decimal("23000.00"), until + timedelta(1))
    with time_machine.travel(at(2026, 11, 30, 23, 0), tick=False):  # its last day
        assert temporary_limits_revert() == 0
    with time_machine.travel(at(2026, 12, 1, 1, 0), tick=False):
        assert temporary_limits_revert() == 1
        assert temporary_limits_revert() == 0
    line.refresh_from_db()
    assert line.credit_limit == Decimal("20000.00")
    assert AuditEvent.objects.filter(action="override.reverted", object_id=str(p.pk)).exists()
    assert Notice.objects.filter(borrower_id=line.borrower_id, kind="limit_changed").count() == 2


def test_a_temporary_limit_someone_changed_since_is_left_alone(analyst, senior_analyst, manager):
    line = _line()
    p = _propose(analyst, line, Decimal("23000"), kind="temporary", until=TODAY + timedelta(days=3))
    override_approve(actor=senior_analyst, proposal=p)
    line_limit_set(actor=manager, line=line, new_limit=Decimal("8000"), reason_code="manual")
    with time_machine.travel(NOW + timedelta(days=5), tick=False):
        assert temporary_limits_revert() == 0
    line.refresh_from_db()
    assert line.credit_limit == Decimal("8000.00")
    assert AuditEvent.objects.filter(action="override.revert_skipped").count() == 1


def test_the_beat_tasks_run_the_jobs(analyst, senior_analyst, settings):
    from decisions.tasks import overrides_expire_task, temporary_limits_revert_task

    schedule = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "decisions.tasks.overrides_expire_task",
        "decisions.tasks.temporary_limits_revert_task",
    } <= schedule
    _propose(analyst, _line(), Decimal("21000"))
    line = _line()
    p = _propose(analyst, line, Decimal("22000"), kind="temporary", until=TODAY + timedelta(1))
    override_approve(actor=senior_analyst, proposal=p)
    with time_machine.travel(NOW + timedelta(days=4), tick=False):
        assert overrides_expire_task.apply().get() == 1
        assert temporary_limits_revert_task.apply().get() == 1
