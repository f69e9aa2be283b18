from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventKind(models.TextChoices):
    """What the lending core tells us happened."""

    LINE_OPENED = "line_opened", _("Line opened")
    DRAWDOWN = "drawdown", _("Drawdown")
    REPAYMENT = "repayment", _("Repayment")
    LOGIN = "login", _("Login")
    DEVICE_CHANGE = "device_change", _("Device change")
    BANK_ACCOUNT_CHANGE = "bank_account_change", _("Bank account change")
    TRANSFER_OUT = "transfer_out", _("Transfer out")
