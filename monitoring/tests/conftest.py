"""The clock of every monitoring test: a fixed moment at which the factories' events are
plausible.

The event API refuses events dated in the future or older than the back-dating limit
(monitoring.validation.events_check_dates), and the factories' dates are fixed (January to
March 2026). Without a frozen clock these tests would start failing once those dates fell
behind the limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

# Two weeks after the default repayment (1 March 2026), in Shanghai.
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def frozen_now() -> Iterator[datetime]:
    """Stop the clock at NOW for the test (tick=False: time does not move at all)."""
    with time_machine.travel(NOW, tick=False):
        yield NOW
