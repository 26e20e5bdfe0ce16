"""Factories for members, categories and tiers (scopes disabled, like patron.factories)."""

from decimal import Decimal

import factory

from patron.factories import ContactFactory, MerchantFactory, ScopedFactory
from patron.loyalty.models import Member, MemberStatus, PointCategory, Tier


class PointCategoryFactory(ScopedFactory):
    class Meta:
        model = PointCategory

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Category {n}")
    color = "#2563eb"


class TierFactory(ScopedFactory):
    class Meta:
        model = Tier

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Tier {n}")
    threshold = 0
    earn_multiplier = Decimal(1)


class MemberFactory(ScopedFactory):
    """An active member with no points, attached to a contact of the same merchant."""

    class Meta:
        model = Member

    merchant = factory.SubFactory(MerchantFactory)
    contact = factory.SubFactory(ContactFactory, merchant=factory.SelfAttribute("..merchant"))
    phone = factory.LazyAttribute(lambda m: str(m.contact.phone))
    status = MemberStatus.ACTIVE
