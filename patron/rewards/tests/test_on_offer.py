"""The rule of a reward on offer, read by the database and checked on a list in hand."""

import datetime

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.loyalty.tests.factories import MemberFactory
from patron.rewards import selectors
from patron.rewards.models import Reward
from patron.rewards.tests.factories import RewardFactory

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2027, 5, 1, 12, 0, tzinfo=datetime.UTC)
# Around the moment compared, to the second: before, at and after it.
MOMENTS = st.one_of(
    st.none(), st.integers(-3, 3).map(lambda s: NOW + datetime.timedelta(seconds=s))
)
TERMS = st.fixed_dictionaries(
    {
        "is_active": st.booleans(),
        "starts_at": MOMENTS,
        "ends_at": MOMENTS,
        "stock": st.one_of(st.none(), st.integers(0, 2)),
    }
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(catalog=st.lists(TERMS, min_size=1, max_size=6))
def test_the_list_rule_and_the_query_agree_on_every_reward(in_merchant, catalog):
    Reward.objects.filter(merchant=in_merchant).delete()
    made = [RewardFactory(merchant=in_merchant, **terms) for terms in catalog]

    queried = set(selectors.rewards_on_offer(in_merchant, NOW).values_list("pk", flat=True))
    checked = {reward.pk for reward in made if selectors.is_on_offer(reward, NOW)}

    assert checked == queried


def test_redeemable_rewards_give_the_same_answer_from_a_catalog_in_hand(in_merchant):
    member = MemberFactory(merchant=in_merchant, points_available=150)
    later = timezone.now() + datetime.timedelta(days=1)
    RewardFactory(merchant=in_merchant, name="Coffee", points_cost=100)
    RewardFactory(merchant=in_merchant, name="Lunch", points_cost=200)
    RewardFactory(merchant=in_merchant, name="Sold out", points_cost=50, stock=0)
    RewardFactory(merchant=in_merchant, name="Not yet", points_cost=50, starts_at=later)
    RewardFactory(merchant=in_merchant, name="Cake", points_cost=150, stock=3)
    catalog = list(selectors.rewards(in_merchant))

    read = selectors.redeemable_rewards(in_merchant, member)
    in_hand = selectors.redeemable_rewards(in_merchant, member, catalog)

    assert [r.name for r in in_hand] == [r.name for r in read] == ["Coffee", "Cake"]
