"""The store's admin token, its webhook secret and the endpoints' signing secrets are
sealed at rest: the raw columns never hold them, the app reads them as typed."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django_scopes import scope

from patron.integrations.models import ShopifyStore, WebhookEndpoint
from patron.integrations.shopify import services as shopify
from patron.integrations.tests.factories import WebhookEndpointFactory
from patron.lib.sealed import is_sealed

pytestmark = pytest.mark.django_db

TOKEN = "shpat_0123456789abcdef0123456789abcdef"
SECRET = "shopify-webhook-secret-42"
migration = importlib.import_module("patron.integrations.migrations.0006_seal_secrets")


# The raw column, past the field that seals and opens (names are this file's constants).
def _raw(table: str, column: str, pk: int) -> str:
    table, column = connection.ops.quote_name(table), connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _set_raw(table: str, column: str, pk: int, value: str) -> None:
    table, column = connection.ops.quote_name(table), connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


def _connect(trio) -> ShopifyStore:
    with scope(merchant=trio.merchant):
        return shopify.store_connect(
            merchant=trio.merchant,
            actor=trio.actor,
            shop_domain="alpha.myshopify.com",
            access_token=TOKEN,
            webhook_secret=SECRET,
        )


def test_the_store_token_and_webhook_secret_are_not_in_their_columns(trio):
    store = _connect(trio)
    table = ShopifyStore._meta.db_table
    for column, plain in [("access_token", TOKEN), ("webhook_secret", SECRET)]:
        raw = _raw(table, column, store.pk)
        assert is_sealed(raw)
        assert plain not in raw
    with scope(merchant=trio.merchant):
        again = ShopifyStore.objects.get(pk=store.pk)
    assert again.access_token == TOKEN
    assert again.webhook_secret == SECRET


def test_a_webhook_endpoint_secret_is_sealed_at_rest(trio):
    endpoint = WebhookEndpointFactory(merchant=trio.merchant)
    raw = _raw(WebhookEndpoint._meta.db_table, "secret", endpoint.pk)
    assert is_sealed(raw)
    assert endpoint.secret not in raw


def test_the_migration_seals_rows_saved_in_plain_text_and_can_undo_it(trio):
    store = _connect(trio)
    endpoint = WebhookEndpointFactory(merchant=trio.merchant)
    store_table, endpoint_table = ShopifyStore._meta.db_table, WebhookEndpoint._meta.db_table
    # As the rows were before sealing existed.
    _set_raw(store_table, "access_token", store.pk, TOKEN)
    _set_raw(store_table, "webhook_secret", store.pk, SECRET)
    _set_raw(endpoint_table, "secret", endpoint.pk, endpoint.secret)

    migration.seal_existing(apps, None)

    assert TOKEN not in _raw(store_table, "access_token", store.pk)
    assert is_sealed(_raw(store_table, "webhook_secret", store.pk))
    assert is_sealed(_raw(endpoint_table, "secret", endpoint.pk))
    with scope(merchant=trio.merchant):
        assert ShopifyStore.objects.get(pk=store.pk).access_token == TOKEN
    # Running it again changes nothing: a sealed value is not sealed twice.
    before = _raw(store_table, "access_token", store.pk)
    migration.seal_existing(apps, None)
    assert _raw(store_table, "access_token", store.pk) == before

    migration.unseal_existing(apps, None)
    assert _raw(store_table, "access_token", store.pk) == TOKEN
    assert _raw(endpoint_table, "secret", endpoint.pk) == endpoint.secret
