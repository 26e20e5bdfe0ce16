"""Per-API-key rate limits: 429 problem+json with Retry-After, one budget per key."""

import datetime
import threading

import pytest
from django.db import close_old_connections, connection
from django_scopes import scope, scopes_disabled

from patron.audit import ratelimit
from patron.audit.models import RateLimitWindow
from patron.conftest import ApiClient
from patron.contacts.models import Contact
from patron.tenants.models import ApiKey


def merchant_key(trio) -> ApiKey:
    with scopes_disabled():
        return ApiKey.objects.get(merchant=trio.merchant)


@pytest.fixture
def small_limit(settings):
    settings.API_RATE_LIMIT = 3
    settings.API_RATE_LIMIT_WINDOW = 60
    return settings


def test_a_key_over_its_budget_gets_429_problem_with_retry_after(trio, small_limit):
    for _ in range(3):
        assert trio.api.get("/contacts").status_code == 200
    refused = trio.api.get("/contacts")
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert 1 <= int(refused["Retry-After"]) <= 60
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert body["status"] == 429
    assert body["retry_after"] == int(refused["Retry-After"])


def test_one_keys_budget_does_not_spend_another_merchants(trio, small_limit):
    for _ in range(4):
        trio.api.get("/contacts")
    assert trio.api.get("/contacts").status_code == 429
    assert trio.outsider_api.get("/contacts").status_code == 200


def test_a_refused_write_writes_nothing(trio, small_limit):
    for _ in range(3):
        trio.api.get("/contacts")
    refused = trio.api.post("/contacts", {"first_name": "Lan"})
    assert refused.status_code == 429
    with scope(merchant=trio.merchant):
        assert not Contact.objects.filter(first_name="Lan").exists()


def test_requests_without_a_valid_key_are_not_counted(trio, small_limit):
    stranger = ApiClient("ptr_not-a-key")
    for _ in range(5):
        assert stranger.get("/contacts").status_code == 401
    assert not RateLimitWindow.objects.exists()


def test_the_budget_comes_back_in_the_next_window(trio):
    key = merchant_key(trio)
    start = datetime.datetime(2026, 11, 23, 9, 0, 0, tzinfo=datetime.UTC)
    for second in range(2):
        now = start + datetime.timedelta(seconds=second)
        assert ratelimit.consume(api_key_id=key.pk, limit=2, window_seconds=60, now=now).allowed
    late = start + datetime.timedelta(seconds=45)
    refused = ratelimit.consume(api_key_id=key.pk, limit=2, window_seconds=60, now=late)
    assert not refused.allowed
    assert refused.retry_after == 15
    next_window = start + datetime.timedelta(seconds=61)
    assert ratelimit.consume(api_key_id=key.pk, limit=2, window_seconds=60, now=next_window).allowed


def test_old_windows_are_pruned(trio):
    key = merchant_key(trio)
    old = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    ratelimit.consume(api_key_id=key.pk, limit=5, window_seconds=60, now=old)
    ratelimit.consume(api_key_id=key.pk, limit=5, window_seconds=60)
    assert ratelimit.windows_prune() == 1
    assert RateLimitWindow.objects.count() == 1


def consume_from_threads(
    key: ApiKey, *, limit: int, each: int, now: datetime.datetime
) -> list[bool]:
    """Four threads (each with its own connection) consume `each` times; the decisions."""
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        try:
            for _ in range(each):
                decision = ratelimit.consume(
                    api_key_id=key.pk, limit=limit, window_seconds=60, now=now
                )
                with lock:
                    allowed.append(decision.allowed)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return allowed


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_exceed_the_limit(trio):
    now = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=datetime.UTC)
    allowed = consume_from_threads(merchant_key(trio), limit=7, each=10, now=now)
    assert len(allowed) == 40
    assert allowed.count(True) == 7
    assert RateLimitWindow.objects.get().count == 7


@pytest.mark.django_db(transaction=True)
def test_processes_take_slots_in_blocks_and_never_pass_more_than_the_limit(trio):
    key = merchant_key(trio)
    now = datetime.datetime(2026, 11, 23, 11, 0, 0, tzinfo=datetime.UTC)
    assert ratelimit.block_size(1_000) == 10
    passed = 0
    # Three "processes" in turn: each forgets the slots the one before it held.
    for _ in range(3):
        ratelimit.forget_reserved()
        for _ in range(395):
            passed += ratelimit.consume(
                api_key_id=key.pk, limit=1_000, window_seconds=60, now=now
            ).allowed
    # 400 counted per process (its 395 plus 5 held unused): the third is cut at 200.
    assert RateLimitWindow.objects.get().count == 1_000
    assert passed == 395 + 395 + 200
    # One slot at a time near the limit: nothing more passes, anywhere.
    ratelimit.forget_reserved()
    assert not ratelimit.consume(api_key_id=key.pk, limit=1_000, window_seconds=60, now=now).allowed


@pytest.mark.django_db(transaction=True)
def test_threads_sharing_a_process_blocks_never_exceed_the_limit(trio):
    now = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.UTC)
    allowed = consume_from_threads(merchant_key(trio), limit=500, each=150, now=now)
    # The threads share this process's slots; the database count is the ceiling.
    assert RateLimitWindow.objects.get().count <= 500
    assert allowed.count(True) == 500
