from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo book and its history for every app. It stands above all other apps (it may
    import any of them) and no app imports it."""

    name = "demo"
    verbose_name = "Demo data"
