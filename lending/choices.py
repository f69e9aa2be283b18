from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class IncomeBand(models.TextChoices):
    """Declared monthly income, in yuan."""

    BELOW_3K = "lt3k", _("Below ¥3,000")
    FROM_3K = "3k_5k", _("¥3,000–5,000")
    FROM_5K = "5k_10k", _("¥5,000–10,000")
    FROM_10K = "10k_20k", _("¥10,000–20,000")
    ABOVE_20K = "gt20k", _("Above ¥20,000")


class IdentityCheckResult(models.TextChoices):
    """The borrower's identity cross-checked against third-party data."""

    MATCHED = "matched", _("Matched")
    MISMATCHED = "mismatched", _("Mismatched")
    NOT_CHECKED = "not_checked", _("Not checked")


class LineStatus(models.TextChoices):
    # "Active" is a line in good standing (正常) here and an unsettled loan (未结清) below.
    ACTIVE = "active", pgettext_lazy("credit line status", "Active")
    FROZEN = "frozen", _("Frozen")
    CLOSED = "closed", _("Closed")


class LimitChangeKind(models.TextChoices):
    """What moved a line's limit or status (LimitChange)."""

    OPENING = "opening", _("Line opened")
    LIMIT = "limit", _("Limit changed")
    FREEZE = "freeze", _("Line frozen")
    UNFREEZE = "unfreeze", _("Line unfrozen")
    CLOSE = "close", _("Line closed")


class RepaymentMode(models.TextChoices):
    """How a drawdown is repaid; PBOC 还款方式 codes in comments."""

    EQUAL_INSTALMENT = "equal_instalment", _("Equal instalments")  # 11 等额本息
    EQUAL_PRINCIPAL = "equal_principal", _("Equal principal")  # 12 等额本金
    INTEREST_FIRST = "interest_first", _("Interest monthly, principal at end")  # 31 先息后本


class Purpose(models.TextChoices):
    """The borrower's stated use of a drawdown (the scenario)."""

    DAILY_CONSUMPTION = "daily", _("Daily consumption")
    TRAVEL = "travel", _("Travel")
    EDUCATION = "education", _("Education")
    # A context of its own: a bare "Home" would also translate Django admin's breadcrumb.
    HOME = "home", pgettext_lazy("drawdown purpose", "Home")
    MEDICAL = "medical", _("Medical")
    OTHER = "other", _("Other")


class DrawdownStatus(models.TextChoices):
    # Contexts: "Active" is not the line's 正常, "Settled" not the settlement date's label.
    ACTIVE = "active", pgettext_lazy("drawdown status", "Active")
    SETTLED = "settled", pgettext_lazy("drawdown status", "Settled")
    WRITTEN_OFF = "written_off", _("Written off")


class AssetKind(models.TextChoices):
    """Declared financial assets a borrower could repay from."""

    DEPOSIT = "deposit", _("Bank deposit")
    WEALTH = "wealth", _("Wealth-management product")
    HOUSING_FUND = "housing_fund", _("Housing provident fund")
    INSURANCE = "insurance", _("Insurance (cash value)")
    SECURITIES = "securities", _("Securities")
    OTHER = "other", _("Other")


class Bucket(models.TextChoices):
    """Delinquency bucket by days past due (RULES §5.1)."""

    M0 = "M0", _("M0 current")
    M1 = "M1", _("M1 1–30")
    M2 = "M2", _("M2 31–60")
    M3 = "M3", _("M3 61–90")
    M4 = "M4", _("M4 91–120")
    M5 = "M5", _("M5 121–150")
    M6 = "M6", _("M6 151–180")
    M7 = "M7", _("M7+ >180")


class PiiField(models.TextChoices):
    """Personal data that is masked by default and can be revealed with a reason."""

    NAME = "name", _("Name")
    NATIONAL_ID = "national_id", _("National ID number")
    MOBILE = "mobile", _("Mobile number")
    BANK_CARD = "bank_card", _("Bank card number")
    ADDRESS = "address", _("Home address")
    EMERGENCY_CONTACT = "emergency_contact", _("Emergency contact")


class LineStatusCode(models.TextChoices):
    """Why a line is in its status: stored as a code, translated when shown."""

    OPENED = "opened", _("Line opened")
    MANUAL = "manual", _("Decision by risk staff")
    OVERDUE = "overdue", _("Past due: line frozen")
    FRAUD = "fraud", _("Confirmed fraud")
    POLICY = "policy", _("Limit policy")
    OVERRIDE = "override", _("Approved override")
    WRITTEN_OFF = "written_off", _("Written off: line closed")
    CUSTOMER_REQUEST = "customer_request", _("At the borrower's request")


class TransitionKind(models.TextChoices):
    """What the day close saw happen to a line's delinquency (LineTransition)."""

    ENTERED = "entered", _("Entered a worse bucket")
    CURED = "cured", _("Cured")
    WRITTEN_OFF = "written_off", _("Written off")


class NoticeKind(models.TextChoices):
    """Notices to the borrower, shown in the portal."""

    LIMIT_CHANGED = "limit_changed", _("Limit changed")
    LINE_FROZEN = "line_frozen", _("Line frozen")
    LINE_UNFROZEN = "line_unfrozen", _("Line unfrozen")
    LINE_CLOSED = "line_closed", _("Line closed")
    WRITTEN_OFF = "written_off", _("Loan written off")
    # The column holds 16 characters: a short code for a long name.
    DOCUMENTS_REQUESTED = "docs_requested", _("Documents requested")


class DocumentKind(models.TextChoices):
    """Documents risk staff may ask a borrower for (lending.services.notices)."""

    INCOME_PROOF = "income_proof", _("Proof of income")
    ID_CARD_COPY = "id_card_copy", _("Copy of the ID card")
    BANK_STATEMENT = "bank_statement", _("Bank statement")
    EMPLOYMENT_PROOF = "employment_proof", _("Proof of employment")
    OTHER = "other", _("Other document")


class DayCloseStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
