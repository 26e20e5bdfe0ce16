"""After a benchmark: do the books still balance? Prints JSON for bench/run.py.

check.py claim MEMBER_ID -> {"consistent": bool, "redemptions": n, ...}
check.py workflow ID     -> {"steps": n, "steps_per_s": x, "timer_late_p99_ms": ms, ...}
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


def _percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _union_seconds(spans: list[tuple[object, object]]) -> float:
    """Seconds covered by at least one (start, end) span; `spans` sorted by start."""
    total = 0.0
    current_start = current_end = None
    for start, end in spans:
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def workflow(workflow_id: int) -> dict[str, object]:
    """Throughput and timer lateness of a finished benchmark workflow, from its runs.

    Steps per second: runs done per second of the time there was work, that is the union
    of every run's span from its due time to its finish. The seconds in which every
    enrollment sits in its wait step with nothing due are not the workers' time: counted
    in, they would cap the rate at (steps / wait) whatever the engine does. The rate over
    the whole span, first start to last finish, is reported beside it. A timer is a wait
    step: its lateness is how long after its due time a worker started it.
    """
    from django.db.models import Count, Max, Min

    from patron.automations.models import Enrollment, StepRun
    from patron.loyalty.models import LedgerEntry
    from patron.messaging.models import Message

    with scopes_disabled():
        runs = StepRun.objects.filter(enrollment__workflow_id=workflow_id)
        by_status = dict(runs.values_list("status").annotate(n=Count("id")))
        span = runs.filter(status="succeeded").aggregate(
            first=Min("started_at"), last=Max("finished_at")
        )
        spans = sorted(runs.filter(status="succeeded").values_list("due_at", "finished_at"))
        timers = runs.filter(step__action_type="wait", status="succeeded").values_list(
            "due_at", "started_at"
        )
        late = [(started - due).total_seconds() for due, started in timers]
        enrollments = Enrollment.objects.filter(workflow_id=workflow_id)
        by_enrollment = dict(enrollments.values_list("status").annotate(n=Count("id")))
        merchant_id = enrollments.values_list("merchant_id", flat=True).first()
        points = LedgerEntry.objects.filter(merchant_id=merchant_id, source="automation").count()
        sms = Message.objects.filter(merchant_id=merchant_id, channel="sms").count()
    done = by_status.get("succeeded", 0)
    seconds = (span["last"] - span["first"]).total_seconds() if span["first"] else 0.0
    busy = _union_seconds(spans)
    return {
        "steps": done,
        "seconds": round(seconds, 2),
        "busy_seconds": round(busy, 2),
        "steps_per_s": round(done / busy, 1) if busy else 0.0,
        "span_steps_per_s": round(done / seconds, 1) if seconds else 0.0,
        "timer_late_p50_ms": round(_percentile(late, 50) * 1000, 1),
        "timer_late_p99_ms": round(_percentile(late, 99) * 1000, 1),
        "runs": by_status,
        "enrollments": by_enrollment,
        "points_given": points,
        "sms": sms,
    }


if __name__ == "__main__":
    command, target = sys.argv[1], int(sys.argv[2])
    out = claim(target) if command == "claim" else workflow(target)
    print(json.dumps(out))
