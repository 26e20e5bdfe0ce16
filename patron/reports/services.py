"""Upkeep of the leaderboard's band counts (reports.models.RankBand)."""

from django.db import connection, transaction

from patron.reports.models import RankBand
from patron.tenants.models import Merchant

_BANDS = RankBand._meta.db_table
_MERCHANTS = Merchant._meta.db_table

# The bands to fold: those with more than one row, and those whose rows add up to zero.
_TO_FOLD = f"""
    SELECT merchant_id, band FROM {_BANDS} {{where}}
    GROUP BY merchant_id, band HAVING COUNT(*) > 1 OR SUM(delta) = 0
"""  # noqa: S608

# PostgreSQL: one statement, so the rows summed are exactly the rows deleted, even
# while members' triggers add rows and another worker folds at the same time (a row
# the other one deleted first is skipped, and so missing from both the delete and
# the sum). A merchant that no longer exists loses its rows.
_FOLD_POSTGRESQL = f"""
    WITH folded AS (
        DELETE FROM {_BANDS} r
        WHERE (r.merchant_id, r.band) IN ({_TO_FOLD.format(where="")})
           OR NOT EXISTS (SELECT 1 FROM {_MERCHANTS} m WHERE m.id = r.merchant_id)
        RETURNING r.merchant_id, r.band, r.delta
    )
    INSERT INTO {_BANDS} (merchant_id, band, delta)
    SELECT f.merchant_id, f.band, SUM(f.delta) FROM folded f
    WHERE EXISTS (SELECT 1 FROM {_MERCHANTS} m WHERE m.id = f.merchant_id)
    GROUP BY f.merchant_id, f.band HAVING SUM(f.delta) <> 0
"""  # noqa: S608

# SQLite: two statements over the rows up to the highest id seen; the IMMEDIATE
# transaction keeps every other writer (and so every trigger) out until the end.
_FOLD_SQLITE = (
    f"""
    INSERT INTO {_BANDS} (merchant_id, band, delta)
    SELECT merchant_id, band, SUM(delta) FROM {_BANDS}
    WHERE id <= %s AND merchant_id IN (SELECT id FROM {_MERCHANTS})
    GROUP BY merchant_id, band HAVING COUNT(*) > 1 AND SUM(delta) <> 0
    """,  # noqa: S608
    f"""
    DELETE FROM {_BANDS}
    WHERE id <= %s AND ((merchant_id, band) IN ({_TO_FOLD.format(where="WHERE id <= %s")})
                        OR merchant_id NOT IN (SELECT id FROM {_MERCHANTS}))
    """,  # noqa: S608
)


@transaction.atomic
def rank_bands_compact() -> int:
    """Fold each band's rows into one; returns the number of rows left for those bands.

    Not a merchant's write: one statement over every merchant's counts, which are derived
    data kept by the database (reports.models), so no merchant scope is involved.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_FOLD_POSTGRESQL)
            return cursor.rowcount
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {_BANDS}")  # noqa: S608
        (top,) = cursor.fetchone()
        insert, delete = _FOLD_SQLITE
        cursor.execute(insert, [top])
        written = cursor.rowcount
        cursor.execute(delete, [top, top])
        return written
