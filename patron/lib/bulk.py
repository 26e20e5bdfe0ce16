"""Inserting many new rows of one model at once, for bulk writers such as the CSV import.

Django's `bulk_create` builds one INSERT with every value as a parameter: per value it
runs the field's save preparation, then the driver quotes it into the statement's text.
For a batch of hundreds of rows that Python costs far more than the database spends
writing them. On PostgreSQL `bulk_insert` sends the rows with COPY instead, taking each
value as the instance holds it, and draws the new keys from the table's sequence first,
so every instance ends up with its primary key as after `bulk_create`. Elsewhere (SQLite)
it is `bulk_create`.
"""

from collections.abc import Callable
from typing import Any

from django.db import connection, models

from patron.lib.sql import inserts_plainly

# model -> (the COPY statement, the sequence's name, a reader of each column's value)
_Plan = tuple[str, str, list[Callable[[models.Model], Any]]]
_plans: dict[type[models.Model], _Plan | None] = {}


def bulk_insert[M: models.Model](objs: list[M]) -> list[M]:
    """Insert new, unsaved instances of one model and give each its primary key."""
    if not objs:
        return objs
    model = type(objs[0])
    plan = _plan(model) if connection.vendor == "postgresql" else None
    if plan is None:
        model._base_manager.bulk_create(objs)
        return objs
    copy_sql, sequence, readers = plan
    for obj in objs:
        # Instances made before a related instance was saved take its key now, as
        # bulk_create does.
        obj._prepare_related_fields_for_save(operation_name="bulk_insert")  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(%s) FROM generate_series(1, %s) ORDER BY 1", [sequence, len(objs)]
        )
        keys = [key for (key,) in cursor.fetchall()]
        for obj, key in zip(objs, keys, strict=True):
            obj.pk = key
        # The driver's own errors (a unique violation) become Django's, as in execute.
        with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for obj in objs:
                copy.write_row([read(obj) for read in readers])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def _plan(model: type[models.Model]) -> _Plan | None:
    if model not in _plans:
        _plans[model] = _make_plan(model)
    return _plans[model]


def _make_plan(model: type[models.Model]) -> _Plan | None:
    if not inserts_plainly(model):
        return None
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.generated]
    pk = opts.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [opts.db_table, pk.column])
        (sequence,) = cursor.fetchone() or (None,)
    if sequence is None:
        return None
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column or f.name) for f in fields)
    copy_sql = f"COPY {quote(opts.db_table)} ({columns}) FROM STDIN"
    return copy_sql, sequence, [_reader(f) for f in fields]


# Fields whose stored value is the attribute as it is: the driver writes these types.
_PLAIN = (
    models.AutoField,
    models.BigAutoField,
    models.BigIntegerField,
    models.BooleanField,
    models.CharField,
    models.DateField,  # and DateTimeField, unless it sets itself (below)
    models.ForeignKey,
    models.IntegerField,
    models.PositiveIntegerField,
    models.SmallIntegerField,
    models.TextField,
    models.UUIDField,
)


def _reader(field: models.Field) -> Callable[[models.Model], Any]:
    attname = field.attname
    sets_itself = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    if type(field) in _PLAIN or (isinstance(field, models.DateTimeField) and not sets_itself):
        return lambda obj: getattr(obj, attname)

    # JSON, phone numbers and fields that set themselves: what bulk_create would send.
    def prepared(obj: models.Model) -> Any:
        return field.get_db_prep_save(field.pre_save(obj, True), connection)

    return prepared
