"""Build the data a benchmark needs, in bulk, and print what the load generator needs.

Run by bench/run.py with DATABASE_URL pointing at the benchmark's own database:
    seed.py earn N_MEMBERS       -> {"key": ..., "members": [ids]}
    seed.py claim                -> {"key": ..., "member": id, "reward": id}
    seed.py leaderboard N        -> {"merchant": slug}
"""

import json
import sys

import django

django.setup()

from django.db import transaction  # noqa: E402
from django_scopes import scope  # noqa: E402

from patron.contacts.models import Contact  # noqa: E402
from patron.lib.actors import Actor  # noqa: E402
from patron.tenants.services import api_key_create, merchant_create  # noqa: E402

ACTOR = Actor.system("Benchmark")
BATCH = 10_000


def _merchant(slug: str):  # type: ignore[no-untyped-def]
    return merchant_create(slug=slug, name=slug.title(), country="VN", currency="VND")


def _contacts(merchant, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    ids: list[int] = []
    for start in range(0, count, BATCH):
        rows = [
            Contact(
                merchant=merchant,
                first_name=f"Member{n}",
                phone=f"+8490{n:07d}",
                search_text=f"member{n}",
            )
            for n in range(start, min(count, start + BATCH))
        ]
        Contact.objects.bulk_create(rows, batch_size=2000)
    ids = list(Contact.objects.filter(merchant=merchant).values_list("pk", flat=True))
    return ids


def _active_members(merchant, count: int, points: int = 0) -> list[int]:  # type: ignore[no-untyped-def]
    """`count` active members with `points` available each, written in bulk."""
    from patron.loyalty.models import Member, MemberStatus

    contact_ids = _contacts(merchant, count)
    contacts = Contact.objects.filter(pk__in=contact_ids).only("pk", "phone")
    members = [
        Member(merchant=merchant, contact_id=c.pk, phone=str(c.phone), status=MemberStatus.ACTIVE)
        for c in contacts
    ]
    Member.objects.bulk_create(members, batch_size=2000)
    ids = list(Member.objects.filter(merchant=merchant).values_list("pk", flat=True))
    if points:
        from patron.loyalty import services

        for member in Member.objects.filter(pk__in=ids):
            services.points_give(
                merchant=merchant, member=member, amount=points, actor=ACTOR, reason="seed"
            )
    return ids


def earn(count: int) -> dict[str, object]:
    merchant = _merchant("bench-earn")
    with scope(merchant=merchant):
        members = _active_members(merchant, count)
        key = api_key_create(merchant=merchant, actor=ACTOR).raw
    return {"key": key, "members": members}


def claim() -> dict[str, object]:
    from patron.rewards.models import Reward

    merchant = _merchant("bench-claim")
    with scope(merchant=merchant):
        (member,) = _active_members(merchant, 1, points=10_000_000)
        reward = Reward.objects.create(
            merchant=merchant, name="Coffee", points_cost=10, kind="fixed_amount", value=10000
        )
        key = api_key_create(merchant=merchant, actor=ACTOR).raw
    return {"key": key, "member": member, "reward": reward.pk}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    with transaction.atomic():
        if command == "earn":
            out = earn(int(args[0]))
        elif command == "claim":
            out = claim()
        else:
            raise SystemExit(f"unknown seed {command}")
    print(json.dumps(out))
