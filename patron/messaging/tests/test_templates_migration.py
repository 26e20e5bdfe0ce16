"""Merchants from before the built-in templates get them on migrate, edits kept."""

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_scopes import scopes_disabled

from patron.factories import MerchantFactory
from patron.messaging.models import MessageTemplate
from patron.messaging.tests.factories import MessageTemplateFactory


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate(target or executor.loader.graph.leaf_nodes())


def test_existing_merchants_get_the_missing_built_in_templates(transactional_db):
    merchant = MerchantFactory()
    MessageTemplateFactory(merchant=merchant, key="welcome", body="Our own welcome")
    try:
        migrate([("messaging", "0003_seal_existing_provider_config")])
        migrate([("messaging", "0004_install_built_in_templates")])
    finally:
        migrate(None)
    with scopes_disabled():
        templates = MessageTemplate.objects.filter(merchant=merchant)
        assert templates.count() == 16
        assert templates.get(key="welcome", channel="sms", language="en").body == (
            "Our own welcome"
        )
        assert templates.filter(key="points_expiring", language="vi").count() == 2
