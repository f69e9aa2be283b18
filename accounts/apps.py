from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
        from django.db.backends.signals import connection_created

        from accounts import receivers
        from accounts.append_only import register_sqlite_function

        # The SQLite append-only triggers (migration 0002) call a function defined here.
        connection_created.connect(register_sqlite_function, dispatch_uid="riskops_append_only")
        # Sign-ins, sign-outs and refused sign-ins go to the audit log (accounts.receivers).
        user_logged_in.connect(receivers.on_logged_in, dispatch_uid="riskops_audit_login")
        user_logged_out.connect(receivers.on_logged_out, dispatch_uid="riskops_audit_logout")
        user_login_failed.connect(receivers.on_login_failed, dispatch_uid="riskops_audit_failed")
