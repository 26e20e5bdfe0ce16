"""Provider credentials sealed at rest: the config columns become sealed text.

Existing rows are sealed by the next migration (a separate one, so that on PostgreSQL
the row updates and the column changes never share a transaction).
"""

from django.db import migrations

import patron.lib.sealed


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channelsettings",
            name="email_config",
            field=patron.lib.sealed.SealedJSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="channelsettings",
            name="sms_config",
            field=patron.lib.sealed.SealedJSONField(blank=True, default=dict),
        ),
    ]
