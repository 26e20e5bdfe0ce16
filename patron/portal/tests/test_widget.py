"""The widget script, who may frame the page, and Settings → Customer page."""

import pytest

from patron.factories import StaffAccessFactory, UserFactory
from patron.portal.tests.factories import Customer, configure, make_member
from patron.tenants.models import Role

pytestmark = pytest.mark.django_db


def test_widget_script_opens_the_page_in_the_merchants_colour(trio):
    configure(trio.merchant, primary_color="#aa3300")

    script = Customer("alpha").client.get("/p/alpha/widget.js")

    assert script.status_code == 200
    assert script["Content-Type"].startswith("text/javascript")
    body = script.content.decode()
    assert "#aa3300" in body
    assert "http://testserver/p/alpha/" in body
    assert "patron:hide-widget" in body


def test_widget_adds_nothing_for_a_signed_in_excluded_member(trio):
    make_member(trio.merchant, "0912 345 678", status="excluded")
    customer = Customer("alpha")
    customer.sign_in(trio.merchant, "0912 345 678", "+84912345678")

    body = customer.client.get("/p/alpha/widget.js").content.decode()

    assert "return;" in body.split("var PAGE")[0]


def test_page_may_be_framed_only_by_the_merchants_own_sites(trio):
    configure(trio.merchant, site_origins="https://shop.alpha.example\nhttp://127.0.0.1:8123")

    page = Customer("alpha").open()

    assert "X-Frame-Options" not in page
    policy = page["Content-Security-Policy"]
    ancestors = next(p for p in policy.split(";") if "frame-ancestors" in p)
    assert ancestors.split() == [
        "frame-ancestors",
        "'self'",
        "https://shop.alpha.example",
        "http://127.0.0.1:8123",
    ]


def test_another_merchants_sites_may_not_frame_the_page(trio):
    configure(trio.other_merchant, site_origins="https://shop.beta.example")

    policy = Customer("alpha").open()["Content-Security-Policy"]

    assert "shop.beta.example" not in policy


def test_staff_app_stays_unframeable(trio):
    page = trio.login(trio.alice).get("/contacts/")

    assert page["X-Frame-Options"] == "DENY"


def test_site_origins_must_be_origins(trio):
    owner = trio.login(trio.alice)

    answer = owner.post(
        "/settings/customer-page/",
        _settings_form(site_origins="https://shop.example.com/path"),
    )

    assert answer.status_code == 422


def _settings_form(**overrides):
    form = {
        "logo_url": "",
        "primary_color": "#2563eb",
        "accent_color": "#2563eb",
        "site_origins": "",
        "code_ttl_minutes": "10",
        "max_attempts": "5",
        "sends_per_phone_per_hour": "3",
        "sends_per_address_per_hour": "10",
        "session_minutes": "30",
    }
    form.update(overrides)
    return form


def test_owner_sees_the_widget_snippet_and_saves_settings(trio):
    owner = trio.login(trio.alice)

    page = owner.get("/settings/customer-page/").content.decode()
    saved = owner.post(
        "/settings/customer-page/",
        _settings_form(allow_self_join="on", site_origins="https://shop.alpha.example"),
    )

    assert "&lt;script src=&quot;http://testserver/p/alpha/widget.js&quot; async&gt;" in page
    assert saved.status_code == 302
    from django_scopes import scope

    from patron.portal.selectors import settings_for

    with scope(merchant=trio.merchant):
        settings = settings_for(trio.merchant)
    assert settings.allow_self_join
    assert settings.origins == ["https://shop.alpha.example"]


def test_settings_outside_the_safe_bounds_are_refused(trio):
    answer = trio.login(trio.alice).post(
        "/settings/customer-page/", _settings_form(max_attempts="1000")
    )

    assert answer.status_code == 422


def test_manager_may_open_customer_page_settings(trio):
    manager = UserFactory()
    StaffAccessFactory(user=manager, merchant=trio.merchant, role=Role.MANAGER)

    assert trio.login(manager).get("/settings/customer-page/").status_code == 200


def test_staff_role_may_not_open_customer_page_settings(trio):
    assert trio.login(trio.bob).get("/settings/customer-page/").status_code == 403


def test_outsider_sees_only_their_own_merchants_snippet(trio):
    page = trio.login(trio.charlie).get("/settings/customer-page/").content.decode()

    assert "/p/beta/widget.js" in page
    assert "/p/alpha/" not in page
