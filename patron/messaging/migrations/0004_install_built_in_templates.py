"""Merchants created before the built-in message templates existed get them too.

Only what a merchant lacks (by key, channel and language) is added; nothing is changed.
Going back removes nothing: by then the merchant may have reworded them.
"""

from django.db import migrations
from django.utils import timezone


def install(apps, schema_editor):
    from patron.messaging.defaults import BUILT_IN

    merchant_model = apps.get_model("tenants", "Merchant")
    template_model = apps.get_model("messaging", "MessageTemplate")
    now = timezone.now()
    for merchant_id in merchant_model.objects.values_list("pk", flat=True):
        have = set(
            template_model.objects.filter(merchant_id=merchant_id).values_list(
                "key", "channel", "language"
            )
        )
        template_model.objects.bulk_create(
            [
                template_model(
                    merchant_id=merchant_id,
                    key=t.key,
                    channel=t.channel,
                    language=t.language,
                    name=t.name,
                    subject=t.subject,
                    body=t.body,
                    marketing=t.marketing,
                    updated_at=now,
                )
                for t in BUILT_IN
                if (t.key, t.channel, t.language) not in have
            ]
        )


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_seal_existing_provider_config"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
