from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("messaging", "0005_seal_webhook_secret")]

    operations = [
        migrations.AlterField(
            model_name="channelsettings",
            name="webhook_secret_digest",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
    ]
