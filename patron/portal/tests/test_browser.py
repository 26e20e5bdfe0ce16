"""The customer page in a real browser, phone-sized, and the widget on a plain web page.

Seed 000, steps 6 and 7: after staff removed Mark's other coupons, Mark checks his
rewards on the merchant's site by phone number and sees only the Birthday Coupon. Seed
004: an excluded member sees no floating widget.
"""

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_scopes import scope
from playwright.sync_api import expect

from patron.lib.actors import Actor
from patron.portal.tests.factories import configure, last_code, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_SIZE = {"width": 390, "height": 844}
MARK = "+84912345678"
STAFF = Actor.system("Demo staff")


@pytest.fixture
def site(live_server: Any) -> str:
    # Served as 127.0.0.1 (not "localhost"), the address of the merchant's test site
    # below, so the frame and the page around it are the same site, as on HTTPS with
    # SameSite=None cookies in production.
    return live_server.url.replace("localhost", "127.0.0.1")


@pytest.fixture
def phone(browser: Any, site: str) -> Iterator[Any]:
    context = browser.new_context(
        base_url=site, viewport=PHONE_SIZE, is_mobile=True, has_touch=True, locale="en-US"
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def merchant_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain static web site on another port of 127.0.0.1: the merchant's own site."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _remove_other_coupons(merchant: Any) -> None:
    """Seed 000, steps 3 to 5: staff delete Mark's Rewards and Re-invitation coupons."""
    from patron.contacts.models import Contact
    from patron.coupons import selectors as coupons
    from patron.coupons import services as coupon_services

    with scope(merchant=merchant):
        mark = Contact.objects.get(merchant=merchant, phone=MARK)
        labels = {c.label: c for c in coupons.available_coupons(merchant, mark)}
        assert {"Birthday Coupon", "Rewards Coupon", "Re-invitation Coupon"} <= set(labels)
        for label in ("Rewards Coupon", "Re-invitation Coupon"):
            coupon_services.coupon_delete(
                merchant=merchant,
                coupon=labels[label],
                actor=STAFF,
                reason="Customer asked",
                refund_points=False,
            )


def _sign_in(where: Any, merchant: Any, typed: str, e164: str) -> None:
    where.get_by_label("Phone number").fill(typed)
    where.get_by_role("button", name="Send me a code").click()
    expect(where.get_by_text("If this number is in our program, we texted a code.")).to_be_visible()
    code = last_code(merchant, e164)
    assert code, "no code in the outbox"
    where.get_by_label("Code").fill(code)
    where.get_by_role("button", name="Confirm").click()


def test_mark_checks_his_rewards_on_his_phone_and_claims_one(demo: Any, phone: Any) -> None:
    merchant = demo.merchant
    _remove_other_coupons(merchant)

    phone.goto(f"/p/{merchant.slug}/")
    _sign_in(phone, merchant, "0912.345.678", MARK)

    coupons = phone.get_by_role("region", name="Your coupons")
    expect(coupons.get_by_text("Birthday Coupon")).to_be_visible()
    expect(coupons.get_by_text("Rewards Coupon")).to_have_count(0)
    expect(coupons.get_by_text("Re-invitation Coupon")).to_have_count(0)
    codes_before = set(coupons.locator("code").all_inner_texts())
    points_before = int(re.sub(r"\D", "", phone.get_by_test_id("points-available").inner_text()))

    rewards = phone.get_by_role("region", name="Rewards you can claim")
    first = rewards.get_by_role("listitem").first
    cost = int(re.sub(r"\D", "", first.locator(".cost").inner_text()))
    first.get_by_role("button", name="Claim Reward").click()

    expect(phone.get_by_role("status").filter(has_text="Your new code is")).to_be_visible()
    points_after = int(re.sub(r"\D", "", phone.get_by_test_id("points-available").inner_text()))
    assert points_after == points_before - cost
    codes_after = set(
        phone.get_by_role("region", name="Your coupons").locator("code").all_inner_texts()
    )
    new_codes = codes_after - codes_before
    assert len(new_codes) == 1
    assert phone.get_by_role("status").filter(has_text=new_codes.pop()).count() == 1


def test_excluded_members_number_shows_nothing_of_the_program(demo: Any, phone: Any) -> None:
    merchant = demo.merchant
    make_member(merchant, "0977 111 222", status="excluded", first_name="Khoa")

    phone.goto(f"/p/{merchant.slug}/")
    _sign_in(phone, merchant, "097 7111 222", "+84977111222")

    expect(phone.get_by_text("There is nothing to show for this number.")).to_be_visible()
    body = phone.locator("main").inner_text()
    for word in ("point", "Coupon", "Claim Reward", "tier"):
        assert word.lower() not in body.lower()


def _write_page(folder: Path, site: str, slug: str) -> None:
    snippet = f'<script src="{site}/p/{slug}/widget.js" async></script>'
    (folder / "index.html").write_text(
        "<!doctype html><html><head><title>Shop</title></head>"
        f"<body><h1>Our shop</h1><p>Welcome.</p>{snippet}</body></html>"
    )


def test_widget_pasted_into_a_plain_page_opens_the_customer_page(
    demo: Any, browser: Any, site: str, merchant_site: tuple[Path, str]
) -> None:
    folder, origin = merchant_site
    merchant = demo.merchant
    configure(merchant, site_origins=origin, primary_color="#aa3300")
    make_member(merchant, "0966 555 444", first_name="Hoa")
    _write_page(folder, site, merchant.slug)
    context = browser.new_context(viewport=PHONE_SIZE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    shop = context.new_page()

    shop.goto(origin + "/index.html")
    button = shop.get_by_role("button", name="Rewards")
    expect(button).to_be_visible()
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(170, 51, 0)"
    button.click()
    frame = shop.frame_locator("iframe[title=Rewards]")
    _sign_in(frame, merchant, "0966 555 444", "+84966555444")

    expect(frame.get_by_role("heading", name="Your points")).to_be_visible()
    context.close()


def test_widget_hides_itself_for_an_excluded_member(
    demo: Any, browser: Any, site: str, merchant_site: tuple[Path, str]
) -> None:
    folder, origin = merchant_site
    merchant = demo.merchant
    configure(merchant, site_origins=origin)
    make_member(merchant, "0977 111 222", status="excluded", first_name="Khoa")
    _write_page(folder, site, merchant.slug)
    context = browser.new_context(viewport=PHONE_SIZE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    shop = context.new_page()

    shop.goto(origin + "/index.html")
    shop.get_by_role("button", name="Rewards").click()
    _sign_in(shop.frame_locator("iframe[title=Rewards]"), merchant, "0977111222", "+84977111222")

    expect(shop.get_by_role("button", name="Rewards")).to_have_count(0)
    expect(shop.locator("iframe")).to_have_count(0)
    # On the next visit the script adds nothing at all.
    shop.reload()
    expect(shop.get_by_role("heading", name="Our shop")).to_be_visible()
    shop.wait_for_load_state("networkidle")
    expect(shop.get_by_role("button", name="Rewards")).to_have_count(0)
    context.close()


def test_page_is_not_framed_by_a_site_the_merchant_did_not_list(
    demo: Any, browser: Any, site: str, merchant_site: tuple[Path, str]
) -> None:
    folder, origin = merchant_site
    merchant = demo.merchant
    configure(merchant, site_origins="https://shop.example.com")
    _write_page(folder, site, merchant.slug)
    context = browser.new_context(viewport=PHONE_SIZE)
    shop = context.new_page()

    shop.goto(origin + "/index.html")
    shop.get_by_role("button", name="Rewards").click()

    frame = shop.frame_locator("iframe[title=Rewards]")
    expect(frame.get_by_label("Phone number")).to_have_count(0, timeout=3000)
    context.close()
