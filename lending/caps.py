"""The product's caps and rates, each written once, here; services, money math and checks read
them from this module and nowhere else.

Configurable ones come from settings (RISKOPS_*), so a product change is a deployment setting
and not a code change; the database keeps only absolute bounds that no configuration may pass.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

# Absolute bounds held by database constraints too (lending.models): above 0.0986%/day (36% a
# year) a rate is not legally supportable whatever the configuration (RULES §4B.4).
ABSOLUTE_MAX_DAILY_RATE = Decimal("0.000986")
MAX_TERM_MONTHS = 36
# The consumer-use balance cap per borrower of an online small-loan company (RULES §0.4): the
# configured product cap may be lower, never higher.
ABSOLUTE_LIMIT_CAP = Decimal("200000.00")

DEFAULT_APR_CEILING = Decimal("0.24")
DEFAULT_PENALTY_RATE_FACTOR = Decimal("1.5")
DEFAULT_WRITE_OFF_DPD = 180
DEFAULT_BACKDATE_DAYS = 400
DEFAULT_CLOCK_SKEW_SECONDS = 300


def _decimal_setting(name: str, default: Decimal) -> Decimal:
    return Decimal(str(getattr(settings, name, default)))


def apr_ceiling() -> Decimal:
    """The annual all-in cost ceiling, as a fraction (0.24): a drawdown's IRR APR and the
    penalty rate stay at or under it (RULES §4B.4, the 24% working ceiling)."""
    return _decimal_setting("RISKOPS_APR_CEILING", DEFAULT_APR_CEILING)


def penalty_rate_factor() -> Decimal:
    """Overdue principal accrues at this multiple of the contract daily rate (1.5: the contract
    rate plus 50%, the product's published terms), capped by apr_ceiling()."""
    return _decimal_setting("RISKOPS_PENALTY_RATE_FACTOR", DEFAULT_PENALTY_RATE_FACTOR)


def product_limit_cap() -> Decimal:
    """No borrower's limit may exceed this: the consumer-use balance cap per borrower of an
    online small-loan company (¥200,000, RULES §0.4). A hard block, never overridden."""
    return min(
        _decimal_setting("RISKOPS_PRODUCT_LIMIT_CAP", ABSOLUTE_LIMIT_CAP), ABSOLUTE_LIMIT_CAP
    )


def write_off_dpd() -> int:
    """The day close writes a loan off, and closes its line, past this many days past due."""
    return int(getattr(settings, "RISKOPS_WRITE_OFF_DPD", DEFAULT_WRITE_OFF_DPD))


def backdate_days() -> int:
    """How far back an event from the lending core may be dated (a configurable back-dating
    limit); older is refused as implausible."""
    return int(getattr(settings, "RISKOPS_EVENT_BACKDATE_DAYS", DEFAULT_BACKDATE_DAYS))


def clock_skew_seconds() -> int:
    """How far in the future an event may be dated (the two clocks' skew)."""
    return int(getattr(settings, "RISKOPS_EVENT_CLOCK_SKEW_SECONDS", DEFAULT_CLOCK_SKEW_SECONDS))
