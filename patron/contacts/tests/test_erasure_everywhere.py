"""Erasure reaches every app: no table keeps the customer's phone, email or name after it.

The scan reads every text and JSON column of every model, so a new app (or a new column)
that keeps personal data fails here until it registers an eraser.
"""

import json
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Q, Sum
from django.db.models.functions import Cast
from django_scopes import scope, scopes_disabled

from patron.contacts import privacy
from patron.contacts.models import Contact
from patron.coupons import services as coupon_services
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import LedgerEntry, Member
from patron.messaging import services as messaging_services
from patron.portal import services as portal_services
from patron.portal.models import PortalSettings
from patron.rewards import services as reward_services

# Distinctive values, so a hit in the scan is this customer and nobody else.
FIRST, LAST, EMAIL = "Quỳnhzephyr", "Vantablack", "quynh.zephyr@example.com"
PHONE_TYPED, PHONE_DIGITS = "0988 777 666", "988777666"
NEEDLES = [FIRST, LAST, EMAIL, PHONE_DIGITS, "988 777 666"]
# JSON kept as text may escape the name (SQLite stores "Qu\\u1ef3nhzephyr").
NEEDLES.append(json.dumps(FIRST)[1:-1])


def _text_columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, (models.CharField, models.TextField, models.JSONField))
    ]


def personal_data_left() -> list[str]:
    """Every table, column and row id where one of the needles is still found."""
    found = []
    with scopes_disabled():
        for model in apps.get_models(include_auto_created=True):
            columns = _text_columns(model)
            if not columns:
                continue
            rows = model._base_manager.annotate(
                **{f"_scan_{f.attname}": Cast(f.attname, models.TextField()) for f in columns}
            )
            match = Q()
            for column in columns:
                for needle in NEEDLES:
                    match |= Q(**{f"_scan_{column.attname}__icontains": needle})
            for row in rows.filter(match):
                for column in columns:
                    value = str(getattr(row, f"_scan_{column.attname}"))
                    if any(n.lower() in value.lower() for n in NEEDLES):
                        found.append(
                            f"{model._meta.label}#{row.pk}.{column.attname}: {value[:120]}"
                        )
    return found


def totals(merchant: Any) -> dict[str, Any]:
    return {
        "ledger": LedgerEntry.objects.filter(merchant=merchant).aggregate(s=Sum("amount"))["s"],
        "available": Member.objects.filter(merchant=merchant).aggregate(s=Sum("points_available"))[
            "s"
        ],
        "lifetime": Member.objects.filter(merchant=merchant).aggregate(s=Sum("points_lifetime"))[
            "s"
        ],
        "entries": LedgerEntry.objects.filter(merchant=merchant).count(),
    }


def a_customer_with_history(trio: Any) -> Contact:
    merchant = trio.merchant
    with scope(merchant=merchant):
        loyalty_services.program_update(merchant=merchant, actor=trio.actor, signup_bonus=50)
        PortalSettings.objects.update_or_create(
            merchant=merchant, defaults={"allow_self_join": True}
        )
        # Signs in on the customer page (a code by SMS), then joins with consent.
        portal_services.code_request(merchant=merchant, phone=PHONE_TYPED, client_address=None)
        member = portal_services.portal_join(
            merchant=merchant, phone="+84" + PHONE_DIGITS, consent=True, first_name=FIRST
        )
        contact = Contact.objects.get(pk=member.contact_id)
    answer = trio.api.patch(f"/contacts/{contact.pk}", {"last_name": LAST, "email": EMAIL})
    assert answer.status_code == 200, answer.content
    trio.api.post(f"/contacts/{contact.pk}/notes", {"text": f"{FIRST} called from {PHONE_TYPED}"})
    answer = trio.api.post(
        f"/members/{member.pk}/points",
        {"amount": 400, "reason": f"Welcome {FIRST}"},
        headers={"Idempotency-Key": "erase-earn-1"},
    )
    assert answer.status_code == 201, answer.content
    with scope(merchant=merchant):
        contact.refresh_from_db()
        member.refresh_from_db()
        coupon_services.coupon_issue(
            merchant=merchant,
            contact=contact,
            actor=trio.actor,
            label="Birthday treat",
            type="fixed_amount",
            value=20,
        )
        reward = reward_services.reward_create(
            merchant=merchant,
            actor=trio.actor,
            name="Free coffee",
            kind="fixed_amount",
            points_cost=100,
            value=30,
        )
        reward_services.reward_claim(
            merchant=merchant, member=member, reward=reward, actor=trio.actor
        )
        messaging_services.message_send(
            merchant=merchant,
            channel="sms",
            actor=trio.actor,
            body=f"Hi {FIRST} {LAST}, your points are waiting.",
            contact=contact,
        )
        messaging_services.message_send(
            merchant=merchant,
            channel="email",
            actor=trio.actor,
            subject=f"For {FIRST}",
            body="Thanks for visiting.",
            contact=contact,
        )
    return contact


def test_erasure_leaves_no_personal_data_in_any_table(trio):
    contact = a_customer_with_history(trio)
    assert personal_data_left(), "the scan should see the customer before erasure"
    with scope(merchant=trio.merchant):
        before = totals(trio.merchant)
    assert trio.api.post(f"/contacts/{contact.pk}/erase").status_code == 204
    left = personal_data_left()
    assert left == [], "\n".join(left)
    with scope(merchant=trio.merchant):
        assert totals(trio.merchant) == before
        # The ledger still adds up to the balances it left behind.
        member = Member.objects.get(contact=contact)
        assert member.phone != "+84" + PHONE_DIGITS
        ledger = LedgerEntry.objects.filter(member=member).aggregate(s=Sum("amount"))["s"]
        assert ledger == member.points_available + member.points_pending
    summary = trio.api.get("/reports/summary")
    assert summary.status_code == 200


def test_export_holds_every_apps_data_before_erasure(trio):
    contact = a_customer_with_history(trio)
    document = trio.api.get(f"/contacts/{contact.pk}/export").json()
    for section in ("loyalty", "coupons", "messaging", "portal", "rewards"):
        assert document[section], section
    text = str(document)
    assert "+84" + PHONE_DIGITS in text and FIRST in text
    assert any(m["to"] == EMAIL for m in document["messaging"]["messages"])


def test_rejoining_with_an_erased_phone_starts_from_nothing(trio):
    contact = a_customer_with_history(trio)
    with scope(merchant=trio.merchant):
        old = Member.objects.get(contact=contact)
        old_balance = old.points_available
    assert old_balance > 0
    trio.api.post(f"/contacts/{contact.pk}/erase")
    with scope(merchant=trio.merchant):
        assert privacy.phone_was_erased(trio.merchant, "+84" + PHONE_DIGITS)
        # Seed 004's anti-fraud rule: a phone does not carry a membership to someone
        # else, so whoever holds the number now gets a new membership, not the old points.
        again = portal_services.portal_join(
            merchant=trio.merchant, phone="+84" + PHONE_DIGITS, consent=True
        )
        assert again.pk != old.pk
        assert again.contact_id != contact.pk
        old.refresh_from_db()
        assert old.points_available == old_balance
        assert old.contact_id == contact.pk
        assert again.points_available < old_balance
        # Nor a second sign-up bonus: the number had its welcome already.
        if again.status == "active":
            assert again.points_available == 0
        else:
            activated = loyalty_services.member_activate(
                merchant=trio.merchant, member=again, actor=trio.actor
            )
            assert activated.points_available == 0
