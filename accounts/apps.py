from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from accounts.append_only import register_sqlite_function

        # The SQLite append-only triggers (migration 0002) call a function defined here.
        connection_created.connect(register_sqlite_function, dispatch_uid="riskops_append_only")
