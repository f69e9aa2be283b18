"""The API's token authentication (accounts.authentication): the precompiled lookup gives the
same user DRF's would, in one query, and every refusal is DRF's own."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import TokenAuthentication
from accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    user = User.objects.create_user(username="core", password="x" * 16, role="service")
    return user, Token.objects.create(user=user)


def test_a_valid_token_gives_its_user_as_the_orm_loads_it_in_one_query(service):
    user, token = service
    authenticate = TokenAuthentication().authenticate_credentials
    authenticate(token.key)  # compiled once per process
    with CaptureQueriesContext(connection) as queries:
        found, auth = authenticate(token.key)
    assert len(queries.captured_queries) == 1
    loaded = User.objects.get(pk=user.pk)
    fields = [f.attname for f in User._meta.concrete_fields]
    assert [getattr(found, f) for f in fields] == [getattr(loaded, f) for f in fields]
    assert found.role == "service" and found.is_authenticated
    assert (auth.key, auth.user_id, auth.created) == (token.key, user.pk, token.created)
    assert not found._state.adding and not auth._state.adding


def test_an_unknown_token_and_an_inactive_user_are_refused_with_drf_s_messages(service):
    user, token = service
    authenticate = TokenAuthentication().authenticate_credentials
    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        authenticate("0" * 40)
    user.is_active = False
    user.save(update_fields=["is_active"])
    with pytest.raises(AuthenticationFailed, match="inactive"):
        authenticate(token.key)


def test_a_deleted_token_is_refused_at_once(service):
    user, token = service
    authenticate = TokenAuthentication().authenticate_credentials
    key = token.key
    assert authenticate(key)[0].pk == user.pk
    token.delete()  # (DRF then sets token.key to None)
    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        authenticate(key)


@pytest.mark.parametrize("key", ["abc\x00def", "a" * 41, "\x00"])
def test_a_key_no_token_can_have_is_refused_without_asking_the_database(key):
    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(AuthenticationFailed, match="Invalid token"),
    ):
        TokenAuthentication().authenticate_credentials(key)
    assert queries.captured_queries == []
