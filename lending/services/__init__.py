"""Every write to the lending book: borrowers, lines, drawdowns, repayments, what was seen.

Rules shared by all services here:

1. Keyword-only arguments; `actor` is the User acting, or None for the system (a task, the
   seeder). A User actor must be an active staff member or the lending core's service account
   (NotAllowed otherwise); freezing and unfreezing a line needs staff; a limit change, a
   write-off or a closure needs a manager and above (lending.services.lines).
2. Each service runs in `@transaction.atomic`, not durable: event ingestion
   (monitoring.services.event_ingest) is the durable entry point and composes many of these
   into one all-or-nothing batch. The day close (day_close_run) is the exception: it runs
   outside any transaction and commits chunk by chunk (lending.services.day_close).
3. Decisions are made on rows re-read with `select_for_update()`. Lock order is always the
   credit line, then the drawdown, so two services never wait on each other in a cycle.
4. Every change writes an audit row (accounts.audit.audit) in the same transaction, with the
   borrower set. Personal data (ID number, mobile, card number) never goes into the audit
   log in clear: only its masked form.
5. Idempotency: services keyed by an outside reference (customer_no, loan_no, a repayment's
   or transfer's reference) return the stored object when replayed with the same data, write
   nothing and no audit row, and raise DuplicateKeyConflict when the key comes with different
   data.
6. Derived state is recomputed from the schedule after every change (`_line_sync`):
   line.used = principal outstanding of the line's active drawdowns, and
   line.oldest_unpaid_due = the earliest due date of an instalment not fully paid (None when
   nothing is owed). DPD and the bucket are derived from it (lending.money).
7. All money math is lending.money's; nothing here rounds or computes interest by itself.
"""

from lending.services._common import MAX_DAILY_RATE, MAX_TERM_MONTHS
from lending.services.book import book_snapshot_take
from lending.services.borrowers import (
    asset_declare,
    bank_account_seen,
    borrower_register,
    device_seen,
    identity_check_record,
    transfer_out_record,
)
from lending.services.day_close import day_close_catch_up, day_close_run
from lending.services.drawdowns import drawdown_create
from lending.services.lines import (
    drawdown_write_off,
    line_close,
    line_freeze,
    line_limit_set,
    line_refresh_arrears,
    line_unfreeze,
)
from lending.services.lines_bulk import LineChange, line_freeze_bulk, line_limits_set_bulk
from lending.services.notices import notice_send as notice_send
from lending.services.pii import PII_REASON_MIN_LENGTH, pii_reveal
from lending.services.repayments import repayment_record

__all__ = [
    "LineChange",
    "MAX_DAILY_RATE",
    "PII_REASON_MIN_LENGTH",
    "MAX_TERM_MONTHS",
    "asset_declare",
    "bank_account_seen",
    "book_snapshot_take",
    "borrower_register",
    "day_close_catch_up",
    "day_close_run",
    "device_seen",
    "drawdown_create",
    "drawdown_write_off",
    "identity_check_record",
    "line_close",
    "line_freeze",
    "line_freeze_bulk",
    "line_limit_set",
    "line_limits_set_bulk",
    "line_refresh_arrears",
    "line_unfreeze",
    "pii_reveal",
    "repayment_record",
    "transfer_out_record",
]
