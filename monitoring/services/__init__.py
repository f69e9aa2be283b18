"""Monitoring's services, one module per room: events (ingest from the lending core), and the
rules, alerts, cases and drawdown checks built on them. Import the public names from here."""

from monitoring.services.events import (
    EVENT_POSTER_ROLES,
    event_ingest,
    event_storage_form,
)

__all__ = ["EVENT_POSTER_ROLES", "event_ingest", "event_storage_form"]
