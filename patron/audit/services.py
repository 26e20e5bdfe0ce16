"""Writing the audit trail. Every service that changes data calls `audit_record`.

How to call it from your app's service, inside its transaction (so the entry commits
or rolls back with the change):

    before = snapshot(member)                       # before you change it (None if new)
    ... change and save member ...
    audit_record(merchant=merchant, actor=actor, action="loyalty.member_exclude",
                 obj=member, before=before, after=snapshot(member))

`action` is "<app>.<service function>"; `snapshot` turns a model instance into JSON
(pass `fields=` to keep only some, `exclude=` to leave out secrets such as hashes).
"""

import json
from collections.abc import Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.forms.models import model_to_dict

from patron.audit.models import AuditEntry
from patron.lib.actors import Actor
from patron.lib.bulk import bulk_insert
from patron.tenants.models import Merchant

# Never copied into the trail, whatever the model.
SECRET_FIELDS = {"password", "key_hash", "secret", "token", "code_hash"}


def snapshot(
    instance: models.Model | None,
    *,
    fields: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
) -> dict[str, Any] | None:
    """The instance's concrete fields as JSON-safe values (dates as ISO text)."""
    if instance is None:
        return None
    attnames = {f.name: f.attname for f in instance._meta.concrete_fields}
    data = model_to_dict(instance, fields=list(fields) if fields else list(attnames))
    for name, attname in attnames.items():  # model_to_dict skips non-editable fields
        if (fields is None or name in fields) and name not in data:
            data[name] = getattr(instance, attname)
    for name in set(exclude) | SECRET_FIELDS:
        data.pop(name, None)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder, default=str))


def audit_entry(
    *,
    merchant: Merchant,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    object_label: str = "",
) -> AuditEntry:
    """An unsaved entry, for `audit_record` and for bulk writers (`audit_record_many`)."""
    entry = AuditEntry(
        merchant=merchant,
        action=action[:100],
        object_type=object_type or (obj._meta.label if obj is not None else ""),
        object_id=object_id or (str(obj.pk) if obj is not None else ""),
        object_label=(object_label or (str(obj) if obj is not None else ""))[:200],
        before=before,
        after=after,
    )
    entry.set_actor(actor)
    return entry


@transaction.atomic
def audit_record(
    *,
    merchant: Merchant,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
    object_label: str = "",
) -> AuditEntry:
    entry = audit_entry(
        merchant=merchant,
        actor=actor,
        action=action,
        obj=obj,
        before=before,
        after=after,
        object_type=object_type,
        object_id=object_id,
        object_label=object_label,
    )
    entry.save()
    return entry


def audit_record_many(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Save entries made by `audit_entry` in one insert (a bulk write's trail)."""
    return bulk_insert(entries)
