"""Real threads, real transactions: the usage limit holds whatever runs at once.

On PostgreSQL the threads really race on the row; on SQLite writers queue on the
database lock. The rule must hold on both, so the same tests run on both.
"""

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django_scopes import scope, scopes_disabled

from patron.coupons import services
from patron.coupons.models import Coupon, CouponEvent
from patron.coupons.tests.factories import ACTOR, issue_coupon
from patron.lib.errors import PatronError

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


def race(count: int, work: Callable[[int], Any]) -> Counter[str]:
    """Run `work(i)` in `count` threads released at the same moment; tally outcomes."""
    barrier = threading.Barrier(count)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
            outcome = "ok"
        except PatronError as exc:
            outcome = exc.code
        except Exception as exc:  # a database error is a finding to report, not a crash
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def fresh(coupon: Coupon) -> Coupon:
    with scopes_disabled():
        return Coupon.objects.get(pk=coupon.pk)


def test_fifty_simultaneous_uses_of_a_single_use_code_give_exactly_one_use(trio):
    merchant = trio.merchant
    coupon = issue_coupon(merchant)

    def use(index: int) -> None:
        with scope(merchant=merchant):
            services.coupon_redeem(
                merchant=merchant, coupon=coupon, actor=ACTOR, order_reference=f"#{index}"
            )

    outcomes = race(THREADS, use)
    assert outcomes == {"ok": 1, "coupon_usage_limit_reached": THREADS - 1}
    coupon = fresh(coupon)
    assert (coupon.status, coupon.usage_count) == ("used", 1)
    with scopes_disabled():
        assert CouponEvent.objects.filter(coupon=coupon, type="used").count() == 1


def test_simultaneous_uses_of_a_five_use_code_stop_at_five(trio):
    merchant = trio.merchant
    coupon = issue_coupon(merchant, usage_limit=5)

    def use(index: int) -> None:
        with scope(merchant=merchant):
            services.coupon_redeem(
                merchant=merchant, coupon=coupon, actor=ACTOR, order_reference=f"#{index}"
            )

    outcomes = race(20, use)
    assert outcomes == {"ok": 5, "coupon_usage_limit_reached": 15}
    assert (fresh(coupon).status, fresh(coupon).usage_count) == ("used", 5)


def test_simultaneous_retries_with_one_idempotency_key_use_the_code_once(trio):
    merchant = trio.merchant
    coupon = issue_coupon(merchant, usage_limit=10)

    def use(index: int) -> None:
        with scope(merchant=merchant):
            services.coupon_redeem(
                merchant=merchant,
                coupon=coupon,
                actor=ACTOR,
                order_reference="#1",
                idempotency_key="checkout-1",
            )

    outcomes = race(10, use)
    assert outcomes == {"ok": 10}
    assert fresh(coupon).usage_count == 1


def test_simultaneous_api_redeems_of_a_single_use_code_give_one_success(trio):
    coupon = issue_coupon(trio.merchant)
    answers: Counter[int] = Counter()

    def use(index: int) -> None:
        answer = trio.api.post(f"/coupons/{coupon.pk}/redeem", {"order_reference": f"#{index}"})
        answers[answer.status_code] += 1

    race(20, use)
    assert answers == {200: 1, 409: 19}
    assert fresh(coupon).usage_count == 1
