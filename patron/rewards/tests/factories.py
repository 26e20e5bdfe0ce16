"""Factories for rewards (scopes disabled, like patron.factories)."""

from decimal import Decimal

import factory

from patron.factories import MerchantFactory, ScopedFactory
from patron.rewards.models import Reward, RewardKind


class RewardFactory(ScopedFactory):
    class Meta:
        model = Reward

    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Reward {n}")
    kind = RewardKind.FIXED_AMOUNT
    value = Decimal("50000")
    points_cost = 100
