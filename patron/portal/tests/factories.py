"""Members and page settings for the customer page's tests, made through the services."""

import re
from typing import Any

from django.test import Client
from django_scopes import scope

from patron.contacts import services as contact_services
from patron.lib.actors import Actor
from patron.messaging import selectors as messaging
from patron.portal import services
from patron.portal.models import PortalSettings
from patron.tenants.models import Merchant

ACTOR = Actor.system("Tests")
CODE = re.compile(r"\b(\d{6})\b")
TOKEN = re.compile(r'name="token" value="([0-9a-f]+)"')


def make_member(
    merchant: Merchant, phone: str, status: str = "active", first_name: str = "Mark"
) -> Any:
    """A contact with a phone and its membership in the given state."""
    from patron.loyalty import services as loyalty

    with scope(merchant=merchant):
        contact = contact_services.contact_create(
            merchant=merchant, actor=ACTOR, first_name=first_name, phone=phone
        )
        member = loyalty.member_ensure(merchant=merchant, contact=contact, actor=ACTOR)
        if status in {"active", "excluded"}:
            member = loyalty.member_activate(merchant=merchant, member=member, actor=ACTOR)
        if status == "excluded":
            member = loyalty.member_exclude(
                merchant=merchant, member=member, actor=ACTOR, reason="Abused the program"
            )
        return member


def configure(merchant: Merchant, **values: Any) -> PortalSettings:
    with scope(merchant=merchant):
        return services.portal_settings_update(merchant=merchant, actor=ACTOR, **values)


def last_code(merchant: Merchant, phone_e164: str) -> str | None:
    """The code in the newest SMS to this number in the merchant's outbox."""
    with scope(merchant=merchant):
        message = messaging.outbox(merchant).filter(to=phone_e164).order_by("-pk").first()
    if message is None:
        return None
    found = CODE.search(message.body)
    return found.group(1) if found else None


def sent_count(merchant: Merchant, phone_e164: str) -> int:
    with scope(merchant=merchant):
        return messaging.outbox(merchant).filter(to=phone_e164).count()


class Customer:
    """One browser on one merchant's customer page, with JavaScript off."""

    def __init__(self, slug: str, address: str = "203.0.113.7"):
        self.slug = slug
        self.client = Client(REMOTE_ADDR=address)
        self.token = ""

    def url(self, tail: str = "") -> str:
        return f"/p/{self.slug}/{tail}"

    def open(self, tail: str = "", **params: str) -> Any:
        response = self.client.get(self.url(tail), params)
        found = TOKEN.search(response.content.decode()) if response.status_code == 200 else None
        if found:
            self.token = found.group(1)
        return response

    def post(self, tail: str, **data: str) -> Any:
        if not self.token:
            self.open()
        response = self.client.post(self.url(tail), {"token": self.token, **data})
        found = TOKEN.search(response.content.decode())
        if found:
            self.token = found.group(1)
        return response

    def ask_code(self, phone: str) -> Any:
        return self.post("code/request/", phone=phone)

    def enter_code(self, code: str) -> Any:
        return self.post("code/", code=code)

    def sign_in(self, merchant: Merchant, phone: str, phone_e164: str) -> Any:
        self.ask_code(phone)
        code = last_code(merchant, phone_e164)
        assert code, "no code was sent"
        response = self.enter_code(code)
        assert response.status_code == 302, response.content.decode()[:500]
        return self.open()


def give_points(merchant: Merchant, member: Any, amount: int, reason: str = "Purchase") -> Any:
    from patron.loyalty import services as loyalty

    with scope(merchant=merchant):
        return loyalty.points_give(
            merchant=merchant, member=member, amount=amount, actor=ACTOR, reason=reason
        )


def make_reward(merchant: Merchant, name: str, points_cost: int, **terms: Any) -> Any:
    from patron.rewards import services as rewards

    terms.setdefault("kind", "fixed_amount")
    terms.setdefault("value", 50000)
    with scope(merchant=merchant):
        return rewards.reward_create(
            merchant=merchant, actor=ACTOR, name=name, points_cost=points_cost, **terms
        )
