"""Measurements taken inside a Patron process (no HTTP in between). Prints JSON.

timed.py import SLUG CSV      -> rows/s through the CSV import (the path `patron import`
                                 and the staff screen's job take)
timed.py rank SLUG ID,ID,...  -> latency of reports.selectors.member_rank per member
timed.py coupons SLUG COUNT   -> COUNT coupons with unique codes from
                                 coupons.services.coupons_issue_bulk
"""

import json
import sys
import time

import django

django.setup()

from django_scopes import scope  # noqa: E402

from patron.lib.actors import Actor  # noqa: E402
from patron.tenants.models import Merchant  # noqa: E402

ACTOR = Actor.system("Benchmark")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_import(slug: str, path: str) -> dict[str, object]:
    from pathlib import Path

    # A worker has its task modules loaded before it takes an import job; loaded here
    # too, so the measure is rows/s and not Python's first import of them (seconds
    # where byte-code is not cached).
    import patron.automations.tasks
    import patron.integrations.tasks
    import patron.loyalty.services  # noqa: F401
    from patron.integrations import imports

    merchant = Merchant.objects.get(slug=slug)
    with scope(merchant=merchant):
        started = time.monotonic()
        batch = imports.import_create(
            merchant=merchant, actor=ACTOR, path=path, file_name=Path(path).name
        )
        batch = imports.import_set_mapping(
            merchant=merchant,
            batch=batch,
            actor=ACTOR,
            mapping=imports.guess_mapping(imports.read_header(path)),
        )
        batch = imports.import_start(
            merchant=merchant, batch=batch, actor=ACTOR, dry_run=False, enqueue=False
        )
        batch = imports.import_run(merchant=merchant, batch_id=batch.pk)
        seconds = time.monotonic() - started
        counts = batch.counts.get("import", {})
    return {"rows": batch.total_rows, "seconds": seconds, "status": batch.status, **counts}


def run_rank(slug: str, ids: list[int]) -> dict[str, object]:
    from patron.loyalty.models import Member
    from patron.reports import selectors

    merchant = Merchant.objects.get(slug=slug)
    with scope(merchant=merchant):
        members = list(Member.objects.filter(pk__in=ids))
        for member in members[:10]:  # warm the connection and the caches
            selectors.member_rank(merchant, member)
        latencies = []
        for member in members:
            began = time.monotonic()
            rank = selectors.member_rank(merchant, member)
            latencies.append(time.monotonic() - began)
            assert rank is None or rank >= 1
    return {
        "samples": len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
    }


def run_coupons(slug: str, count: int) -> dict[str, object]:
    """`count` coupons issued to one campaign contact by the bulk issue service."""
    from patron.contacts.models import Contact
    from patron.coupons.models import Coupon, CouponType
    from patron.coupons.services import coupons_issue_bulk

    merchant = Merchant.objects.get(slug=slug)
    with scope(merchant=merchant):
        holder = Contact.objects.create(merchant=merchant, first_name="Campaign", phone=None)
        started = time.monotonic()
        done = coupons_issue_bulk(
            merchant=merchant,
            contact=holder,
            actor=ACTOR,
            count=count,
            label="Campaign",
            type=CouponType.FIXED_AMOUNT,
            value=10000,
            prefix="BENCH-",
        )
        seconds = time.monotonic() - started
        stored = Coupon.objects.filter(merchant=merchant, reference=done.reference).count()
    return {"codes": count, "stored": stored, "seconds": seconds, "redrawn": done.redrawn}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "import":
        out = run_import(args[0], args[1])
    elif command == "rank":
        out = run_rank(args[0], [int(i) for i in args[1].split(",")])
    elif command == "coupons":
        out = run_coupons(args[0], int(args[1]))
    else:
        raise SystemExit(f"unknown measurement {command}")
    print(json.dumps(out))
