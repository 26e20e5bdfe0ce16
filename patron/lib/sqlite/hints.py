"""What SQLite's query planner is told about merchant columns, which it cannot measure.

SQLite picks an index by what `ANALYZE` measured, and for an index never analyzed it
guesses that a value of its first column matches 10 rows, whatever the column. Nearly
every index here starts with the merchant, and a SQLite install usually serves one
merchant, so the guess is wrong just where it matters. Given
`merchant_id = ? AND contact_id = ?` SQLite could as well take an index that starts with
the merchant, which on such an install holds every row of the table, as the contact's:
every member read to find one contact's, each lookup slower as the table grows.

So after each `migrate` every index that starts with `merchant_id` and has no statistics
gets a row in `sqlite_stat1` saying a merchant has a tenth of the table's rows: far less
selective than any other column, yet better than reading the whole table for a query
that names the merchant alone. An `ANALYZE` replaces them with measured ones.
"""

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.transaction import atomic

# The table size the statistics describe (about what SQLite assumes for a table it has
# no statistics for), and a merchant's share of it.
TABLE_ROWS = 1_000_000
MERCHANT_ROWS = 100_000


def planner_hints(connection: BaseDatabaseWrapper) -> list[tuple[str, str, str]]:
    """(table, index, statistics) for each index of the database that starts with the
    merchant: one value matches MERCHANT_ROWS rows, each further column fewer, as SQLite
    would guess (10, 9, 8 ...), and a whole key of a unique index one."""
    hints = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"PRAGMA index_list({connection.ops.quote_name(table)})")
            for _seq, index, unique, _origin, _partial in cursor.fetchall():
                cursor.execute(f"PRAGMA index_info({connection.ops.quote_name(index)})")
                columns = [name for _rank, _cid, name in cursor.fetchall()]
                if not columns or columns[0] != "merchant_id":
                    continue
                rows = [TABLE_ROWS, MERCHANT_ROWS] + [
                    max(10 - n, 2) for n in range(len(columns) - 1)
                ]
                if unique:
                    rows[-1] = 1
                hints.append((table, index, " ".join(str(count) for count in rows)))
    return hints


def write_planner_hints(connection: BaseDatabaseWrapper) -> int:
    """Store the hints of the indexes that have no statistics yet; how many were new."""
    if connection.vendor != "sqlite":
        return 0
    hints = planner_hints(connection)
    with atomic(using=connection.alias), connection.cursor() as cursor:
        # Creates sqlite_stat1 if it is missing, and analyzes nothing else.
        cursor.execute("ANALYZE sqlite_schema")
        cursor.execute("SELECT tbl, idx FROM sqlite_stat1")
        known = {(table, index) for table, index in cursor.fetchall()}
        new = [hint for hint in hints if hint[:2] not in known]
        cursor.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (%s, %s, %s)", new)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE sqlite_schema")  # this connection plans with them now
    return len(new)
