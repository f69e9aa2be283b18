from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self) -> None:
        # Alerts raised become cases (monitoring.receivers).
        from monitoring import receivers  # noqa: F401

        # The ring rule registers its full thresholds over the registry's placeholder: import
        # it here so every process (and the migration that seeds the defaults) sees the same.
        from monitoring.services import graph  # noqa: F401
