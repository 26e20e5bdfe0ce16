import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.conftest import ApiClient
from patron.lib.actors import Actor
from patron.tenants import selectors as tenant_selectors
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


def test_a_key_revoked_after_use_is_refused_at_once_in_the_revoking_process(trio):
    with scope(merchant=trio.merchant):
        new = api_key_create(merchant=trio.merchant, actor=Actor.system())
    client = ApiClient(new.raw)
    assert client.get("/contacts").status_code == 200  # now remembered by this process
    with scope(merchant=trio.merchant):
        api_key_revoke(merchant=trio.merchant, key_id=new.key.pk, actor=Actor.system())
    assert client.get("/contacts").status_code == 401


def test_a_key_revoked_by_another_process_stops_working_within_the_cache_window(
    trio, settings, monkeypatch
):
    settings.API_KEY_CACHE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(tenant_selectors.time, "monotonic", lambda: clock[0])
    with scope(merchant=trio.merchant):
        new = api_key_create(merchant=trio.merchant, actor=Actor.system())
    client = ApiClient(new.raw)
    assert client.get("/contacts").status_code == 200
    # Another process revokes it: this one's copy is not told.
    with scopes_disabled():
        ApiKey.objects.filter(pk=new.key.pk).update(revoked_at=timezone.now())
    clock[0] += 4.9
    assert client.get("/contacts").status_code == 200
    clock[0] += 0.2
    assert client.get("/contacts").status_code == 401


def test_requests_get_their_own_copy_of_a_remembered_key_and_merchant(trio):
    with scope(merchant=trio.merchant):
        new = api_key_create(merchant=trio.merchant, actor=Actor.system())
    first = tenant_selectors.api_key_for_token(new.raw)
    assert first is not None
    first.merchant.name = "changed by one request"
    second = tenant_selectors.api_key_for_token(new.raw)
    assert second is not None and second is not first
    assert second.merchant.name == trio.merchant.name


def test_an_outsider_cannot_revoke_another_merchants_key(trio):
    from patron.lib.errors import NotFound

    with scope(merchant=trio.merchant):
        new = api_key_create(merchant=trio.merchant, actor=Actor.system())
    with scope(merchant=trio.other_merchant), pytest.raises(NotFound):
        api_key_revoke(merchant=trio.other_merchant, key_id=new.key.pk, actor=Actor.system())
