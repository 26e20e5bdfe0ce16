"""The attributes TenantMiddleware puts on every request, for type checkers and readers."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from patron.lib.actors import Actor
from patron.tenants.models import ApiKey, Merchant, User


class TenantRequest(HttpRequest):
    merchant: Merchant | None
    api_key: ApiKey | None
    actor: Actor | None
    staff_role: str | None
    reachable_merchants: list[Merchant]


class StaffRequest(HttpRequest):
    """A request that passed `staff_required`: a logged-in user at a merchant."""

    user: User
    merchant: Merchant
    actor: Actor
    staff_role: str
    reachable_merchants: list[Merchant]
    htmx: HtmxDetails
