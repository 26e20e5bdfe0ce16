import pytest
from django_scopes import scope, scopes_disabled

from patron.conftest import ApiClient
from patron.lib.actors import Actor
from patron.tenants.models import ApiKey
from patron.tenants.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_a_new_key_is_stored_hashed_and_works_once_shown(trio):
    with scope(merchant=trio.merchant):
        new = api_key_create(merchant=trio.merchant, name="POS", actor=trio.actor)
    with scopes_disabled():
        stored = ApiKey.objects.get(pk=new.key.pk)
    assert new.raw not in (stored.key_hash, stored.prefix)
    assert stored.last_used_at is None
    assert ApiClient(new.raw).get("/contacts").status_code == 200
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_a_revoked_key_gets_401(trio):
    with scope(merchant=trio.merchant):
        new = api_key_create(merchant=trio.merchant, actor=Actor.system())
        api_key_revoke(merchant=trio.merchant, key_id=new.key.pk, actor=Actor.system())
    assert ApiClient(new.raw).get("/contacts").status_code == 401


def test_an_outsider_cannot_revoke_another_merchants_key(trio):
    from patron.lib.errors import NotFound

    with scope(merchant=trio.merchant):
        new = api_key_create(merchant=trio.merchant, actor=Actor.system())
    with scope(merchant=trio.other_merchant), pytest.raises(NotFound):
        api_key_revoke(merchant=trio.other_merchant, key_id=new.key.pk, actor=Actor.system())
