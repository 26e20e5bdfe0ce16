"""The demo merchant: the data the seed articles walk through, rebuilt from scratch.

`patron demo` deletes the demo merchants and builds them again, so the walks in the
help articles (Mark and his coupons, a green "Add to the loyalty program" workflow, the
Vietnamese member states) always start from the same place. Each app adds its part in
a function of its own below; the order matters only where later parts use earlier ones.
"""

import datetime
import random
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from patron.contacts import services as contact_services
from patron.contacts.models import Contact, ContactSource
from patron.lib.actors import Actor
from patron.tenants import services as tenant_services
from patron.tenants.models import Agency, Merchant, Role

DEMO_SLUG = "demo"
SECOND_SLUG = "demo-north"
AGENCY_NAME = "Demo Agency"
PASSWORD = "patron-demo"  # noqa: S105 (the demo login, printed by `patron demo`)
OWNER_EMAIL = "owner@demo.patron"
STAFF_EMAIL = "staff@demo.patron"
AGENCY_EMAIL = "agency@demo.patron"
ACTOR = Actor.system("Demo data")

FIRST_NAMES = [
    "An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hương", "Khánh", "Lan", "Linh",
    "Long", "Mai", "Minh", "Nam", "Ngọc", "Phúc", "Quân", "Sơn", "Thảo", "Trang", "Tuấn",
    "Vy", "Yến", "Đức", "Hoa", "Kiên", "Thu",
]  # fmt: skip
MOBILE_PREFIXES = ["090", "091", "093", "096", "097", "098", "086", "088"]
LAST_NAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Ngô"]


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    merchant: Merchant


def _delete_merchant(merchant: Merchant) -> None:
    """Remove a merchant with every row it owns.

    The ledger is protected on purpose (a member cannot go while ledger rows point at it,
    nor a ledger row while a redemption does), so one cascading delete is refused. Each
    model's rows go in passes instead, until nothing protects anything any more.
    """
    owned = [
        model
        for model in apps.get_models()
        if any(
            field.name == "merchant" and field.related_model is Merchant
            for field in model._meta.fields
        )
    ]
    for _ in range(len(owned) + 1):
        blocked = []
        for model in owned:
            try:
                with transaction.atomic():
                    model._base_manager.filter(merchant=merchant).delete()
            except (ProtectedError, RestrictedError):
                blocked.append(model)
        if not blocked:
            break
        owned = blocked
    merchant.delete()


def _remove_previous() -> None:
    with scopes_disabled():
        for merchant in Merchant.objects.filter(slug__in=[DEMO_SLUG, SECOND_SLUG]):
            agency = merchant.agency
            _delete_merchant(merchant)
            if not agency.merchants.exists():
                agency.delete()


def _contacts(merchant: Merchant) -> list[Contact]:
    rng = random.Random(20261123)
    made = [
        contact_services.contact_create(
            merchant=merchant,
            actor=ACTOR,
            first_name="Mark",
            last_name="Nguyen",
            phone="0912 345 678",
            email="mark@example.com",
            birthday=datetime.date(1990, 11, 28),
            source=ContactSource.POS,
        ),
        # Seed 004's customer A: 0980.000.000.
        contact_services.contact_create(
            merchant=merchant,
            actor=ACTOR,
            first_name="Anh",
            last_name="Trần",
            phone="0980.000.000",
            birthday=datetime.date(1985, 3, 14),
            source=ContactSource.POS,
        ),
    ]
    for index in range(28):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = rng.choice(LAST_NAMES)
        made.append(
            contact_services.contact_create(
                merchant=merchant,
                actor=ACTOR,
                first_name=first,
                last_name=last,
                phone=f"{rng.choice(MOBILE_PREFIXES)}{rng.randint(1_000_000, 9_999_999)}",
                email=f"customer{index + 1}@example.com" if index % 3 else None,
                birthday=datetime.date(
                    rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28)
                ),
                source=rng.choice([ContactSource.POS, ContactSource.MANUAL, ContactSource.SHOPIFY]),
            )
        )
    contact_services.contact_tag_add(
        merchant=merchant, contact=made[0], name="VIP", color="#7c3aed", actor=ACTOR
    )
    return made


MARK_PHONE = "+84912345678"


def _rewards_coupon(merchant: Merchant, mark: Contact) -> None:
    """Mark's Rewards Coupon, bought with points through "Claim Reward" when the loyalty
    part of the demo gave him a membership, points and a reward labelled "Rewards
    Coupon"; deleting it with a refund then puts those points back (seed 000, step 4)."""
    from patron.coupons import services as coupon_services
    from patron.loyalty import selectors as loyalty_selectors
    from patron.rewards import selectors as reward_selectors
    from patron.rewards import services as reward_services

    member = loyalty_selectors.member_for_contact(merchant, mark)
    if member is not None:
        affordable = reward_selectors.redeemable_rewards(merchant, member)
        labelled = [r for r in affordable if r.coupon_label == "Rewards Coupon"]
        cheapest = min((r.points_cost for r in affordable), default=0)
        # Keep enough points for one more claim: the customer page walk claims one.
        for reward in sorted(labelled, key=lambda r: r.points_cost):
            if member.points_available - reward.points_cost >= cheapest:
                reward_services.reward_claim(
                    merchant=merchant, member=member, reward=reward, actor=ACTOR
                )
                return
    coupon_services.coupon_issue(
        merchant=merchant,
        contact=mark,
        actor=ACTOR,
        label="Rewards Coupon",
        type="fixed_amount",
        value=20_000,
        earning_method="loyalty",
        prefix="RWD-",
        expires_at=timezone.now() + datetime.timedelta(days=60),
    )


def _coupons(merchant: Merchant) -> None:
    """Mark's three available coupons (seed 000) and some past codes (seed 002)."""
    from patron.coupons import services as coupon_services
    from patron.coupons.models import Coupon

    now = timezone.now()
    contacts = list(Contact.objects.filter(merchant=merchant).order_by("pk"))
    mark = next(c for c in contacts if str(c.phone) == MARK_PHONE)
    others = [c for c in contacts if c.pk != mark.pk]

    def issue(contact: Contact, label: str, **terms: Any) -> Coupon:
        return coupon_services.coupon_issue(
            merchant=merchant, contact=contact, actor=ACTOR, label=label, **terms
        )

    birthday: dict[str, Any] = {
        "type": "percentage",
        "value": 20,
        "prefix": "BDAY-",
        "earning_method": "automation",
    }
    issue(mark, "Birthday Coupon", expires_at=now + datetime.timedelta(days=30), **birthday)
    _rewards_coupon(merchant, mark)
    issue(
        mark,
        "Re-invitation Coupon",
        type="fixed_amount",
        value=50_000,
        minimum_order=200_000,
        prefix="BACK-",
        earning_method="automation",
        expires_at=now + datetime.timedelta(days=14),
    )

    # Past Discount Codes: used, expired, deleted, and one deleted and regenerated.
    welcome = issue(mark, "Welcome Coupon", type="free_shipping", value=0, prefix="HELLO-")
    coupon_services.coupon_redeem(
        merchant=merchant, coupon=welcome, actor=ACTOR, order_reference="#1024"
    )
    summer = issue(
        others[0],
        "Summer Coupon",
        type="percentage",
        value=15,
        applies_to={"kind": "collections", "ids": ["iced-drinks"]},
        expires_at=now + datetime.timedelta(days=1),
    )
    # Made to have ended last month, then expired as the periodic task would.
    Coupon.objects.filter(pk=summer.pk).update(
        created_at=now - datetime.timedelta(days=75), expires_at=now - datetime.timedelta(days=30)
    )
    coupon_services.coupons_expire(merchant=merchant, actor=ACTOR)
    wrong = issue(others[1], "Birthday Coupon", type="fixed_amount", value=20, prefix="BDAY-")
    coupon_services.coupon_regenerate(
        merchant=merchant,
        coupon=wrong,
        actor=ACTOR,
        reason="Wrong value: 20 VND instead of 20%",
        type="percentage",
        value=20,
    )
    stray = issue(others[2], "Re-invitation Coupon", type="fixed_amount", value=50_000)
    coupon_services.coupon_delete(
        merchant=merchant, coupon=stray, actor=ACTOR, reason="Customer opted out"
    )
    for contact, order in ((others[3], "#1031"), (others[4], "#1032")):
        used = issue(contact, "Rewards Coupon", type="fixed_amount", value=30_000)
        coupon_services.coupon_redeem(
            merchant=merchant, coupon=used, actor=ACTOR, order_reference=order
        )
    issue(others[5], "Birthday Coupon", expires_at=now + datetime.timedelta(days=20), **birthday)


def _loyalty(merchant: Merchant, contacts: list[Contact]) -> None:
    """Program settings, tiers, a rewards catalog, members in all three states and a few
    months of ledger history; Mark active with points, seed 004's customer A (0980.000.000)
    with 1000 points and Diamond."""
    from decimal import Decimal

    from patron.loyalty import selectors as loyalty_selectors
    from patron.loyalty import services as loyalty_services
    from patron.loyalty.models import LedgerEntry, Member, PointLot
    from patron.rewards import services as reward_services

    rng = random.Random(20261124)
    now = timezone.now()
    loyalty_services.program_update(
        merchant=merchant,
        actor=ACTOR,
        earn_per_currency_unit=Decimal("0.001"),  # 1 point per 1,000 ₫
        signup_bonus=50,
        birthday_bonus=100,
        pending_days=7,
        expiry_policy="after_days",
        expiry_days=365,
        tier_basis="lifetime_points",
        downgrade_policy="scheduled",
    )
    for name, threshold, color, multiplier, benefits in (
        ("Silver", 200, "#94a3b8", "1", "Birthday coupon"),
        ("Gold", 500, "#eab308", "1.2", "Birthday coupon, 20% more points"),
        ("Diamond", 1000, "#0ea5e9", "1.5", "Birthday coupon, 50% more points, free shipping"),
    ):
        loyalty_services.tier_create(
            merchant=merchant,
            name=name,
            threshold=threshold,
            color=color,
            benefits=benefits,
            earn_multiplier=Decimal(multiplier),
            actor=ACTOR,
        )
    catalog: list[dict[str, Any]] = [
        {"name": "Free shipping", "kind": "free_shipping", "points_cost": 100},
        {
            "name": "20,000 ₫ off",
            "kind": "fixed_amount",
            "value": 20_000,
            "points_cost": 150,
            "coupon_label": "Rewards Coupon",
            "coupon_prefix": "RWD",
            "coupon_valid_days": 60,
        },
        {
            "name": "Free croissant",
            "kind": "free_product",
            "points_cost": 120,
            "product_ids": ["croissant"],
            "stock": 25,
        },
        {
            "name": "10% off your order",
            "kind": "percentage",
            "value": 10,
            "points_cost": 250,
            "coupon_label": "Rewards Coupon",
            "coupon_valid_days": 30,
        },
        {"name": "Patron tote bag", "kind": "custom", "points_cost": 400, "stock": 10},
        {
            "name": "Summer special: 15% off",
            "kind": "percentage",
            "value": 15,
            "points_cost": 200,
            "starts_at": now - datetime.timedelta(days=120),
            "ends_at": now - datetime.timedelta(days=30),
        },
    ]
    rewards = [
        reward_services.reward_create(merchant=merchant, actor=ACTOR, **terms) for terms in catalog
    ]
    categories = {c.name: c for c in loyalty_selectors.point_categories(merchant)}

    def member_of(contact: Contact) -> Member:
        return loyalty_services.member_ensure(merchant=merchant, contact=contact, actor=ACTOR)

    def history(member: Member, orders: int) -> None:
        for _ in range(orders):
            loyalty_services.points_give(
                merchant=merchant,
                member=member,
                amount=rng.choice([40, 60, 85, 120, 150]),
                actor=ACTOR,
                category=categories["Purchase"],
                reason="Order at the counter",
                source="order",
                reference=f"#{rng.randint(1000, 1999)}",
                pending=False,
            )

    mark, anh, others = contacts[0], contacts[1], contacts[2:]
    # Mark: active, 450 points available (Silver) and a recent order still pending; the
    # coupons part then claims his Rewards Coupon with some of them.
    member = member_of(mark)
    loyalty_services.member_activate(
        merchant=merchant, member=member, actor=ACTOR, reason="Joined at the counter"
    )
    for amount, category, reason in (
        (150, "Purchase", "Order #1001"),
        (100, "Referral", "Brought a friend"),
        (150, "Purchase", "Order #1012"),
    ):
        loyalty_services.points_give(
            merchant=merchant,
            member=member,
            amount=amount,
            actor=ACTOR,
            category=categories[category],
            reason=reason,
            source="order" if category == "Purchase" else "manual",
            pending=False,
        )
    loyalty_services.points_give(
        merchant=merchant,
        member=member,
        amount=80,
        actor=ACTOR,
        category=categories["Purchase"],
        reason="Order #1040",
        source="order",
        reference="#1040",
    )
    # Seed 004's customer A: 1000 points and Diamond.
    member = member_of(anh)
    loyalty_services.member_activate(merchant=merchant, member=member, actor=ACTOR)
    loyalty_services.points_adjust(
        merchant=merchant,
        member=member,
        amount=950,
        actor=ACTOR,
        reason="Balance carried over from the paper card",
        category=categories["Bonus"],
    )
    # The sign-up bonus gave 50 already: 1000 in all.
    for index, contact in enumerate(c for c in others if c.phone):
        member = member_of(contact)
        if index % 5 == 4:
            loyalty_services.member_exclude(
                merchant=merchant,
                member=member,
                actor=ACTOR,
                reason=rng.choice(["Staff account", "Asked to leave the program"]),
            )
        elif index % 5 != 3:
            loyalty_services.member_activate(merchant=merchant, member=member, actor=ACTOR)
            history(member, rng.randint(1, 6))
            if index % 4 == 0:
                reward_services.redemption_manual(
                    merchant=merchant,
                    member=member,
                    points=50,
                    note="Free drink at the counter",
                    actor=ACTOR,
                )
            elif index % 4 == 1:
                member.refresh_from_db()
                if member.points_available >= rewards[0].points_cost:
                    reward_services.reward_claim(
                        merchant=merchant, member=member, reward=rewards[0], actor=ACTOR
                    )
    # Spread the history over the last months, oldest first; the rows themselves are
    # never edited by the app (append-only), only placed in time here.
    entries = list(
        LedgerEntry.objects.filter(merchant=merchant).exclude(member__contact=mark).order_by("pk")
    )
    for position, entry in enumerate(entries):
        days_ago = 180 - (170 * position) // max(len(entries), 1)
        at = now - datetime.timedelta(days=days_ago, hours=rng.randint(0, 10))
        LedgerEntry.objects.filter(pk=entry.pk).update(created_at=at)
        PointLot.objects.filter(entry_id=entry.pk).update(
            created_at=at, expires_at=at + datetime.timedelta(days=365)
        )
    for days_ago, entry in zip(
        (90, 60, 21, 1),
        LedgerEntry.objects.filter(merchant=merchant, member__contact=mark).order_by("pk"),
        strict=False,
    ):
        at = now - datetime.timedelta(days=days_ago)
        LedgerEntry.objects.filter(pk=entry.pk).update(created_at=at)
        PointLot.objects.filter(entry_id=entry.pk).update(
            created_at=at, expires_at=at + datetime.timedelta(days=365)
        )


@transaction.atomic
def build_demo() -> DemoLogin:
    _remove_previous()
    agency = Agency.objects.create(name=AGENCY_NAME)
    merchant = tenant_services.merchant_create(
        slug=DEMO_SLUG,
        name="Patron Demo Café",
        country="VN",
        timezone_name="Asia/Ho_Chi_Minh",
        currency="VND",
        language="en",
        agency=agency,
    )
    second = tenant_services.merchant_create(
        slug=SECOND_SLUG,
        name="Patron Demo Café (North)",
        country="VN",
        timezone_name="Asia/Ho_Chi_Minh",
        currency="VND",
        agency=agency,
    )
    tenant_services.staff_grant(
        merchant=merchant, email=OWNER_EMAIL, role=Role.OWNER, password=PASSWORD
    )
    tenant_services.staff_grant(
        merchant=merchant, email=STAFF_EMAIL, role=Role.STAFF, password=PASSWORD
    )
    agency_user = tenant_services.staff_grant(
        merchant=second, email=AGENCY_EMAIL, role=Role.OWNER, password=PASSWORD
    )
    tenant_services.agency_admin_grant(agency=agency, user=agency_user)
    with scope(merchant=merchant):
        contacts = _contacts(merchant)
        _loyalty(merchant, contacts)
        # Last: the Rewards Coupon is paid with the points the loyalty part gave Mark.
        _coupons(merchant)
    with scope(merchant=second):
        contact_services.contact_create(
            merchant=second, actor=ACTOR, first_name="Bảo", last_name="Lý", phone="0903 111 222"
        )
    return DemoLogin(email=OWNER_EMAIL, password=PASSWORD, merchant=merchant)
