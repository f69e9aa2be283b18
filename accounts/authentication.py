"""The API's token authentication: DRF's, with its lookup precompiled.

Every call of the lending core (each event, each drawdown check) starts with this lookup, and
building its query costs more than running it (core.prepared). The token and its user come
back in one precompiled read and the user is made the way the ORM makes it (Model.from_db).
Anything but an active user's token goes to DRF's own lookup, so its refusals and messages
are DRF's.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from accounts.models import User
from core.prepared import Prepared

USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields)
_TOKEN_USER = Prepared(
    lambda key: Token.objects.filter(key=key).values_list(
        "created", *(f"user__{name}" for name in USER_FIELDS)
    ),
    {"key": "str"},
)


KEY_MAX = Token._meta.get_field("key").max_length


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        if "\x00" in key or len(key) > (KEY_MAX or 40):
            # No stored key looks like this; PostgreSQL would refuse the NUL with an error.
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        rows = _TOKEN_USER.rows(key=key)
        if rows:
            created, *values = rows[0]
            user = User.from_db(DEFAULT_DB_ALIAS, USER_FIELDS, values)
            if user.is_active:
                token = Token(key=key, user=user, created=created)
                token._state.adding = False  # as loaded, not a new row
                return user, token
        return super().authenticate_credentials(key)  # DRF's refusal, message and all
