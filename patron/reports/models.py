"""Counts kept for the leaderboard: how many members stand in each band of lifetime points.

One member's rank is the number of members ahead of it, plus one. Counting them in the
member_rank index (migration 0001) reads half a million index entries for a member in
the middle of a million; adding up per-band counts reads a few hundred rows, and only
the member's own band is then counted in the index.

The counts are written by the database itself: triggers on the member table (migration
0002) add a row (band, +1) when a member comes onto the board or into a band, and
(band, -1) when it leaves one, whatever code path wrote the member. Rows are only
ever inserted, never updated, so two members earning at once never wait on one count
row; `services.rank_bands_compact` folds them into one row a band now and then.
"""

from django.db import models

from patron.lib.scoping import merchant_scoped_manager
from patron.tenants.models import Merchant

# A band holds the lifetime points that share their two leading digits: 1, 2, ... 99,
# then 100-109, 110-119, ... 990-999, then 1,000-1,099 and so on. About 90 bands a
# power of ten: the sum over the bands stays short, and one band never holds more
# than a tenth of the members between two powers of ten.
_EXACT_BELOW = 100
_LARGEST_POINTS = 2**31 - 1  # loyalty_member.points_lifetime is a 32-bit integer


def band_of(points: int) -> int:
    """The first points value of the band that holds `points` (> 0)."""
    return points - points % band_width(points)


def band_width(points: int) -> int:
    width = 1
    while points >= _EXACT_BELOW * width:
        width *= 10
    return width


def band_sql(column: str) -> str:
    """`band_of` as an SQL expression over an integer column, the same on both databases
    (integer division truncates in PostgreSQL and in SQLite alike)."""
    cases = []
    width = 1
    while _EXACT_BELOW * width <= _LARGEST_POINTS:
        cases.append(f"WHEN {column} < {_EXACT_BELOW * width} THEN {column} / {width} * {width}")
        width *= 10
    return f"(CASE {' '.join(cases)} ELSE {column} / {width} * {width} END)"


class RankBand(models.Model):
    """One change to the count of a band: +1 or -1, or a band's total once compacted."""

    # No foreign key constraint: a trigger's row must never stand in the way of deleting
    # a merchant; compaction drops the rows of a merchant that is gone.
    merchant = models.ForeignKey(
        Merchant, on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    band = models.IntegerField()
    delta = models.IntegerField()

    objects: "models.Manager[RankBand]" = merchant_scoped_manager()

    class Meta:
        indexes = [models.Index(fields=["merchant", "band"], name="rank_band_lookup")]

    def __str__(self) -> str:
        return f"{self.band}: {self.delta:+d}"
