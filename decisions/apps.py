from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DecisionsConfig(AppConfig):
    name = "decisions"
    verbose_name = _("Decisions")

    def ready(self) -> None:
        # The book publishes; decisions listens (the book never calls decisions).
        from decisions import receivers
        from lending.signals import borrower_activity, line_transitions_recorded

        borrower_activity.connect(receivers.on_borrower_activity, dispatch_uid="decisions")
        line_transitions_recorded.connect(receivers.on_transitions, dispatch_uid="decisions")
