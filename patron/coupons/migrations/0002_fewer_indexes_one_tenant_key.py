"""Fewer indexes and key checks on coupons, which a bulk issue writes a million at a time.

- The single-column indexes on the merchant and the contact go: coupon_code_unique
  starts with the merchant, and coupon_by_contact now starts with the contact (a contact
  belongs to one merchant). The expiry index holds only available coupons that expire,
  and the "regenerated once" rule indexes only coupons that were regenerated.
- On PostgreSQL the merchant's and the contact's foreign keys become one,
  (merchant_id, contact_id) -> contacts_contact (merchant_id, id): one check per row
  instead of two, and the database itself now refuses a coupon whose contact belongs to
  another merchant. The merchant's existence follows from the contact's own key.
  SQLite keeps Django's two keys. A later migration that alters either field on
  PostgreSQL must drop coupon_contact_in_merchant first and add it back after.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLE = "coupons_coupon"
TENANT_KEY = "coupon_contact_in_merchant"


def _single_keys(schema_editor):  # type: ignore[no-untyped-def]
    """Names of the one-column foreign keys on merchant_id and contact_id."""
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [
        name
        for name, info in constraints.items()
        if info["foreign_key"] and info["columns"] in (["merchant_id"], ["contact_id"])
    ]


def one_tenant_key(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in _single_keys(schema_editor):
        schema_editor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {name}")
    schema_editor.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {TENANT_KEY} "
        "FOREIGN KEY (merchant_id, contact_id) "
        "REFERENCES contacts_contact (merchant_id, id) DEFERRABLE INITIALLY DEFERRED"
    )


def two_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {TENANT_KEY}")
    for column, target in (("merchant_id", "tenants_merchant"), ("contact_id", "contacts_contact")):
        schema_editor.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {TABLE}_{column}_fk FOREIGN KEY ({column}) "
            f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('contacts', '0003_contact_in_merchant'),
        ('coupons', '0001_initial'),
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='coupon',
            name='coupon_by_contact',
        ),
        migrations.RemoveIndex(
            model_name='coupon',
            name='coupon_expiry',
        ),
        migrations.AlterField(
            model_name='coupon',
            name='contact',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='coupons', to='contacts.contact'),
        ),
        migrations.AlterField(
            model_name='coupon',
            name='merchant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.merchant'),
        ),
        migrations.AlterField(
            model_name='coupon',
            name='regenerated_from',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='regenerated_as', to='coupons.coupon'),
        ),
        migrations.AddIndex(
            model_name='coupon',
            index=models.Index(fields=['contact', 'status'], name='coupon_by_contact'),
        ),
        migrations.AddIndex(
            model_name='coupon',
            index=models.Index(condition=models.Q(('expires_at__isnull', False), ('status', 'available')), fields=['merchant', 'expires_at'], name='coupon_expiry'),
        ),
        migrations.AddConstraint(
            model_name='coupon',
            constraint=models.UniqueConstraint(condition=models.Q(('regenerated_from__isnull', False)), fields=('regenerated_from',), name='coupon_regenerated_once'),
        ),
        migrations.RunPython(one_tenant_key, two_keys, elidable=False),
    ]
