"""Fixed SQL for the few reads that run on nearly every write.

The ORM spends about a millisecond of Python building a query, which for a one-row
existence check is ten times what the database spends answering it. The checks here run
once or more per domain event, so they are written out once as SQL. Only names taken
from the models are formatted into the text; every value is a parameter.
"""

import enum
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models


def any_row(model: type[models.Model], where: dict[str, Any | Sequence[Any]]) -> bool:
    """Whether a row of `model` has every named field equal to its value (or, for a list
    or tuple, to one of its values).

    The SQL bypasses the merchant scope, so for a model that belongs to a merchant the
    merchant must be among the conditions: forgetting it fails loudly, as a scoped query
    would.
    """
    if _has_merchant(model) and "merchant" not in where:
        raise ValueError(f"any_row({model.__name__}) needs the merchant among its conditions")
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in where.items():
        field = model._meta.get_field(column)
        assert isinstance(field, models.Field) and field.column
        name = connection.ops.quote_name(field.column)
        values = list(value) if isinstance(value, list | tuple) else [value]
        if not values:
            return False
        clauses.append(f"{name} IN ({', '.join(['%s'] * len(values))})")
        # A model instance stands for its key; a choice for its stored value (the driver
        # would otherwise send an enum member's name).
        params.extend(_plain(v) for v in values)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"SELECT 1 FROM {table} WHERE {' AND '.join(clauses)} LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def _has_merchant(model: type[models.Model]) -> bool:
    try:
        model._meta.get_field("merchant")
    except FieldDoesNotExist:
        return False
    return True


def _plain(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, enum.Enum):
        return value.value
    return value
