"""After a benchmark: do the books still balance? Prints JSON for bench/run.py.

check.py claim MEMBER_ID -> {"consistent": bool, "redemptions": n, ...}
"""

import json
import sys

import django

django.setup()

from django.db.models import Sum  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from patron.loyalty.models import LedgerEntry, Member, PointLot  # noqa: E402
from patron.rewards.models import Redemption  # noqa: E402


def claim(member_id: int) -> dict[str, object]:
    with scopes_disabled():
        member = Member.objects.get(pk=member_id)
        ledger = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"] or 0
        lots = PointLot.objects.filter(member=member).aggregate(s=Sum("remaining"))["s"] or 0
        redemptions = Redemption.objects.filter(member=member)
        count = redemptions.count()
        spent = redemptions.aggregate(s=Sum("points"))["s"] or 0
    balance = member.points_available + member.points_pending
    return {
        "consistent": ledger == balance == lots and member.points_available >= 0,
        "balance": balance,
        "ledger_sum": ledger,
        "lots_remaining": lots,
        "redemptions": count,
        "redeemed_points": spent,
    }


if __name__ == "__main__":
    command, member = sys.argv[1], int(sys.argv[2])
    print(json.dumps(claim(member)))
