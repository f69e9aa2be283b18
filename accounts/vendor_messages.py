"""Messages of Django and django-axes that their own Simplified Chinese catalogues lack.

Nothing imports this module: it lists the English msgids so that `make messages` keeps them
in our catalogue (locale/zh_Hans), where they are translated. Django merges our catalogue over
the installed apps' ones, so these strings then show in Chinese wherever Django or axes use
them (a weak password, a lockout, the admin). riskops/tests/test_i18n.py fails when Django's
auth, admin or core, or django-axes, use a msgid no catalogue translates: add it here.

- Django 5.2 renamed the placeholder of the too-short password error (%(min_length)d to %d);
  its zh_Hans catalogue still carries the old msgid, so the error showed in English.
- django-axes ships no zh_Hans catalogue at all: its lockout messages and its admin pages.
- A few Django admin strings its zh_Hans catalogue has not caught up with.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop, ngettext_lazy

DJANGO_PASSWORD_TOO_SHORT = ngettext_lazy(
    "This password is too short. It must contain at least %d character.",
    "This password is too short. It must contain at least %d characters.",
    "min_length",
)

DJANGO = (
    gettext_noop("%(model)s instance with %(field)s %(value)r is not a valid choice."),
    # django.contrib.admin
    gettext_noop("Add link"),
    gettext_noop("After you’ve created a user, you’ll be able to edit more user options."),
    gettext_noop("Change or view list link"),
    gettext_noop("Error:"),
    gettext_noop("Forgotten your login credentials?"),
    gettext_noop("In case you’ve forgotten, you are:"),
    gettext_noop("Model name"),
)

AXES = (
    # axes.conf: the lockout message (AXES_COOLOFF_MESSAGE, AXES_PERMALOCK_MESSAGE)
    gettext_noop("Account locked: too many login attempts. Please try again later."),
    gettext_noop(
        "Account locked: too many login attempts. Contact an admin to unlock your account."
    ),
    # axes.admin and axes.models: the access logs in the admin
    gettext_noop("Locked Out"),
    gettext_noop("Form Data"),
    gettext_noop("Meta Data"),
    gettext_noop("Clean up expired attempts"),
    gettext_noop("Cleaned up {count} expired access attempts."),
    gettext_noop("Not set"),
    gettext_noop("Attempt Remaining"),
    gettext_noop("User Agent"),
    gettext_noop("IP Address"),
    gettext_noop("HTTP Accept"),
    gettext_noop("Path"),
    gettext_noop("Attempt Time"),
    gettext_noop("Access lock out"),
    gettext_noop("access failure"),
    gettext_noop("access failures"),
    gettext_noop("GET Data"),
    gettext_noop("POST Data"),
    gettext_noop("Failed Logins"),
    gettext_noop("access attempt"),
    gettext_noop("access attempts"),
    gettext_noop("Access Attempt"),
    gettext_noop("Expires At"),
    gettext_noop("The time when access attempt expires and is no longer valid."),
    gettext_noop("access attempt expiration"),
    gettext_noop("access attempt expirations"),
    gettext_noop("Logout Time"),
    gettext_noop("Session key hash (sha256)"),
    gettext_noop("access log"),
    gettext_noop("access logs"),
)
