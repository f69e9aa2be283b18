"""Drawdowns: a loan drawn on the line, with its instalment schedule."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from accounts.masking import mask_card
from lending import caps, money
from lending.choices import (
    LineStatus,
    Purpose,
    RepaymentMode,
)
from lending.errors import (
    AprAboveCeiling,
    InsufficientAvailable,
    InvalidTerm,
    LineNotActive,
    LineOverdue,
)
from lending.models import (
    Borrower,
    Drawdown,
    Instalment,
)
from lending.services import batch
from lending.services._common import (
    MAX_TERM_MONTHS,
    _conflict,
    _line_state,
    _lock_line,
    _money,
    _publish_after_commit,
    _require_choice,
    _require_key,
    _require_positive,
    _require_rate,
    _require_writer,
)
from lending.services.borrowers import (
    _bank_account_touch,
    _device_touch,
    _require_plausible_time,
)

if TYPE_CHECKING:
    from accounts.models import User


# --- drawdowns --------------------------------------------------------------------------------


@transaction.atomic  # not durable: event ingestion composes it into one batch
def drawdown_create(
    *,
    actor: User | None,
    borrower: Borrower,
    loan_no: str,
    amount: Decimal,
    term_months: int,
    repayment_mode: str,
    purpose: str,
    card_no: str,
    bank_name: str,
    device_id: str | None = None,
    daily_rate: Decimal | None = None,
    disbursed_at: datetime | None = None,
) -> Drawdown:
    """Draw a loan on the borrower's line and build its instalment schedule.

    1. Lock the line. A replay of `loan_no` with the same data returns the stored drawdown
       (even if the line has since been frozen); different data raises DuplicateKeyConflict.
    2. Refuse: InvalidAmount (<= 0), InvalidTerm (not 1-36), InvalidRate (the rate given,
       or the line's, outside (0, 0.0986%]), InvalidChoice (mode, purpose), LineNotActive
       (frozen or closed), InsufficientAvailable (amount above the line's available),
       InvalidDate (disbursed in the future, or before the line opened), LineOverdue (an
       instalment of the line unpaid past its due date on the drawdown's date: a line past
       due lends nothing until it is current, frozen or not), AprAboveCeiling (the schedule's
       IRR APR, which fen rounding can push above the nominal rate on a small loan, above
       caps.apr_ceiling(); the database keeps 36% as the absolute bound).
    3. Note the payout card and the device, build the schedule (money.build_schedule, due
       dates monthly on the disbursement day), fix the APR by the IRR method (money.apr_irr),
       and add the amount to the line's `used`.
    """
    _require_writer(actor)
    device_id = device_id or None  # "" from a client means no device, as None does
    line = _lock_line(borrower.pk)
    if batch.loan_is_new(loan_no):
        existing = None
    elif (held := batch.loan_of_batch(loan_no)) is not None:
        existing = held
    else:
        existing = (
            Drawdown.objects.select_related("bank_account", "device")
            .filter(loan_no=loan_no)
            .first()
        )
    if existing is not None:
        _conflict(
            f"loan {loan_no}",
            {
                "borrower": existing.borrower_id,
                "amount": existing.amount,
                "term_months": existing.term_months,
                "repayment_mode": existing.repayment_mode,
                "purpose": existing.purpose,
                "card_no": existing.bank_account.card_no,
                "device_id": existing.device.device_id if existing.device else None,
                "daily_rate": existing.daily_rate,
                "disbursed_at": existing.disbursed_at,
            },
            {
                "borrower": borrower.pk,
                "amount": _money(amount) if amount is not None else None,
                "term_months": term_months,
                "repayment_mode": repayment_mode,
                "purpose": purpose,
                "card_no": card_no,
                "device_id": device_id,
                "daily_rate": Decimal(daily_rate) if daily_rate is not None else None,
                "disbursed_at": disbursed_at,
            },
        )
        return existing

    _require_key(loan_no, "loan_no", 40)
    _require_positive(amount)
    amount = _money(amount)
    if not isinstance(term_months, int) or not 1 <= term_months <= MAX_TERM_MONTHS:
        raise InvalidTerm(term_months=term_months)
    rate = Decimal(daily_rate) if daily_rate is not None else line.daily_rate
    _require_rate(rate)
    _require_choice(repayment_mode, RepaymentMode.values, "repayment mode")
    _require_choice(purpose, Purpose.values, "purpose")
    if line.status != LineStatus.ACTIVE:
        raise LineNotActive(status=str(line.get_status_display()))
    if amount > line.available:
        raise InsufficientAvailable(amount=amount, available=line.available)

    disbursed_at = disbursed_at or timezone.now()
    # Not in the future, not before the line opened: a drawdown dated in year 1 would be
    # thousands of days past due at once, one dated in 9999 has no schedule.
    _require_plausible_time(disbursed_at, field="disbursed_at", earliest=line.opened_at)
    drawn_on = timezone.localdate(disbursed_at)
    if line.oldest_unpaid_due is not None and line.oldest_unpaid_due < drawn_on:
        raise LineOverdue(
            oldest_unpaid_due=line.oldest_unpaid_due,
            dpd=money.days_past_due(line.oldest_unpaid_due, drawn_on),
        )
    schedule = money.build_schedule(
        amount=amount,
        term_months=term_months,
        mode=repayment_mode,
        daily_rate=rate,
        start=drawn_on,
    )
    apr = money.apr_irr(amount=amount, schedule=schedule)
    ceiling = caps.apr_ceiling()
    if apr > ceiling:
        raise AprAboveCeiling(apr=f"{apr:.2%}", ceiling=f"{ceiling:.2%}")
    before = _line_state(line)
    bank_account = _bank_account_touch(
        actor=actor, borrower=borrower, card_no=card_no, bank_name=bank_name, seen_at=disbursed_at
    )
    device = (
        _device_touch(
            actor=actor, borrower=borrower, device_id=device_id, platform="", seen_at=disbursed_at
        )
        if device_id
        else None
    )
    drawdown = Drawdown(
        line=line,
        borrower=borrower,
        loan_no=loan_no,
        amount=amount,
        term_months=term_months,
        repayment_mode=repayment_mode,
        daily_rate=rate,
        apr=apr,
        purpose=purpose,
        disbursed_at=disbursed_at,
        bank_account=bank_account,
        device=device,
        principal_outstanding=amount,
    )
    batch.insert(drawdown, borrower_id=borrower.pk)
    instalments = [
        Instalment(
            drawdown=drawdown,
            seq=planned.seq,
            due_date=planned.due_date,
            principal_due=planned.principal,
            interest_due=planned.interest,
        )
        for planned in schedule
    ]
    batch.insert(*instalments, borrower_id=borrower.pk)
    batch.loan_paid_out(drawdown, instalments)
    # The new loan adds its principal to the line's used amount and its first due date to
    # the oldest unpaid one: what _line_sync would find summing the drawdowns again (the line
    # is locked, and every change of a loan keeps these two in step).
    changed = ["used"]
    line.used = (line.used + amount).quantize(money.FEN)
    first_due = min(planned.due_date for planned in schedule)
    if line.oldest_unpaid_due is None or first_due < line.oldest_unpaid_due:
        line.oldest_unpaid_due = first_due
        changed.append("oldest_unpaid_due")
    batch.save(line, changed)
    audit(
        actor=actor,
        action="drawdown.created",
        obj=drawdown,
        borrower_id=borrower.pk,
        before={"line": before},
        after={
            "loan_no": loan_no,
            "amount": amount,
            "term_months": term_months,
            "repayment_mode": repayment_mode,
            "daily_rate": rate,
            "apr": drawdown.apr,
            "purpose": purpose,
            "card_no": mask_card(card_no),
            "line": _line_state(line),
        },
    )
    _publish_after_commit(borrower_id=borrower.pk, kind="drawdown")
    return drawdown
