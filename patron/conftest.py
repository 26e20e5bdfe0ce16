"""Fixtures every app's tests share: the owner / teammate / outsider trio.

Alice owns merchant A, Bob works at A with the staff role, Charlie owns merchant B. Every
test of a tenant rule has Charlie try the same thing and fail.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django_scopes import scope

from patron.audit import ratelimit
from patron.factories import MerchantFactory, StaffAccessFactory, UserFactory, make_api_key
from patron.lib.actors import Actor
from patron.tenants import selectors as tenant_selectors
from patron.tenants.models import Merchant, Role, User


class ApiClient:
    """A test client speaking JSON with a bearer key."""

    def __init__(self, key: str | None):
        self.client = Client()
        self.key = key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        merged = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        merged.update(headers or {})
        return merged

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1" + path, params, headers=self._headers(None))

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            "/api/v1" + path,
            body or {},
            content_type="application/json",
            headers=self._headers(headers),
        )

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(
            "/api/v1" + path, body, content_type="application/json", headers=self._headers(None)
        )

    def delete(self, path: str, body: Any = None) -> Any:
        return self.client.delete(
            "/api/v1" + path, body, content_type="application/json", headers=self._headers(None)
        )


@dataclass
class Trio:
    merchant: Merchant
    other_merchant: Merchant
    alice: User  # owner of merchant
    bob: User  # staff role at merchant
    charlie: User  # owner of other_merchant
    api: ApiClient  # merchant's key
    outsider_api: ApiClient  # other_merchant's key

    @property
    def actor(self) -> Actor:
        return Actor.staff(self.alice)

    def login(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture(autouse=True)
def _forget_process_caches() -> Iterator[None]:
    """Each test starts with no API key or rate-limit slot left from another test."""
    tenant_selectors.api_keys_forget_all()
    ratelimit.forget_reserved()
    yield
    tenant_selectors.api_keys_forget_all()
    ratelimit.forget_reserved()


@pytest.fixture
def trio(db: None) -> Trio:
    merchant = MerchantFactory(slug="alpha", name="Alpha Café")
    other = MerchantFactory(slug="beta", name="Beta Shop")
    alice = UserFactory(email="alice@example.com")
    bob = UserFactory(email="bob@example.com")
    charlie = UserFactory(email="charlie@example.com")
    StaffAccessFactory(user=alice, merchant=merchant, role=Role.OWNER)
    StaffAccessFactory(user=bob, merchant=merchant, role=Role.STAFF)
    StaffAccessFactory(user=charlie, merchant=other, role=Role.OWNER)
    return Trio(
        merchant=merchant,
        other_merchant=other,
        alice=alice,
        bob=bob,
        charlie=charlie,
        api=ApiClient(make_api_key(merchant)),
        outsider_api=ApiClient(make_api_key(other)),
    )


@pytest.fixture
def in_merchant(trio: Trio) -> Iterator[Merchant]:
    """Run the test body inside merchant A's scope, as services in a request do."""
    with scope(merchant=trio.merchant):
        yield trio.merchant


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (no browser download needed)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are still synchronous, which Django would otherwise refuse.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def demo(transactional_db: None) -> Any:
    """The demo merchant, as `patron demo` builds it."""
    from patron import demo as demo_module

    return demo_module.build_demo()
