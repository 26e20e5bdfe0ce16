"""Seal the provider credentials stored before sealing existed.

Going back opens them again, so that the columns can return to plain JSON.
"""

import json

from django.db import migrations

import patron.lib.sealed

COLUMNS = ("sms_config", "email_config")


def _rewrite(apps, schema_editor, change):
    table = apps.get_model("messaging", "ChannelSettings")._meta.db_table
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        for column in COLUMNS:
            cursor.execute(f"SELECT id, {quote(column)} FROM {quote(table)}")
            for pk, raw in cursor.fetchall():
                value = change(raw)
                if value != raw:
                    cursor.execute(
                        f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE id = %s",
                        [value, pk],
                    )


def _as_text(raw):
    # PostgreSQL may hand back the JSON already decoded; SQLite gives text.
    if raw is None:
        return json.dumps({})
    return raw if isinstance(raw, str) else json.dumps(raw)


def seal_rows(apps, schema_editor):
    def change(raw):
        text = _as_text(raw)
        if patron.lib.sealed.is_sealed(text):
            return text
        return patron.lib.sealed.seal(json.dumps(json.loads(text or "{}"), sort_keys=True))

    _rewrite(apps, schema_editor, change)


def open_rows(apps, schema_editor):
    def change(raw):
        return patron.lib.sealed.unseal(_as_text(raw)) or json.dumps({})

    _rewrite(apps, schema_editor, change)


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0002_sealed_provider_config"),
    ]

    operations = [
        migrations.RunPython(seal_rows, open_rows),
    ]
