import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scope

from patron.contacts import services as contacts
from patron.coupons import services as coupons
from patron.coupons.models import CouponEvent
from patron.integrations import tasks
from patron.integrations.models import CouponSync, ShopifyStore, SyncStatus
from patron.integrations.shopify import services as shopify
from patron.integrations.tests.fake_shopify import TOKEN, FakeShopify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def plain_http(settings):
    settings.SHOPIFY_ADMIN_URL = "http://{shop}/admin/api/{version}/graphql.json"


@pytest.fixture
def fake():
    server = FakeShopify().start()
    yield server
    server.stop()


@pytest.fixture
def store(trio, fake):
    return _store(trio, fake.domain)


def _store(trio, domain):
    with scope(merchant=trio.merchant):
        return shopify.store_connect(
            merchant=trio.merchant,
            actor=trio.actor,
            shop_domain=domain,
            access_token=TOKEN,
            webhook_secret="secret",
        )


@pytest.fixture
def mark(trio):
    with scope(merchant=trio.merchant):
        return contacts.contact_create(
            merchant=trio.merchant, actor=trio.actor, first_name="Mark", phone="0980000001"
        )


def issue(trio, capture, mark, **terms):
    fields = {"label": "Birthday Coupon", "type": "fixed_amount", "value": Decimal("50000")}
    fields.update(terms)
    with scope(merchant=trio.merchant), capture(execute=True):
        return coupons.coupon_issue(
            merchant=trio.merchant, contact=mark, actor=trio.actor, **fields
        )


def run_syncs(trio):
    with scope(merchant=trio.merchant):
        ids = list(
            CouponSync.objects.filter(status=SyncStatus.PENDING).values_list("pk", flat=True)
        )
    for sync_id in ids:
        tasks.coupon_sync_run.call(trio.merchant.pk, sync_id)


def syncs(trio):
    with scope(merchant=trio.merchant):
        return list(CouponSync.objects.order_by("pk"))


def test_issuing_a_coupon_creates_its_code_in_the_store(
    trio, store, fake, mark, django_capture_on_commit_callbacks
):
    coupon = issue(
        trio,
        django_capture_on_commit_callbacks,
        mark,
        minimum_order=Decimal("200000"),
        applies_to={"kind": "collections", "ids": ["841564295"]},
    )
    run_syncs(trio)

    assert fake.operations() == ["discountCodeBasicCreate"]
    sent = fake.calls[0][1]["basicCodeDiscount"]
    assert sent["code"] == coupon.code
    assert sent["customerGets"]["value"] == {
        "discountAmount": {"amount": "50000.00", "appliesOnEachItem": False}
    }
    assert sent["customerGets"]["items"] == {
        "collections": {"add": ["gid://shopify/Collection/841564295"]}
    }
    assert sent["minimumRequirement"] == {"subtotal": {"greaterThanOrEqualToSubtotal": "200000.00"}}
    assert sent["usageLimit"] == 1
    [sync] = syncs(trio)
    assert sync.status == SyncStatus.SUCCEEDED
    assert sync.shopify_id.startswith("gid://shopify/DiscountCodeNode/")
    with scope(merchant=trio.merchant):
        synced = CouponEvent.objects.get(coupon=coupon, type="synced")
    assert synced.data["platform"] == "shopify"
    assert synced.data["external_id"] == sync.shopify_id


def test_percentage_and_free_shipping_coupons_use_their_mutations(
    trio, store, fake, mark, django_capture_on_commit_callbacks
):
    issue(trio, django_capture_on_commit_callbacks, mark, type="percentage", value=Decimal("15"))
    issue(trio, django_capture_on_commit_callbacks, mark, type="free_shipping", value=Decimal(0))
    run_syncs(trio)
    assert fake.operations() == ["discountCodeBasicCreate", "discountCodeFreeShippingCreate"]
    assert fake.calls[0][1]["basicCodeDiscount"]["customerGets"]["value"] == {"percentage": 0.15}
    assert fake.calls[1][1]["freeShippingCodeDiscount"]["destination"] == {"all": True}


def test_deleting_and_regenerating_remove_the_old_code_from_the_store(
    trio, store, fake, mark, django_capture_on_commit_callbacks
):
    first = issue(trio, django_capture_on_commit_callbacks, mark)
    second = issue(trio, django_capture_on_commit_callbacks, mark, label="Rewards")
    run_syncs(trio)
    with scope(merchant=trio.merchant), django_capture_on_commit_callbacks(execute=True):
        coupons.coupon_delete(
            merchant=trio.merchant, coupon=first, actor=trio.actor, reason="Wrong"
        )
        new = coupons.coupon_regenerate(merchant=trio.merchant, coupon=second, actor=trio.actor)
    run_syncs(trio)

    assert fake.operations() == [
        "discountCodeBasicCreate",
        "discountCodeBasicCreate",
        "discountCodeDelete",
        "discountCodeDelete",
        "discountCodeBasicCreate",
    ]
    assert fake.codes() == {new.code}


def test_with_the_store_down_the_sync_happens_once_it_is_back(
    trio, fake, mark, django_capture_on_commit_callbacks
):
    port = fake.server.port
    _store(trio, fake.domain)
    fake.stop()
    coupon = issue(trio, django_capture_on_commit_callbacks, mark)
    run_syncs(trio)
    [sync] = syncs(trio)
    assert sync.status == SyncStatus.RETRYING
    assert sync.last_error

    back = FakeShopify().start(port=port)
    try:
        with time_machine.travel(sync.next_attempt_at + datetime.timedelta(seconds=1)):
            assert tasks.coupon_syncs_due.call() == 1
    finally:
        back.stop()
    assert back.codes() == {coupon.code}
    assert syncs(trio)[0].status == SyncStatus.SUCCEEDED


def test_a_429_waits_for_retry_after_and_a_throttled_answer_retries(
    trio, store, fake, mark, django_capture_on_commit_callbacks
):
    fake.fail_next(429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "7.0"})
    fake.fail_next(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]})
    coupon = issue(trio, django_capture_on_commit_callbacks, mark)
    before = timezone.now()
    run_syncs(trio)
    [sync] = syncs(trio)
    assert sync.status == SyncStatus.RETRYING
    assert 6 <= (sync.next_attempt_at - before).total_seconds() <= 9

    with time_machine.travel(sync.next_attempt_at + datetime.timedelta(seconds=1)):
        tasks.coupon_syncs_due.call()
    sync = syncs(trio)[0]
    assert sync.status == SyncStatus.RETRYING  # the THROTTLED answer
    with time_machine.travel(sync.next_attempt_at + datetime.timedelta(seconds=1)):
        tasks.coupon_syncs_due.call()
    assert syncs(trio)[0].status == SyncStatus.SUCCEEDED
    assert syncs(trio)[0].attempts == 3
    assert fake.codes() == {coupon.code}


def test_a_lost_answer_does_not_create_the_code_twice(
    trio, store, fake, mark, django_capture_on_commit_callbacks
):
    coupon = issue(trio, django_capture_on_commit_callbacks, mark)
    # The store created it, but Patron never heard back (a timeout after the write).
    fake.discounts["gid://shopify/DiscountCodeNode/1"] = {"code": coupon.code}
    run_syncs(trio)
    [sync] = syncs(trio)
    assert sync.status == SyncStatus.SUCCEEDED
    assert sync.shopify_id == "gid://shopify/DiscountCodeNode/1"
    assert fake.operations() == ["discountCodeBasicCreate", "codeDiscountNodeByCode"]


def test_a_bad_token_fails_without_retrying_and_the_health_check_says_so(
    trio, fake, mark, django_capture_on_commit_callbacks
):
    with scope(merchant=trio.merchant):
        shopify.store_connect(
            merchant=trio.merchant,
            actor=trio.actor,
            shop_domain=fake.domain,
            access_token="wrong",
            webhook_secret="s",
        )
        checked = shopify.store_health_check(merchant=trio.merchant, actor=trio.actor)
    assert checked.health_ok is False
    issue(trio, django_capture_on_commit_callbacks, mark)
    run_syncs(trio)
    assert syncs(trio)[0].status == SyncStatus.FAILED


def test_the_health_check_names_the_store(trio, store, fake):
    with scope(merchant=trio.merchant):
        checked = shopify.store_health_check(merchant=trio.merchant, actor=trio.actor)
    assert checked.health_ok is True
    assert "Alpha Store" in checked.health_message


def test_without_a_store_nothing_is_synced(trio, mark, django_capture_on_commit_callbacks):
    issue(trio, django_capture_on_commit_callbacks, mark)
    assert syncs(trio) == []


def test_the_settings_page_never_shows_the_token_and_outsiders_see_their_own(trio, store, fake):
    page = trio.login(trio.alice).get("/integrations/shopify/")
    assert page.status_code == 200
    assert fake.domain in page.content.decode()
    assert TOKEN not in page.content.decode()
    other = trio.login(trio.charlie).get("/integrations/shopify/").content.decode()
    assert fake.domain not in other
    assert trio.login(trio.bob).get("/integrations/shopify/").status_code == 403


def test_connecting_from_the_app_checks_the_domain(trio):
    client = trio.login(trio.alice)
    answer = client.post(
        "/integrations/shopify/",
        {"shop_domain": "not a domain", "access_token": "t", "webhook_secret": "s"},
    )
    assert answer.status_code == 422
    answer = client.post(
        "/integrations/shopify/",
        {
            "shop_domain": "https://alpha.myshopify.com/admin",
            "access_token": "t",
            "webhook_secret": "s",
            "exclude_shipping": "on",
        },
    )
    assert answer.status_code == 302
    with scope(merchant=trio.merchant):
        store = ShopifyStore.objects.get()
    assert (store.shop_domain, store.exclude_shipping, store.exclude_tax) == (
        "alpha.myshopify.com",
        True,
        False,
    )


def _sync_entries(trio, coupon):
    with scope(merchant=trio.merchant):
        return list(CouponEvent.objects.filter(coupon=coupon, type="synced").order_by("pk"))


def test_a_pending_then_retrying_sync_shows_in_the_coupons_event_data(
    trio, fake, mark, django_capture_on_commit_callbacks
):
    port = fake.server.port
    _store(trio, fake.domain)
    fake.stop()
    coupon = issue(trio, django_capture_on_commit_callbacks, mark)
    [entry] = _sync_entries(trio, coupon)
    assert entry.data["state"] == "pending"
    assert entry.data["attempts"] == 0
    assert entry.data["next_retry_at"]

    run_syncs(trio)
    [sync] = syncs(trio)
    [entry] = _sync_entries(trio, coupon)
    assert entry.data["state"] == "retrying"
    assert entry.data["attempts"] == 1
    assert entry.data["last_error"] == sync.last_error
    assert entry.data["next_retry_at"] == sync.next_attempt_at.isoformat()

    # The Discount Codes tab's "Event Data" and the Shopify page say the same.
    tab = trio.login(trio.alice).get(f"/contacts/{mark.pk}/discount-codes/").content.decode()
    assert "retrying" in tab
    page = trio.login(trio.alice).get("/integrations/shopify/").content.decode()
    assert coupon.code in page
    assert sync.last_error in page

    back = FakeShopify().start(port=port)
    try:
        with time_machine.travel(sync.next_attempt_at + datetime.timedelta(seconds=1)):
            tasks.coupon_syncs_due.call()
    finally:
        back.stop()
    [entry] = _sync_entries(trio, coupon)
    assert entry.data["state"] == "succeeded"
    assert entry.data["attempts"] == 2
    assert entry.data["last_error"] is None
    assert entry.data["next_retry_at"] is None
    assert entry.data["external_id"].startswith("gid://shopify/DiscountCodeNode/")


def test_a_refused_sync_shows_failed_with_the_stores_answer(
    trio, fake, mark, django_capture_on_commit_callbacks
):
    with scope(merchant=trio.merchant):
        shopify.store_connect(
            merchant=trio.merchant,
            actor=trio.actor,
            shop_domain=fake.domain,
            access_token="wrong",
            webhook_secret="s",
        )
    coupon = issue(trio, django_capture_on_commit_callbacks, mark)
    run_syncs(trio)
    [entry] = _sync_entries(trio, coupon)
    assert entry.data["state"] == "failed"
    assert entry.data["attempts"] == 1
    assert "401" in entry.data["last_error"]
    assert entry.data["next_retry_at"] is None
    page = trio.login(trio.alice).get("/integrations/shopify/").content.decode()
    assert "401" in page


def test_a_bulk_issue_is_refused_while_coupons_sync_to_the_store(trio, store, mark):
    # Every coupon of a syncing merchant must reach the store; bulk ones would not.
    answer = trio.api.post(
        f"/contacts/{mark.pk}/coupons/bulk",
        {"count": 5, "label": "Flyers", "type": "fixed_amount", "value": "20000"},
    )
    assert answer.status_code == 409
    assert answer.json()["code"] == "bulk_coupons_not_synced"
    with scope(merchant=trio.merchant):
        assert not CouponEvent.objects.exists()
        shopify.store_connect(
            merchant=trio.merchant,
            actor=trio.actor,
            shop_domain=store.shop_domain,
            sync_coupons=False,
        )
    answer = trio.api.post(
        f"/contacts/{mark.pk}/coupons/bulk",
        {"count": 5, "label": "Flyers", "type": "fixed_amount", "value": "20000"},
    )
    assert answer.status_code == 201, answer.json()
    with scope(merchant=trio.merchant):
        assert not CouponSync.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_api_claim_fans_its_events_out_once_with_the_coupons_store_sync(trio, store):
    """The claim's events (points redeemed, coupon issued, its label's tag added, reward
    claimed) reach the endpoint after one look at the merchant's endpoints, and its
    coupon event still queues the store's sync."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from patron.integrations.models import WebhookDelivery
    from patron.integrations.tests.factories import WebhookEndpointFactory
    from patron.rewards.tests.factories import RewardFactory
    from patron.rewards.tests.test_claims import funded

    with scope(merchant=trio.merchant):
        member = funded(trio.merchant, 300)
    reward = RewardFactory(merchant=trio.merchant, points_cost=100)
    WebhookEndpointFactory(merchant=trio.merchant)
    with CaptureQueriesContext(connection) as queries:
        response = trio.api.post(
            f"/members/{member.pk}/redemptions",
            {"reward_id": str(reward.pk)},
            headers={"Idempotency-Key": "claim-fan-out"},
        )
    assert response.status_code == 201, response.content
    looks = [q for q in queries if 'FROM "integrations_webhookendpoint"' in q["sql"]]
    assert len(looks) == 2  # is there one (fixed SQL), then which
    with scope(merchant=trio.merchant):
        sent = sorted(WebhookDelivery.objects.values_list("event_type", flat=True))
    assert sent == ["coupon_issued", "points_redeemed", "reward_claimed", "tag_added"]
    [sync] = syncs(trio)
    assert (sync.action, sync.status) == ("create", SyncStatus.PENDING)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("connected", [False, True])
def test_coupon_events_fanned_out_together_look_at_the_store_once_when_it_syncs_nothing(
    trio, fake, mark, connected, django_capture_on_commit_callbacks
):
    """Three coupons' events after one write: without a store that syncs coupons, one
    look at the store settles all three and no sync is made."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from patron.contacts.models import ActivityEvent
    from patron.integrations.services import webhooks_dispatch_many

    if connected:
        with scope(merchant=trio.merchant):
            store = _store(trio, fake.domain)
            ShopifyStore.objects.filter(pk=store.pk).update(sync_coupons=False)
    for _ in range(3):
        issue(trio, django_capture_on_commit_callbacks, mark)
    with scope(merchant=trio.merchant):
        events = list(ActivityEvent.objects.filter(type="coupon_issued"))
    assert len(events) == 3
    with CaptureQueriesContext(connection) as queries:
        webhooks_dispatch_many(trio.merchant, events)
    looks = [q for q in queries if 'FROM "integrations_shopifystore"' in q["sql"]]
    assert len(looks) == 1
    assert syncs(trio) == []
