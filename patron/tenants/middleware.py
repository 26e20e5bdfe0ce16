"""Resolve the merchant of a request and run the rest of it inside that tenant scope.

API requests name their merchant by bearer key; staff requests by the merchant chosen in
the session among those the user may reach. Public customer pages scope themselves by
the slug in their URL. Everything downstream reads `request.merchant`.
"""

from collections.abc import Callable
from typing import cast

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_scopes import scope

from patron.lib.actors import Actor
from patron.tenants import selectors
from patron.tenants.http import TenantRequest
from patron.tenants.models import User

SESSION_MERCHANT = "merchant_id"
API_PREFIX = "/api/"


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, http_request: HttpRequest) -> HttpResponse:
        request = cast(TenantRequest, http_request)
        request.merchant = None
        request.api_key = None
        request.actor = None
        request.staff_role = None
        request.reachable_merchants = []

        if request.path.startswith(API_PREFIX):
            self._resolve_api_key(request)
        elif request.user.is_authenticated:
            self._resolve_staff(request)

        merchant = request.merchant
        if merchant is None:
            return self.get_response(request)
        # Dates and times on the merchant's pages are the shop's local ones.
        with scope(merchant=merchant), timezone.override(merchant.zone):
            return self.get_response(request)

    def _resolve_api_key(self, request: TenantRequest) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return
        key = selectors.api_key_for_token(token.strip())
        if key is None:
            return
        request.api_key = key
        request.merchant = key.merchant
        request.actor = Actor.api_key(key)

    def _resolve_staff(self, request: TenantRequest) -> None:
        user = cast(User, request.user)
        merchants = list(selectors.reachable_merchants(user))
        request.reachable_merchants = merchants
        if not merchants:
            return
        wanted = request.session.get(SESSION_MERCHANT)
        merchant = next((m for m in merchants if m.pk == wanted), merchants[0])
        request.merchant = merchant
        request.staff_role = selectors.role_at(user, merchant)
        request.actor = Actor.staff(user)
