"""Repayments: money received for a loan, allocated over its schedule (lending.money)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit
from lending import money
from lending.choices import (
    DrawdownStatus,
)
from lending.errors import (
    DrawdownNotActive,
    InvalidDate,
    UnknownLoan,
)
from lending.models import (
    ZERO,
    Drawdown,
    Instalment,
    Repayment,
    RepaymentAllocation,
)
from lending.services import batch
from lending.services._common import (
    _conflict,
    _line_state,
    _line_sync,
    _lock_line,
    _money,
    _publish_after_commit,
    _require_key,
    _require_positive,
    _require_writer,
)
from lending.services.borrowers import _bank_account_touch

if TYPE_CHECKING:
    from accounts.models import User


# --- repayments -------------------------------------------------------------------------------


@transaction.atomic  # not durable: event ingestion composes it into one batch
def repayment_record(
    *,
    actor: User | None,
    loan_no: str,
    reference: str,
    amount: Decimal,
    paid_at: datetime,
    card_no: str | None = None,
) -> Repayment:
    """Record money received for a loan and allocate it over the schedule.

    Replayed with the same reference and data it returns the stored repayment; with
    different data it raises DuplicateKeyConflict. The paid date is `paid_at` in Shanghai.
    The rules are lending.money.plan_repayment's (pure, shared with the demo seeder and
    numbered in lending.money's module docstring); this service locks, plans, then writes.

    In short: penalty accrues on overdue principal up to the paid date; the instalments due
    take the money oldest first (interest and principal, then penalty); what is left pays the
    current instalment ahead of time with interest only for the days its principal was used,
    and any principal beyond it re-amortises the later instalments; at or above the payoff the
    loan settles, and the excess is kept as the repayment's unapplied_amount (owed back).

    Each instalment the payment reaches gets a RepaymentAllocation row; an instalment whose
    principal and interest are paid gets paid_off_at = paid_at (cleared for DPD; penalty left
    unpaid stays owed). The drawdown's principal_outstanding, the line's used and
    oldest_unpaid_due are then recomputed; the drawdown settles when everything, penalty
    included, is paid. Raises UnknownLoan, InvalidAmount (<= 0), InvalidDate (paid before
    disbursement), DrawdownNotActive (settled or written off), NotAllowed.
    """
    _require_writer(actor)
    card_no = card_no or None  # "" from a client means no card, as None does
    preloaded = batch.repaid_loan(loan_no)
    if preloaded is not None:  # inside a batch, which locked the line, the loan, the schedule
        drawdown, instalments = preloaded
        line = _lock_line(drawdown.borrower_id)
    else:
        found = Drawdown.objects.filter(loan_no=loan_no).values("borrower_id").first()
        if found is None:
            raise UnknownLoan(loan_no=loan_no)
        line = _lock_line(found["borrower_id"])
        # Lock order: the line (above), then the drawdown, as everywhere else.
        # With its borrower (read, not locked: of=self), whose card the payment may add.
        drawdown = (
            Drawdown.objects.select_for_update(of=("self",))
            .select_related("borrower")
            .get(loan_no=loan_no)
        )
        instalments = None

    existing = batch.reference_of_batch(Repayment, reference)
    if existing is ...:
        existing = (
            Repayment.objects.select_related("drawdown", "bank_account")
            .filter(reference=reference)
            .first()
        )
    if existing is not None:
        _conflict(
            f"repayment {reference}",
            {
                "loan_no": existing.drawdown.loan_no,
                "amount": existing.amount,
                "paid_at": existing.paid_at,
                "card_no": existing.bank_account.card_no if existing.bank_account else None,
            },
            {
                "loan_no": loan_no,
                "amount": _money(amount) if amount is not None else None,
                "paid_at": paid_at,
                "card_no": card_no,
            },
        )
        return existing

    _require_key(reference, "reference", 64)
    _require_positive(amount)
    amount = _money(amount)
    if drawdown.status != DrawdownStatus.ACTIVE:
        raise DrawdownNotActive(loan_no=loan_no, status=str(drawdown.get_status_display()))
    paid_date = timezone.localdate(paid_at)
    start_date = timezone.localdate(drawdown.disbursed_at)
    if paid_date < start_date:
        raise InvalidDate(field="paid_at", value=paid_date, earliest=start_date)

    if instalments is None:
        instalments = list(
            Instalment.objects.select_for_update().filter(drawdown=drawdown).order_by("seq")
        )
    by_seq = {inst.seq: inst for inst in instalments}
    plan = money.plan_repayment(
        instalments,
        amount=amount,
        paid_at=paid_at,
        daily_rate=drawdown.daily_rate,
        disbursed_on=start_date,
        mode=drawdown.repayment_mode,
    )
    parts, settles = plan.parts, plan.settles

    bank_account = None
    if card_no:
        bank_account = _bank_account_touch(
            actor=actor, borrower=drawdown.borrower, card_no=card_no, bank_name="", seen_at=paid_at
        )
    repayment = Repayment(
        drawdown=drawdown,
        borrower_id=drawdown.borrower_id,
        reference=reference,
        amount=amount,
        paid_at=paid_at,
        unapplied_amount=plan.unapplied,
        bank_account=bank_account,
    )
    batch.insert(repayment, borrower_id=drawdown.borrower_id)
    batch.reference_recorded(repayment)
    for seq, part in parts.items():
        if part.fields:
            batch.save(by_seq[seq], part.fields)
    batch.insert(
        *(
            RepaymentAllocation(
                repayment=repayment,
                instalment=by_seq[seq],
                fee=part.fee,
                interest=part.interest,
                principal=part.principal,
            )
            for seq, part in sorted(parts.items())
            if part.total > 0
        ),
        borrower_id=drawdown.borrower_id,
    )

    before_drawdown = {
        "status": drawdown.status,
        "principal_outstanding": drawdown.principal_outstanding,
    }
    before_line = _line_state(line)
    drawdown.principal_outstanding = drawdown.amount - sum(
        (inst.principal_paid for inst in instalments), ZERO
    )
    drawdown_fields = ["principal_outstanding"]
    if settles:
        drawdown.status = DrawdownStatus.SETTLED
        drawdown.settled_at = paid_at
        drawdown_fields += ["status", "settled_at"]
    batch.save(drawdown, drawdown_fields)
    batch.save(line, _line_sync(line))

    audit(
        actor=actor,
        action="repayment.recorded",
        obj=repayment,
        borrower_id=drawdown.borrower_id,
        before={"drawdown": before_drawdown, "line": before_line},
        after={
            "loan_no": loan_no,
            "reference": reference,
            "amount": amount,
            "paid_at": paid_at,
            "penalty_accrued": plan.penalty_accrued,
            "unapplied": plan.unapplied,
            "allocations": {
                str(seq): {"fee": p.fee, "interest": p.interest, "principal": p.principal}
                for seq, p in sorted(parts.items())
                if p.total > 0
            },
            "drawdown": {
                "status": drawdown.status,
                "principal_outstanding": drawdown.principal_outstanding,
            },
            "line": _line_state(line),
        },
    )
    _publish_after_commit(borrower_id=drawdown.borrower_id, kind="repayment")
    return repayment
