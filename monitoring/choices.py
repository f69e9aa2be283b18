from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class EventKind(models.TextChoices):
    """What the lending core tells us happened."""

    LINE_OPENED = "line_opened", _("Line opened")
    DRAWDOWN = "drawdown", _("Drawdown")
    REPAYMENT = "repayment", _("Repayment")
    LOGIN = "login", _("Login")
    DEVICE_CHANGE = "device_change", _("Device change")
    BANK_ACCOUNT_CHANGE = "bank_account_change", _("Bank account change")
    TRANSFER_OUT = "transfer_out", _("Transfer out")


class RuleKind(models.TextChoices):
    """The monitoring rules the product ships; each has a rule row and versions of its
    thresholds (monitoring.models.RuleVersion.params)."""

    SMALL_DRAWDOWN_VELOCITY = "small_drawdown_velocity", _("Velocity of small drawdowns")
    OFF_HOURS_WITHDRAWAL = "off_hours_withdrawal", _("Large withdrawal off-hours")
    BORROW_TO_REPAY = "borrow_to_repay", _("Borrowing here to repay elsewhere")
    FUND_FLOW_PATH = "fund_flow_path", _("Fund-flow path to another borrower")
    FOREIGN_REPAYMENT_ACCOUNT = "foreign_repayment_account", _("Repayment from another's account")
    LINKED_IDENTITIES = "linked_identities", _("Ring of linked identities")
    MULTI_LENDER_SPIKE = "multi_lender_spike", _("Multi-lender spike")
    UTILISATION_JUMP = "utilisation_jump", _("Utilisation jump")
    NEW_DEVICE_MAX_DRAWDOWN = "new_device_max_drawdown", _("New device, then a maximum drawdown")
    IDENTITY_MISMATCH = "identity_mismatch", _("Identity cross-check mismatched")
    SHARED_IDENTITY = "shared_identity", _("One identity on several borrowers")
    BLOCKED_CARD = "blocked_card", _("Card on the blocked list")
    # Not judged on events: the drawdown check raises it when it answers "review", so the
    # review opens a case like any alert (monitoring.services.checks).
    DRAWDOWN_CHECK_REVIEW = "drawdown_check_review", _("Drawdown check referred for review")


class AlertCategory(models.TextChoices):
    """What an alert is about; alerts of one borrower and category group into one case."""

    FRAUD = "fraud", _("Fraud")
    CREDIT = "credit", _("Credit risk")


class Severity(models.IntegerChoices):
    LOW = 1, _("Low")
    MEDIUM = 2, _("Medium")
    HIGH = 3, _("High")
    CRITICAL = 4, _("Critical")


class RuleVersionStatus(models.TextChoices):
    """A rule version: drafted, run in shadow beside the active one, live, retired."""

    DRAFT = "draft", _("Draft")
    SHADOW = "shadow", _("Shadow")
    ACTIVE = "active", _("Active")
    RETIRED = "retired", _("Retired")


class QueueKind(models.TextChoices):
    """Case queues by kind of work."""

    FRAUD = "fraud", _("Fraud")
    CREDIT = "credit", _("Credit risk")
    OVERRIDE = "override", _("Override approval")
    DISPUTE = "dispute", _("Disputes")


class CaseStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("case status", "Open")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting for the borrower")
    RESOLVED = "resolved", _("Resolved")


class Disposition(models.TextChoices):
    FALSE_POSITIVE = "false_positive", _("False positive")
    CONFIRMED_FRAUD = "confirmed_fraud", _("Confirmed fraud")
    CONFIRMED_CREDIT_RISK = "confirmed_credit_risk", _("Confirmed credit risk")
    OTHER = "other", _("Other")


class ListKind(models.TextChoices):
    """The lists a manager keeps that rules refer to (monitoring.models.ManagedList)."""

    KNOWN_LENDERS = "known_lenders", _("Known lender counterparties")
    TRUSTED_DEVICES = "trusted_devices", _("Trusted devices")
    TRUSTED_EMPLOYERS = "trusted_employers", _("Trusted employers")
    BLOCKED_CARDS = "blocked_cards", _("Blocked cards")


class CheckDecision(models.TextChoices):
    """The drawdown check's answer to the lending core."""

    APPROVE = "approve", _("Approve")
    REVIEW = "review", _("Review")
    DECLINE = "decline", _("Decline")
