"""Build the data a benchmark needs, in bulk, and print what the load generator needs.

Run by bench/run.py with DATABASE_URL pointing at the benchmark's own database:
    seed.py earn N_MEMBERS       -> {"key": ..., "members": [ids]}
    seed.py claim                -> {"key": ..., "member": id, "reward": id}
    seed.py leaderboard N        -> {"key": ..., "merchant": slug, "sample": [member ids]}
    seed.py portal N             -> {"merchant": slug, "cookies": ["name=value", ...]}
    seed.py workflow N LEAD WAIT -> {"workflow": id, "due_at": iso time of the first steps}
    seed.py merchant SLUG        -> {"merchant": slug}

Big tables are written server-side (INSERT ... SELECT over generate_series), the
others with bulk_create; only the few rows a benchmark reads closely go through services.
"""

import datetime
import json
import random
import sys
from typing import Any

import django

django.setup()

from django.db import connection, models, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
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


def insert_series(
    model: type[models.Model], count: int, varying: dict[str, str], **fixed: Any
) -> None:
    """`count` rows of `model` written by the database itself (PostgreSQL).

    Every column takes its value from `fixed` or the field's default, except those in
    `varying`: SQL expressions over `n`, the row number from 1 to count.
    """
    template = model(**fixed)
    columns: list[str] = []
    values: list[str] = []
    params: list[Any] = []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        if f.column in varying:
            values.append(varying[f.column])
        else:
            values.append("%s")
            params.append(f.get_db_prep_save(getattr(template, f.attname), connection))
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"SELECT {', '.join(values)} FROM generate_series(1, {int(count)}) AS n",
            params,
        )


def _phone_sql(prefix: str = "+8490") -> str:
    return f"'{prefix}' || lpad(n::text, 7, '0')"


def bulk_members(merchant, count: int, lifetime_sql: str = "0") -> None:  # type: ignore[no-untyped-def]
    """`count` contacts, each an active member, written server-side.

    `lifetime_sql` gives each member's lifetime points from `c.id`, its contact's id.
    Lifetime points only (no ledger rows): enough for the leaderboard, which reads the
    member rows alone.
    """
    from patron.loyalty.models import Member, MemberStatus

    insert_series(
        Contact,
        count,
        {
            "first_name": "'Member' || n",
            "phone": _phone_sql(),
            "search_text": "'member' || n || ' ' || " + _phone_sql(),
        },
        merchant=merchant,
    )
    now = timezone.now()
    with connection.cursor() as cursor:
        columns = []
        selects = []
        params: list[Any] = []
        template = Member(merchant=merchant, status=MemberStatus.ACTIVE, first_activated_at=now)
        varying = {
            "contact_id": "c.id",
            "phone": "c.phone",
            "points_lifetime": lifetime_sql,
        }
        for f in Member._meta.concrete_fields:
            if f.primary_key:
                continue
            columns.append(connection.ops.quote_name(f.column))
            if f.column in varying:
                selects.append(varying[f.column])
            else:
                selects.append("%s")
                params.append(f.get_db_prep_save(getattr(template, f.attname), connection))
        params.append(merchant.pk)
        cursor.execute(
            f"INSERT INTO loyalty_member ({', '.join(columns)}) "
            f"SELECT {', '.join(selects)} FROM contacts_contact c WHERE c.merchant_id = %s "
            "ORDER BY c.id",
            params,
        )


def leaderboard(count: int) -> dict[str, object]:
    from patron.loyalty.models import Member
    from patron.reports.services import rank_bands_compact

    merchant = _merchant("bench-board")
    with scope(merchant=merchant):
        # Lifetime points spread over 0..199,999 (about five members share a score), a
        # few hundred members at zero: like a real program, ties and all.
        bulk_members(merchant, count, "mod(hashint4(c.id::int) & 262143, 200000)")
        # The members' triggers wrote one count row each; a worker's periodic fold
        # (every minute) leaves one row a band, as on a server that has been up.
        rank_bands_compact()
        key = api_key_create(merchant=merchant, actor=ACTOR).raw
        ids = list(Member.objects.filter(merchant=merchant).values_list("pk", flat=True))
    rng = random.Random(8)
    return {"key": key, "merchant": merchant.slug, "sample": rng.sample(ids, min(200, len(ids)))}


def portal(count: int) -> dict[str, object]:
    """`count` members with a short history, rewards to show, and a signed-in cookie each."""
    from dataclasses import asdict

    from django.core import signing

    from patron.loyalty import services
    from patron.loyalty.models import Member
    from patron.portal import session as portal_session
    from patron.rewards.models import Reward

    merchant = _merchant("bench-portal")
    cookies = []
    with scope(merchant=merchant):
        _active_members(merchant, count)
        for cost in (100, 250, 1000):
            Reward.objects.create(
                merchant=merchant,
                name=f"Reward {cost}",
                points_cost=cost,
                kind="fixed_amount",
                value=cost * 100,
            )
        for member in Member.objects.filter(merchant=merchant).order_by("pk"):
            for amount in (120, 80, 300):
                services.points_give(
                    merchant=merchant, member=member, amount=amount, actor=ACTOR, reason="visit"
                )
            # The cookie the customer page itself sets after a code was confirmed.
            state = portal_session.PortalSession()
            state.sign_in(member.phone, member.pk)
            value = signing.dumps(asdict(state), salt=portal_session._salt(merchant), compress=True)
            cookies.append(f"{portal_session.cookie_name(merchant)}={value}")
    return {"merchant": merchant.slug, "cookies": cookies}


def workflow(count: int, lead_seconds: float, wait_seconds: float) -> dict[str, object]:
    """A published 3-step workflow (give points, wait, send an SMS) and `count` enrollments
    whose first step falls due `lead_seconds` after they are all written.

    The enrollments and their first step runs are written in bulk, as the enrollment
    service writes them one by one (without the "enrolled" timeline events).
    """
    from patron.automations import engine
    from patron.automations.models import Enrollment, EnrollmentStatus, StepRun
    from patron.automations.services import workflow_create, workflow_publish

    merchant = _merchant("bench-flow")
    with scope(merchant=merchant):
        bulk_members(merchant, count)
        flow = workflow_create(
            merchant=merchant,
            actor=ACTOR,
            name="Welcome",
            steps=[
                {"action_type": "give_points", "config": {"amount": 10, "reason": "Welcome"}},
                {
                    "action_type": "wait",
                    "config": {"mode": "duration", "amount": wait_seconds / 60, "unit": "minutes"},
                },
                {"action_type": "send_sms", "config": {"body": "Hi {first_name}, welcome!"}},
            ],
        )
        workflow_publish(merchant=merchant, workflow=flow, actor=ACTOR)
        first = flow.steps.order_by("position").first()
        assert first is not None
        # Not due until every row is written (set at the end).
        due_at = timezone.now() + datetime.timedelta(days=1)
        contact_ids = list(
            Contact.objects.filter(merchant=merchant).order_by("pk").values_list("pk", flat=True)
        )
        for start in range(0, len(contact_ids), BATCH):
            enrollments = []
            for contact_id in contact_ids[start : start + BATCH]:
                enrollment = Enrollment(
                    merchant=merchant,
                    workflow=flow,
                    contact_id=contact_id,
                    status=EnrollmentStatus.ACTIVE,
                    current_step=first,
                    action_name="Benchmark",
                )
                enrollment.set_actor(ACTOR)
                enrollments.append(enrollment)
            Enrollment.objects.bulk_create(enrollments, batch_size=2000)
            StepRun.objects.bulk_create(
                [
                    StepRun(
                        merchant=merchant,
                        enrollment=e,
                        step=first,
                        name="Give 10 points",
                        position=first.position,
                        due_at=due_at,
                        idempotency_key=engine.idempotency_key(e.pk, first.pk),
                    )
                    for e in enrollments
                ],
                batch_size=2000,
            )
        # Due from `lead_seconds` after everything is written, whatever the writing took
        # (the workers may already be running).
        due_at = timezone.now() + datetime.timedelta(seconds=lead_seconds)
        StepRun.objects.filter(merchant=merchant, step=first).update(due_at=due_at)
    return {"workflow": flow.pk, "due_at": due_at.isoformat()}


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
        elif command == "leaderboard":
            out = leaderboard(int(args[0]))
        elif command == "portal":
            out = portal(int(args[0]))
        elif command == "workflow":
            out = workflow(int(args[0]), float(args[1]), float(args[2]))
        elif command == "merchant":
            out = {"merchant": _merchant(args[0]).slug}
        else:
            raise SystemExit(f"unknown seed {command}")
    print(json.dumps(out))
