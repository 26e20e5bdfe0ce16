"""The staff pages issue a bounded number of queries whatever the data size: measured
with 1,000 contacts, 1,000 members and 10,000 ledger rows (and as many activity events)."""

import datetime
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scopes_disabled

from patron.contacts.models import ActivityEvent, Contact
from patron.loyalty.models import LedgerEntry, LedgerKind, Member, MemberStatus, PointCategory

pytestmark = pytest.mark.django_db

# Per page, whatever the number of rows behind it.
MAX_QUERIES = 30


@pytest.fixture
def big(trio):
    merchant = trio.merchant
    rng = random.Random(4)
    now = timezone.now()
    with scopes_disabled():
        Contact.objects.bulk_create(
            Contact(
                merchant=merchant,
                first_name=f"Customer{i}",
                last_name="Tran",
                phone=f"+8491{i:07d}",
                search_text=f"customer{i} tran",
            )
            for i in range(1000)
        )
        contacts = list(Contact.objects.filter(merchant=merchant).order_by("pk"))
        category = PointCategory.objects.create(merchant=merchant, name="Purchase")
        Member.objects.bulk_create(
            Member(
                merchant=merchant,
                contact=c,
                phone=str(c.phone),
                status=rng.choice(MemberStatus.values),
                points_available=100,
                points_lifetime=100 + i,
            )
            for i, c in enumerate(contacts)
        )
        members = list(Member.objects.filter(merchant=merchant).order_by("pk"))
        entries = []
        for n in range(10_000):
            member = members[n % len(members)] if n % 2 else members[0]
            entries.append(
                LedgerEntry(
                    merchant=merchant,
                    member=member,
                    kind=rng.choice([LedgerKind.EARN, LedgerKind.REDEEM, LedgerKind.EXPIRE]),
                    amount=rng.choice([5, -5, 10]),
                    category=category,
                    reason="Order",
                    balance_after=100,
                    created_at=now - datetime.timedelta(hours=n % 700),
                )
            )
        LedgerEntry.objects.bulk_create(entries, batch_size=2000)
        ActivityEvent.objects.bulk_create(
            (
                ActivityEvent(merchant=merchant, contact=contacts[0], type="note_added", data={})
                for _ in range(10_000)
            ),
            batch_size=2000,
        )
    return contacts[0], members[0]


def test_staff_pages_issue_a_bounded_number_of_queries(trio, big):
    contact, member = big
    client = trio.login(trio.alice)
    urls = [
        "/contacts/",
        "/contacts/?state=active&page=3",
        f"/contacts/{contact.pk}/",
        f"/contacts/{contact.pk}/points/",
        f"/contacts/{contact.pk}/discount-codes/",
        f"/contacts/{contact.pk}/membership/",
        f"/loyalty/members/{member.pk}/",
        "/loyalty/members/?state=not_activated",
        "/reports/leaderboard/",
        "/reports/leaderboard/?period=month",
        "/reports/contact-points/?q=customer",
        "/reports/points/",
        "/reports/dashboard/?start=2000-01-01",
    ]
    counts = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        counts[url] = len(queries)
    assert max(counts.values()) <= MAX_QUERIES, counts
