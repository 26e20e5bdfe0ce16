"""Measurements taken inside a Patron process (no HTTP in between). Prints JSON.

timed.py import SLUG CSV      -> rows/s through the CSV import (the path `patron import`
                                 and the staff screen's job take)
timed.py rank SLUG ID,ID,...  -> latency of reports.selectors.member_rank per member
timed.py coupons SLUG COUNT   -> COUNT codes from coupons.codes.coupon_codes_generate,
                                 stored as coupons (unique per merchant)
"""

import json
import sys
import time

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
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


def _copy_text(value: object) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if hasattr(value, "obj"):  # a JSON adapter
        value = json.dumps(value.obj)
    elif hasattr(value, "isoformat"):
        value = value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def run_coupons(slug: str, count: int) -> dict[str, object]:
    """Generate the codes with the product's generator and store them as coupon rows.

    Patron has no bulk-issue service yet, so the rows go in with COPY into the coupons
    table itself, under its unique (merchant, code) constraint; a clash (none expected)
    is retried with fresh codes, as the issuing service does.
    """
    from patron.contacts.models import Contact
    from patron.coupons.codes import coupon_codes_generate
    from patron.coupons.models import Coupon, CouponStatus, CouponType

    merchant = Merchant.objects.get(slug=slug)
    with scope(merchant=merchant):
        holder = Contact.objects.create(merchant=merchant, first_name="Campaign", phone=None)
        template = Coupon(
            merchant=merchant,
            contact=holder,
            code="",
            label="Campaign",
            type=CouponType.FIXED_AMOUNT,
            value=10000,
            status=CouponStatus.AVAILABLE,
            prefix="BENCH-",
        )
    fields = [f for f in Coupon._meta.concrete_fields if not f.primary_key]
    code_field = Coupon._meta.get_field("code")
    others = [f for f in fields if f is not code_field]
    # Every row but its code is the same: render that part of the COPY line once.
    rest = "\t".join(
        _copy_text(f.get_db_prep_save(getattr(template, f.attname), connection)) for f in others
    )
    copy_sql = (
        f"COPY coupons_coupon ({', '.join([code_field.column, *(f.column for f in others)])}) "
        "FROM STDIN"
    )
    started = time.monotonic()
    codes = coupon_codes_generate(count, prefix="BENCH-")
    generated = time.monotonic() - started
    retries = 0
    while True:
        try:
            suffix = "\t" + rest + "\n"
            with (
                transaction.atomic(),
                connection.cursor() as cursor,
                cursor.copy(copy_sql) as copy,  # type: ignore[attr-defined]
            ):
                for start in range(0, len(codes), 50_000):
                    chunk = codes[start : start + 50_000]
                    copy.write((suffix.join(chunk) + suffix).encode())
            break
        except django.db.IntegrityError:
            retries += 1
            codes = coupon_codes_generate(count, prefix="BENCH-")
    seconds = time.monotonic() - started
    with scope(merchant=merchant):
        stored = Coupon.objects.filter(merchant=merchant, code__startswith="BENCH-").count()
    return {
        "codes": count,
        "stored": stored,
        "seconds": seconds,
        "generate_seconds": generated,
        "retries": retries,
    }


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
