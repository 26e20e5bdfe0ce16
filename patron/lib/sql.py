"""Fixed SQL for the few statements that run on nearly every write.

The ORM spends about a millisecond of Python building a query, which for a one-row
lookup is five to ten times what the database spends answering it. The statements here
run once or more per domain event or per point given (the member's lock, the program,
the ledger row and its lot, the event itself), so their SQL is built once per shape and
reused: a point given through the API took 35 ms of one loaded process with the ORM
and 21 ms with these. Only names taken from the models are formatted into the text;
every value is a parameter. Many rows at once go through `patron.lib.bulk` instead.
"""

import contextlib
import enum
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, models


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
        if column in unique_when_not_empty(model):
            clauses.append(not_empty(name))
        # A model instance stands for its key; a choice for its stored value (the driver
        # would otherwise send an enum member's name).
        params.extend(_plain(v) for v in values)
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"SELECT 1 FROM {table} WHERE {' AND '.join(clauses)} LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


def row_id(value: Any) -> int | None:
    """A primary key read from a request (a path or a body), or None when it cannot be
    one: fixed SQL sends the number as it is, and a database refuses a number beyond its
    64-bit keys with an error where the ORM would have found nothing."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


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


# --- rows as model instances ------------------------------------------------------------

_OPERATORS = {"exact": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def rows[M: models.Model](
    model: type[M],
    where: dict[str, Any],
    *,
    any_of: Sequence[dict[str, Any]] = (),
    order_by: Sequence[str] = (),
    related: Sequence[str] = (),
    lock: bool = False,
    limit: int | None = None,
) -> list[M]:
    """The rows of `model` matching `where`, as `.filter(**where)` would return them.

    A key of `where` is a field name (equal to the value, or to one of a list's values),
    or a field name with `__lt`, `__lte`, `__gt`, `__gte` or `__isnull`. `any_of` adds
    alternatives, each a dict of the same kind: a row must match one of them as well
    (`.filter(Q(**a) | Q(**b), **where)`). `order_by` names fields, `-` first for
    descending (the primary key when empty). `related` names foreign keys loaded in the
    same statement, as `select_related` does. `lock` takes row locks on the rows of
    `model` alone (`select_for_update(of=("self",))`) where the database has row locks.
    As with `any_row`, the merchant must be among the conditions of a merchant's table.
    """
    if _has_merchant(model) and "merchant" not in where:
        raise ValueError(f"rows({model.__name__}) needs the merchant among its conditions")
    params: list[Any] = []
    shapes = []
    for conditions in (where, *any_of):
        shape = _shape(conditions, params)
        if shape is None:  # an empty list matches nothing
            if conditions is where:
                return []
            continue
        shapes.append(shape)
    if any_of and len(shapes) == 1:
        return []  # no alternative can match
    query = _select(
        model,
        shape=shapes[0],
        alternatives=tuple(shapes[1:]),
        order_by=tuple(order_by),
        related=tuple(related),
        lock=lock and connection.features.has_select_for_update,
        limit=limit,
    )
    with connection.cursor() as cursor:
        cursor.execute(query.sql, params)
        found = cursor.fetchall()
    return [query.build(row) for row in found]


def first_row[M: models.Model](
    model: type[M],
    where: dict[str, Any],
    *,
    order_by: Sequence[str] = (),
    related: Sequence[str] = (),
    lock: bool = False,
) -> M | None:
    """The first row of `model` matching `where`, as `.filter(**where).first()` would
    return it, or None (see `rows`)."""
    found = rows(model, where, order_by=order_by, related=related, lock=lock, limit=1)
    return found[0] if found else None


def _shape(conditions: dict[str, Any], params: list[Any]) -> tuple[tuple[str, Any], ...] | None:
    """The conditions' shape (what the SQL text depends on); their values go to `params`."""
    shape: list[tuple[str, Any]] = []
    values: list[Any] = []
    for key, value in conditions.items():
        if key.endswith("__isnull"):
            shape.append((key, bool(value)))
        elif isinstance(value, list | tuple):
            if not value:
                return None
            shape.append((key, len(value)))
            values.extend(_plain(v) for v in value)
        else:
            shape.append((key, None))
            values.append(_plain(value))
    params.extend(values)
    return tuple(shape)


@dataclass(frozen=True)
class _Columns:
    """The columns of one model in a select list, and how to make an instance of them."""

    model: type[models.Model]
    start: int
    attnames: tuple[str, ...]
    # (position in the model's columns, the field's column expression, its converters)
    converters: tuple[tuple[int, Any, tuple[Any, ...]], ...]

    def build(self, row: Sequence[Any]) -> models.Model | None:
        values = list(row[self.start : self.start + len(self.attnames)])
        if values[0] is None:  # the primary key: no row on the far side of a join
            return None
        for index, column, converters in self.converters:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        return self.model.from_db(connection.alias, list(self.attnames), values)


@dataclass(frozen=True)
class _Select:
    sql: str
    main: _Columns
    related: tuple[tuple[str, _Columns], ...]

    def build(self, row: Sequence[Any]) -> Any:
        instance = self.main.build(row)
        assert instance is not None
        for name, columns in self.related:
            setattr(instance, name, columns.build(row))
        return instance


def _columns(model: type[models.Model], alias: str, start: int) -> tuple[list[str], _Columns]:
    quote = connection.ops.quote_name
    # The primary key first: `_Columns.build` reads a missing joined row from it.
    fields = [model._meta.pk, *(f for f in model._meta.concrete_fields if not f.primary_key)]
    names = [f"{alias}.{quote(str(f.column))}" for f in fields]
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(alias)
        found = tuple(connection.ops.get_db_converters(column)) + tuple(
            column.get_db_converters(connection)
        )
        if found:
            converters.append((index, column, found))
    return names, _Columns(model, start, tuple(str(f.attname) for f in fields), tuple(converters))


# One per shape of query: a process has a few dozen. The converters kept with it are the
# backend's and the fields', the same for every connection of the process.
@functools.cache
def _select(
    model: type[models.Model],
    *,
    shape: tuple[tuple[str, Any], ...],
    alternatives: tuple[tuple[tuple[str, Any], ...], ...],
    order_by: tuple[str, ...],
    related: tuple[str, ...],
    lock: bool,
    limit: int | None,
) -> _Select:
    quote = connection.ops.quote_name
    names, main = _columns(model, "t", 0)
    joins: list[str] = []
    loaded: list[tuple[str, _Columns]] = []
    for index, name in enumerate(related):
        field = model._meta.get_field(name)
        assert isinstance(field, models.ForeignKey)
        target = field.related_model
        assert isinstance(target, type)
        alias = f"r{index}"
        more, columns = _columns(target, alias, len(names))
        names += more
        loaded.append((name, columns))
        joins.append(
            f"LEFT JOIN {quote(target._meta.db_table)} {alias} "
            f"ON {alias}.{quote(str(target._meta.pk.column))} = t.{quote(str(field.column))}"
        )
    clauses = _clauses(model, shape)
    if alternatives:
        either = (f"({' AND '.join(_clauses(model, one)) or 'TRUE'})" for one in alternatives)
        clauses.append(f"({' OR '.join(either)})")
    order = [
        f"t.{quote(str(_field(model, name.lstrip('-')).column))}"
        + (" DESC" if name.startswith("-") else "")
        for name in order_by or ("pk",)
    ]
    # Names come from the models; the values are parameters.
    table = quote(model._meta.db_table)
    sql = (
        f"SELECT {', '.join(names)} FROM {table} t {' '.join(joins)} "  # noqa: S608
        f"WHERE {' AND '.join(clauses) or 'TRUE'} ORDER BY {', '.join(order)}"
    )
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    if lock:
        sql += " FOR UPDATE OF t"
    return _Select(sql, main, tuple(loaded))


def _clauses(model: type[models.Model], shape: tuple[tuple[str, Any], ...]) -> list[str]:
    quote = connection.ops.quote_name
    clauses = []
    for key, detail in shape:
        name, _, lookup = key.partition("__")
        column = f"t.{quote(str(_field(model, name).column))}"
        if lookup == "isnull":
            clauses.append(f"{column} IS {'' if detail else 'NOT '}NULL")
        elif detail is not None:
            clauses.append(f"{column} IN ({', '.join(['%s'] * detail)})")
        else:
            clauses.append(f"{column} {_OPERATORS[lookup or 'exact']} %s")
        if name in unique_when_not_empty(model) and lookup in ("", "exact"):
            clauses.append(not_empty(column))
    return clauses


def not_empty(column: str) -> str:
    """The condition of an index on the rows where `column` is not empty, written as
    Django writes it in the index (`~Q(column="")`). SQLite uses a partial index only for
    a query that repeats its condition term for term: with `column <> ''` it read every
    row of the merchant instead (PostgreSQL proves either form)."""
    return f"NOT ({column} = '')"


@functools.cache
def unique_when_not_empty(model: type[models.Model]) -> frozenset[str]:
    """The fields of `model` whose unique index holds only the rows where they are not
    empty (`UniqueConstraint(..., condition=~Q(field=""))`: idempotency keys).

    A lookup by such a field repeats that condition (`not_empty`). A plan made for a
    value the planner knows can use the partial index, because a value that is not empty
    implies the index's condition; a prepared statement's plan, made once for any value,
    can only when the query says so itself (otherwise it scans), and SQLite's planner
    never infers it.
    """
    found = set()
    for constraint in model._meta.constraints:
        condition = getattr(constraint, "condition", None)
        if (
            isinstance(constraint, models.UniqueConstraint)
            and isinstance(condition, models.Q)
            and condition.negated
            and len(condition.children) == 1
            and condition.children[0] in {(name, "") for name in constraint.fields}
        ):
            found.add(condition.children[0][0])
    return frozenset(found)


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column
    return field


# --- rows changed by primary key --------------------------------------------------------


def update_rows(model: type[models.Model], rows: Sequence[models.Model], names: list[str]) -> None:
    """UPDATE each row's `names` columns by primary key (and merchant, for a merchant's
    table); a row that matched nothing is an error, as it is for `save(update_fields=...)`.

    Not `bulk_update`, which builds a CASE per column and row, nor `save(update_fields=)`,
    which builds its query anew each time: both cost more Python time than the rows they
    write. On PostgreSQL many rows go in one `UPDATE ... FROM (VALUES ...)` statement (25
    step runs of a workflow chunk: one statement instead of 25 in a pipeline); elsewhere,
    and for one row, one UPDATE per row. The caller holds the rows' locks.
    """
    if not rows:
        return
    fields = [field for field in model._meta.concrete_fields if field.name in names]
    keys = [model._meta.pk]
    if _has_merchant(model):
        keys.append(_field(model, "merchant"))
    params = [
        [getattr(row, str(key.attname)) for key in keys]
        + [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
        for row in rows
    ]
    if len(rows) > 1 and connection.vendor == "postgresql":
        changed = 0
        for start in range(0, len(params), _VALUES_ROWS):
            some = params[start : start + _VALUES_ROWS]
            with connection.cursor() as cursor:
                cursor.execute(_update_from_values(model, keys, fields, len(some)), _flat(some))
                changed += cursor.rowcount
    else:
        with connection.cursor() as cursor:
            cursor.executemany(
                _update_one(model, keys, fields), [p[len(keys) :] + p[: len(keys)] for p in params]
            )
            changed = cursor.rowcount
    if changed != len(rows):
        raise DatabaseError(f"update_rows({model.__name__}) changed {changed} of {len(rows)} rows")


_VALUES_ROWS = 1000


def _flat(params: list[list[Any]]) -> list[Any]:
    return [value for row in params for value in row]


def _update_one(
    model: type[models.Model],
    keys: list[models.Field[Any, Any]],
    fields: list[models.Field[Any, Any]],
) -> str:
    quote = connection.ops.quote_name
    # Names come from the model, never from input; the values are parameters.
    return "UPDATE {} SET {} WHERE {}".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(f"{quote(str(field.column))} = %s" for field in fields),
        " AND ".join(f"{quote(str(key.column))} = %s" for key in keys),
    )


def _update_from_values(
    model: type[models.Model],
    keys: list[models.Field[Any, Any]],
    fields: list[models.Field[Any, Any]],
    count: int,
) -> str:
    quote = connection.ops.quote_name
    columns = [*keys, *fields]
    # Each value is cast to its column's type: VALUES would otherwise guess (a NULL as
    # text, a JSON document as text).
    row = "({})".format(
        ", ".join(f"CAST(%s AS {column.db_type(connection)})" for column in columns)
    )
    names = ", ".join(f"c{index}" for index in range(len(columns)))
    # Names come from the model, never from input; the values are parameters.
    return "UPDATE {} t SET {} FROM (VALUES {}) AS v({}) WHERE {}".format(  # noqa: S608
        quote(model._meta.db_table),
        ", ".join(
            f"{quote(str(field.column))} = v.c{len(keys) + index}"
            for index, field in enumerate(fields)
        ),
        ", ".join([row] * count),
        names,
        " AND ".join(f"t.{quote(str(key.column))} = v.c{index}" for index, key in enumerate(keys)),
    )


# --- one new row ------------------------------------------------------------------------


def insert_row[M: models.Model](obj: M) -> M:
    """Insert a new, unsaved instance and give it its primary key, as `obj.save()` would
    for a new row but with an INSERT built once per model.

    No signals are sent (Patron's flow uses none). A model whose insert the database
    completes (a `db_default`, a generated column), a child of a concrete model or an
    instance that already has a key is saved by Django instead.
    """
    plan = _insert_plan(type(obj))
    if plan is None or obj.pk is not None:
        obj.save(force_insert=True)
        return obj
    sql, fields = plan
    # Instances made before a related instance was saved take its key now, as save does.
    obj._prepare_related_fields_for_save(operation_name="insert_row")  # type: ignore[attr-defined]
    values = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        obj.pk = (
            cursor.fetchone()[0]
            if connection.features.can_return_columns_from_insert
            else cursor.lastrowid
        )
    obj._state.adding = False
    obj._state.db = connection.alias
    return obj


def inserts_plainly(model: type[models.Model]) -> bool:
    """Whether a new row of `model` is its instance's values and a key from the table's
    own sequence: no parent table, an auto key, nothing the database fills in itself
    (a `db_default`, a generated column). Other models keep Django's own insert."""
    opts = model._meta
    return (
        not opts.parents
        and isinstance(opts.pk, models.AutoField | models.BigAutoField | models.SmallAutoField)
        and list(opts.db_returning_fields) == [opts.pk]
        and all(f.db_default is models.NOT_PROVIDED for f in opts.concrete_fields)
    )


@functools.cache
def _insert_plan(model: type[models.Model]) -> tuple[str, list[models.Field[Any, Any]]] | None:
    if not inserts_plainly(model):
        return None
    opts = model._meta
    pk = opts.pk
    fields = [f for f in opts.concrete_fields if not f.generated and not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # Names come from the model; the values are parameters.
    sql = (
        f"INSERT INTO {quote(opts.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {quote(str(pk.column))}"
    return sql, fields


class StatementFailed(RuntimeError):
    """A statement failed inside `savepoints_off` and the error was caught there: the
    transaction can only be rolled back."""


@contextlib.contextmanager
def savepoints_off() -> Iterator[None]:
    """Inside an open transaction, let nested `transaction.atomic` blocks run without
    savepoints, which cost two round trips each (SAVEPOINT, then RELEASE).

    For a writer that would redo its whole transaction anyway when any part of it fails,
    such as a chunk of workflow steps: inside, an error in a nested block cannot be
    rolled back alone, so the block's caller must let every exception end the
    transaction. If an error was caught inside and swallowed, the block raises
    `StatementFailed` as it ends, so that the transaction is not committed (Django would
    silently roll it back instead).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("savepoints_off must run inside a transaction")
    wrapper = connections[DEFAULT_DB_ALIAS]
    if "_savepoint_allowed" in vars(wrapper):
        yield  # an enclosing block has them off
        return
    # The one check every backend makes before a savepoint, its release or its rollback
    # (the `uses_savepoints` feature is not consulted by SQLite's).
    setattr(wrapper, "_savepoint_allowed", lambda: False)  # noqa: B010 (a private method)
    try:
        yield
    finally:
        delattr(wrapper, "_savepoint_allowed")
    if wrapper.needs_rollback:
        raise StatementFailed("a statement failed inside a block without savepoints")
