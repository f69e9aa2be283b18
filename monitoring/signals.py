"""What monitoring publishes to the rest of monitoring and the apps above it.

alerts_raised(alert_ids=[...]) is sent after the transaction that raised the alerts commits;
the case service groups them into cases on it.
"""

from __future__ import annotations

import django.dispatch

alerts_raised = django.dispatch.Signal()
