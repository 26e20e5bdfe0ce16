"""Seal the inbound-webhook secret and look merchants up by its digest instead.

The digest becomes unique in 0006: on PostgreSQL a table cannot be altered in the
transaction that just updated its rows.

The digest column is filled from the secrets already stored; going back opens the
secrets again and drops the digest.
"""

import hashlib

from django.db import migrations, models

import patron.lib.sealed
import patron.messaging.models


def _digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def seal_and_digest(apps, schema_editor):
    ChannelSettings = apps.get_model("messaging", "ChannelSettings")
    for row in ChannelSettings._base_manager.all():
        # The field opens old plain values as they are and seals on write.
        ChannelSettings._base_manager.filter(pk=row.pk).update(
            webhook_secret=row.webhook_secret,
            webhook_secret_digest=_digest(row.webhook_secret),
        )


def open_again(apps, schema_editor):
    ChannelSettings = apps.get_model("messaging", "ChannelSettings")
    table = ChannelSettings._meta.db_table
    quote = schema_editor.quote_name
    rows = [(row.pk, row.webhook_secret) for row in ChannelSettings._base_manager.all()]
    with schema_editor.connection.cursor() as cursor:
        for pk, secret in rows:
            cursor.execute(
                f"UPDATE {quote(table)} SET {quote('webhook_secret')} = %s WHERE id = %s",
                [secret, pk],
            )


class Migration(migrations.Migration):
    dependencies = [("messaging", "0004_install_built_in_templates")]

    operations = [
        migrations.AlterField(
            model_name="channelsettings",
            name="webhook_secret",
            field=patron.lib.sealed.SealedTextField(
                default=patron.messaging.models.new_webhook_secret
            ),
        ),
        migrations.AddField(
            model_name="channelsettings",
            name="webhook_secret_digest",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(seal_and_digest, open_again),
    ]
