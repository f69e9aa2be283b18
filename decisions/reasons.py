"""Reason codes: what a feature that lost points says to an analyst and to the borrower.

A score's reasons are the features that lost the most points against their best bin
(decisions.scorecard.PointsTable.reasons). Each has a stable code (kept in the score record,
so a reason read years later means the same) and a sentence in both languages, written for
the borrower: at most BORROWER_REASONS of them are shown in the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

BORROWER_REASONS = 4


@dataclass(frozen=True)
class Reason:
    code: str
    sentence: Any


REASONS: dict[str, Reason] = {
    "income_band": Reason("R01", _("Your declared monthly income is low for the credit used")),
    "utilisation": Reason("R02", _("A large share of your credit line is in use")),
    "instalment_to_income": Reason("R03", _("Your upcoming instalments are high against income")),
    "verified_assets": Reason("R04", _("No verified assets back your repayments")),
    "months_on_book": Reason("R05", _("Your credit history with us is short")),
    "max_dpd_ever": Reason("R06", _("You have repaid late in the past")),
    "max_dpd_12m": Reason("R07", _("You repaid late in the last 12 months")),
    "late_instalments_12m": Reason("R08", _("Several instalments were late in the last 12 months")),
    "on_time_streak": Reason("R09", _("Few instalments repaid on time in a row")),
    "early_settlements": Reason("R10", _("Few loans settled ahead of time")),
    "drawdowns_90d": Reason("R11", _("Frequent drawdowns in the last 90 days")),
    "small_drawdown_share_90d": Reason("R12", _("Many small drawdowns in a short time")),
    "drawdown_to_limit_180d": Reason("R13", _("Drawdowns close to the whole credit line")),
    "night_drawdowns_180d": Reason("R14", _("Large drawdowns late at night")),
    "lender_transfers_90d": Reason("R15", _("Money moved to other lenders soon after drawing")),
    "identity_mismatch": Reason("R16", _("Your identity details could not be fully verified")),
}
UNKNOWN = Reason("R99", _("Other factors in your credit record"))


def reason_for(feature: str) -> Reason:
    return REASONS.get(feature, UNKNOWN)


def reason_codes(features: list[str]) -> list[str]:
    return [reason_for(f).code for f in features]
