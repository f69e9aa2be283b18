"""Decisions on a line: the limit, freeze and unfreeze, closure, write-off (lending.services.lines).

Every service: its happy path, each refusal, a permission denial, a replay.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditEvent
from lending.choices import DrawdownStatus, LineStatus, LineStatusCode, NoticeKind, TransitionKind
from lending.errors import (
    AlreadyFrozen,
    DayInFuture,
    DrawdownNotActive,
    InsufficientAvailable,
    InvalidAmount,
    InvalidChoice,
    InvalidData,
    LimitAboveCap,
    LineClosed,
    LineHasActiveLoans,
    LineLocked,
    NotAllowed,
    ReasonRequired,
)
from lending.models import CreditLine, DayClose, Drawdown, LineTransition, Notice
from lending.services import (
    drawdown_write_off,
    line_close,
    line_freeze,
    line_limit_set,
    line_unfreeze,
    repayment_record,
)
from lending.signals import line_transitions_recorded
from lending.tests.factories import BorrowerFactory, DrawdownFactory, at, borrower_with_drawdown

pytestmark = pytest.mark.django_db

D = Decimal
NOW = at(2026, 3, 20, 15, 0)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def line_of(borrower) -> CreditLine:
    return CreditLine.objects.get(borrower=borrower)


def audits(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def notices(borrower, kind: str | None = None) -> list[Notice]:
    found = Notice.objects.filter(borrower=borrower).order_by("id")
    return list(found.filter(kind=kind) if kind else found)


def set_limit(line, new_limit, actor=None, **kwargs):
    kwargs.setdefault("reason_code", LineStatusCode.MANUAL)
    return line_limit_set(actor=actor, line=line, new_limit=D(new_limit), **kwargs)


# --- line_limit_set ---------------------------------------------------------------------------


def test_a_manager_raises_a_limit_with_a_reason_lock_audit_row_and_notice(manager):
    borrower = BorrowerFactory(credit_limit=D("20000"))

    line = set_limit(
        line_of(borrower),
        "35000",
        actor=manager,
        reason_code=LineStatusCode.OVERRIDE,
        note="Income verified",
        lock_days=90,
    )

    line.refresh_from_db()
    assert line.credit_limit == D("35000.00")
    assert line.locked_until == date(2026, 3, 20) + timedelta(days=90)
    (event,) = audits("line.limit_changed")
    assert event.actor == manager
    assert event.borrower_id == borrower.pk
    assert event.before["credit_limit"] == "20000.00"
    assert event.after["credit_limit"] == "35000.00"
    assert event.after["reason_code"] == "override"
    assert event.note == "Income verified"
    (notice,) = notices(borrower, NoticeKind.LIMIT_CHANGED)
    assert notice.params == {"old": "20000.00", "new": "35000.00", "reason_code": "override"}
    assert notice.read_at is None


def test_the_same_limit_again_is_a_replay_that_writes_nothing(manager):
    borrower = BorrowerFactory(credit_limit=D("20000"))
    set_limit(line_of(borrower), "25000", actor=manager)

    again = set_limit(line_of(borrower), "25000.00", actor=manager, lock_days=30)

    assert again.credit_limit == D("25000.00")
    assert again.locked_until is None
    assert len(audits("line.limit_changed")) == 1
    assert len(notices(borrower, NoticeKind.LIMIT_CHANGED)) == 1


def test_a_limit_above_the_product_cap_is_a_hard_block_whoever_asks(head_of_risk, settings):
    borrower = BorrowerFactory(credit_limit=D("20000"))
    with pytest.raises(LimitAboveCap) as exc:
        set_limit(line_of(borrower), "200000.01", actor=head_of_risk)
    assert exc.value.extra["cap"] == D("200000.00")

    # A product cap configured lower binds too; the cap itself is allowed.
    settings.RISKOPS_PRODUCT_LIMIT_CAP = "50000"
    with pytest.raises(LimitAboveCap):
        set_limit(line_of(borrower), "50000.01", reason_code=LineStatusCode.POLICY)
    assert set_limit(line_of(borrower), "50000").credit_limit == D("50000.00")
    assert len(audits("line.limit_changed")) == 1


def test_the_automatic_policy_is_refused_while_a_manual_decision_holds_the_line(manager):
    borrower = BorrowerFactory(credit_limit=D("20000"))
    set_limit(line_of(borrower), "30000", actor=manager, lock_days=10)

    with pytest.raises(LineLocked) as exc:
        set_limit(line_of(borrower), "5000", reason_code=LineStatusCode.POLICY, automatic=True)
    assert exc.value.extra["locked_until"] == date(2026, 3, 30)
    assert line_of(borrower).credit_limit == D("30000.00")

    # A manual decision is not held by the lock; the policy is again once it has expired.
    assert set_limit(line_of(borrower), "28000", actor=manager).credit_limit == D("28000.00")
    with time_machine.travel(at(2026, 3, 31), tick=False):
        line = set_limit(
            line_of(borrower), "5000", reason_code=LineStatusCode.POLICY, automatic=True
        )
    assert line.credit_limit == D("5000.00")
    assert audits("line.limit_changed")[-1].after["automatic"] is True


def test_the_automatic_policy_sets_no_lock_of_its_own():
    borrower = BorrowerFactory()
    with pytest.raises(InvalidData):
        set_limit(line_of(borrower), "5000", reason_code="policy", automatic=True, lock_days=30)
    with pytest.raises(InvalidData):
        set_limit(line_of(borrower), "5000", lock_days=0)


def test_a_cut_below_the_drawn_balance_is_allowed_and_leaves_nothing_available(manager):
    borrower, _loan = borrower_with_drawdown(credit_limit=D("20000"))  # ¥10,000 drawn

    line = set_limit(line_of(borrower), "6000", actor=manager, reason_code="overdue")

    assert line.credit_limit == D("6000.00")
    assert line.used == D("10000.00")
    assert line.available == 0
    with pytest.raises(InsufficientAvailable):
        DrawdownFactory(borrower=borrower, amount=D("1"), disbursed_at=NOW)


def test_a_closed_line_takes_no_limit_change():
    borrower = BorrowerFactory()
    line_close(actor=None, line=line_of(borrower), reason_code="customer_request")
    with pytest.raises(LineClosed):
        set_limit(line_of(borrower), "1000")


def test_a_limit_change_needs_a_reason_code_it_takes_and_a_sane_amount():
    line = line_of(BorrowerFactory())
    with pytest.raises(ReasonRequired):
        set_limit(line, "1000", reason_code="  ")
    with pytest.raises(InvalidChoice):
        set_limit(line, "1000", reason_code="opened")
    with pytest.raises(InvalidChoice):
        set_limit(line, "1000", reason_code="because")
    with pytest.raises(InvalidAmount):
        set_limit(line, "-1")
    assert not audits("line.limit_changed")


def test_only_managers_and_above_or_the_system_change_a_limit(
    analyst, senior_analyst, borrower_user, service_user, outsider, head_of_risk, admin_user
):
    borrower = BorrowerFactory(credit_limit=D("20000"))
    for actor in (analyst, senior_analyst, borrower_user, service_user, outsider):
        with pytest.raises(NotAllowed):
            set_limit(line_of(borrower), "21000", actor=actor)
    assert line_of(borrower).credit_limit == D("20000.00")

    set_limit(line_of(borrower), "21000", actor=head_of_risk)
    set_limit(line_of(borrower), "22000", actor=admin_user)
    set_limit(line_of(borrower), "23000", actor=None, reason_code="policy", automatic=True)
    assert len(audits("line.limit_changed")) == 3


# --- line_freeze / line_unfreeze --------------------------------------------------------------


def test_a_freeze_and_unfreeze_keep_the_code_shown_and_the_note_apart_and_notify(analyst, manager):
    borrower = BorrowerFactory()

    line = line_freeze(
        actor=analyst, line=line_of(borrower), status_code="fraud", note="Device in ring #42"
    )
    assert line.status == LineStatus.FROZEN
    assert line.status_code == LineStatusCode.FRAUD
    assert line.get_status_code_display() == "Confirmed fraud"
    assert line.status_reason == "Device in ring #42"

    line = line_unfreeze(actor=manager, line=line, status_code="manual", note="Ring cleared")
    assert line.status == LineStatus.ACTIVE
    assert line.status_code == LineStatusCode.MANUAL

    frozen, unfrozen = audits("line.frozen")[0], audits("line.unfrozen")[0]
    assert frozen.after["status_code"] == "fraud"
    assert frozen.note == "Device in ring #42"
    assert unfrozen.before["status_code"] == "fraud"
    kinds = [(n.kind, n.params) for n in notices(borrower)]
    assert kinds == [
        (NoticeKind.LINE_FROZEN, {"reason_code": "fraud"}),
        (NoticeKind.LINE_UNFROZEN, {"reason_code": "manual"}),
    ]


def test_a_freeze_needs_a_code_it_takes_and_a_second_freeze_is_refused():
    borrower = BorrowerFactory()
    with pytest.raises(ReasonRequired):
        line_freeze(actor=None, line=line_of(borrower), note="no code")
    with pytest.raises(InvalidChoice):
        line_freeze(actor=None, line=line_of(borrower), status_code="written_off")
    line_freeze(actor=None, line=line_of(borrower), status_code="overdue")
    with pytest.raises(AlreadyFrozen):
        line_freeze(actor=None, line=line_of(borrower), status_code="overdue")
    assert len(notices(borrower, NoticeKind.LINE_FROZEN)) == 1


def test_the_old_free_text_reason_still_freezes_as_a_staff_decision():
    borrower = BorrowerFactory()
    line = line_freeze(actor=None, line=line_of(borrower), reason="Collections hold")
    assert line.status_code == LineStatusCode.MANUAL
    assert line.status_reason == "Collections hold"
    with pytest.raises(ReasonRequired):
        line_unfreeze(actor=None, line=line, reason="  ")


def test_a_borrower_login_cannot_freeze(borrower_user):
    borrower = BorrowerFactory()
    with pytest.raises(NotAllowed):
        line_freeze(actor=borrower_user, line=line_of(borrower), status_code="manual")
    assert not notices(borrower)


# --- line_close -------------------------------------------------------------------------------


def test_a_line_with_an_active_loan_does_not_close_and_closes_once_settled(manager):
    borrower, loan = borrower_with_drawdown()
    with pytest.raises(LineHasActiveLoans) as exc:
        line_close(actor=manager, line=line_of(borrower), reason_code="customer_request")
    assert exc.value.extra["count"] == 1

    repayment_record(
        actor=None, loan_no=loan.loan_no, reference="R-ALL", amount=D("20000"), paid_at=NOW
    )
    line = line_close(
        actor=manager, line=line_of(borrower), reason_code="customer_request", note="Asked"
    )

    assert line.status == LineStatus.CLOSED
    assert line.closed_at == NOW
    assert line.status_code == LineStatusCode.CUSTOMER_REQUEST
    (event,) = audits("line.closed")
    assert event.actor == manager
    assert [n.kind for n in notices(borrower, NoticeKind.LINE_CLOSED)] == ["line_closed"]


def test_closing_a_closed_line_again_writes_nothing_and_it_refuses_what_follows(manager):
    borrower = BorrowerFactory()
    line_close(actor=manager, line=line_of(borrower), reason_code="fraud")
    line_close(actor=manager, line=line_of(borrower), reason_code="fraud")
    assert len(audits("line.closed")) == 1
    with pytest.raises(LineClosed):
        line_freeze(actor=None, line=line_of(borrower), status_code="manual")


def test_only_managers_close_a_line(analyst):
    borrower = BorrowerFactory()
    with pytest.raises(NotAllowed):
        line_close(actor=analyst, line=line_of(borrower), reason_code="manual")
    with pytest.raises(InvalidChoice):
        line_close(actor=None, line=line_of(borrower), reason_code="written_off")
    assert line_of(borrower).status == LineStatus.ACTIVE


# --- drawdown_write_off -----------------------------------------------------------------------


def test_a_write_off_moves_the_principal_off_the_book_and_closes_the_last_loans_line(manager):
    borrower, loan = borrower_with_drawdown()  # ¥10,000, first due 2026-02-10

    written = drawdown_write_off(
        actor=manager, drawdown=loan, day=date(2026, 3, 19), note="Deceased"
    )

    assert written.status == DrawdownStatus.WRITTEN_OFF
    assert written.principal_outstanding == 0
    assert written.written_off_principal == D("10000.00")
    assert written.written_off_at is not None
    assert written.written_off_at.date() == date(2026, 3, 19)  # the close of the day
    line = line_of(borrower)
    assert line.used == 0
    assert line.status == LineStatus.CLOSED
    assert line.status_code == LineStatusCode.WRITTEN_OFF
    (transition,) = LineTransition.objects.filter(line=line)
    assert transition.kind == TransitionKind.WRITTEN_OFF
    assert transition.day == date(2026, 3, 19)
    assert transition.dpd == 37
    assert transition.from_bucket == transition.to_bucket == "M2"
    assert transition.balance == D("10000.00")
    (event,) = audits("drawdown.written_off")
    assert event.actor == manager
    assert event.after["written_off_principal"] == "10000.00"
    assert event.note == "Deceased"
    assert len(audits("line.closed")) == 1
    assert [n.kind for n in notices(borrower)] == ["written_off", "line_closed"]
    assert notices(borrower)[0].params == {
        "loan_no": loan.loan_no,
        "principal": "10000.00",
        "day": "2026-03-19",
    }


def test_writing_off_one_of_two_loans_freezes_the_line_and_leaves_the_other_on_the_book():
    borrower = BorrowerFactory(credit_limit=D("30000"))
    first = DrawdownFactory(borrower=borrower, disbursed_at=at(2026, 1, 10))
    DrawdownFactory(borrower=borrower, disbursed_at=at(2026, 1, 11))

    drawdown_write_off(actor=None, drawdown=first, day=date(2026, 3, 20))

    line = line_of(borrower)
    # Open for the running loan's repayments, lending nothing on a written-off debt.
    assert (line.status, line.status_code) == (LineStatus.FROZEN, LineStatusCode.WRITTEN_OFF)
    assert line.used == D("10000.00")
    # DPD now follows the running loan only: its first instalment fell due on 11 February.
    assert line.oldest_unpaid_due == date(2026, 2, 11)
    assert not audits("line.closed")
    assert len(audits("line.frozen")) == 1


def test_a_loan_written_off_again_is_a_replay():
    _borrower, loan = borrower_with_drawdown()
    drawdown_write_off(actor=None, drawdown=loan, day=date(2026, 3, 20))
    again = drawdown_write_off(actor=None, drawdown=loan, day=date(2026, 3, 20))
    assert again.written_off_principal == D("10000.00")
    assert len(audits("drawdown.written_off")) == 1
    assert LineTransition.objects.count() == 1


def test_a_write_off_refuses_a_settled_loan_a_future_day_and_an_analyst(analyst):
    _borrower, loan = borrower_with_drawdown()
    with pytest.raises(NotAllowed):
        drawdown_write_off(actor=analyst, drawdown=loan, day=date(2026, 3, 20))
    with pytest.raises(DayInFuture):
        drawdown_write_off(actor=None, drawdown=loan, day=date(2026, 3, 21))
    repayment_record(
        actor=None, loan_no=loan.loan_no, reference="R-ALL", amount=D("20000"), paid_at=NOW
    )
    with pytest.raises(DrawdownNotActive):
        drawdown_write_off(actor=None, drawdown=loan, day=date(2026, 3, 20))
    assert Drawdown.objects.get(pk=loan.pk).status == DrawdownStatus.SETTLED


def test_a_write_off_dated_a_closed_day_is_published_after_commit(
    django_capture_on_commit_callbacks,
):
    _borrower, loan = borrower_with_drawdown()
    DayClose.objects.create(day=date(2026, 3, 19), status="done", started_at=NOW)
    heard = []

    def receiver(sender, day, transition_ids, **kwargs):
        heard.append((day, transition_ids))

    line_transitions_recorded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            drawdown_write_off(actor=None, drawdown=loan, day=date(2026, 3, 19))
    finally:
        line_transitions_recorded.disconnect(receiver)
    (transition,) = LineTransition.objects.all()
    assert heard == [(date(2026, 3, 19), [transition.pk])]


# --- what people see --------------------------------------------------------------------------


@pytest.mark.parametrize("code", LineStatusCode.values)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_reason_code_in_a_notice_reads_as_its_label(code, language):
    # The notices partial spells the labels out (a notice keeps only the code): same msgids.
    with translation.override(language):
        shown = render_to_string("lending/partials/status_code.html", {"code": code}).strip()
        assert shown == str(LineStatusCode(code).label)


def test_the_portal_shows_the_borrower_their_notices_but_never_the_staff_note(
    client, borrower_user, borrower_record, manager
):
    line = line_freeze(
        actor=None, line=line_of(borrower_record), status_code="fraud", note="Ring #42 lead"
    )
    line_limit_set(
        actor=manager, line=line, new_limit=D("8000"), reason_code="fraud", note="Ring #42"
    )
    client.force_login(borrower_user)

    page = client.get(reverse("lending:my-line"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Your credit line was frozen" in page
    assert "Your credit limit was changed from ¥20,000.00 to ¥8,000.00." in page
    assert page.count("Confirmed fraud") == 3  # the line's status and both notices
    assert "Ring #42" not in page


def test_the_staff_page_shows_the_status_code_translated_and_the_note(client, manager):
    borrower = BorrowerFactory()
    line_freeze(actor=None, line=line_of(borrower), status_code="overdue", note="Called twice")
    client.force_login(manager)

    url = reverse("lending:borrower-detail", args=[borrower.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "逾期：额度冻结" in page
    assert "Called twice" in page
