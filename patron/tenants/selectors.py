"""Reads about tenancy: which merchants a person may reach, and API key look-up."""

import copy
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone
from django_scopes import scopes_disabled

from patron.tenants.models import ApiKey, Merchant, Role, StaffAccess, User, hash_api_key


def reachable_merchants(user: User) -> QuerySet[Merchant]:
    """Merchants the user has a role at, plus every merchant of agencies they administer."""
    return (
        Merchant.objects.filter(Q(accesses__user=user) | Q(agency__admins__user=user))
        .distinct()
        .order_by("name")
    )


def role_at(user: User, merchant: Merchant) -> str | None:
    """The user's role at the merchant; agency admins are owners. None if unreachable."""
    if merchant.agency.admins.filter(user=user).exists():
        return Role.OWNER
    access = merchant.accesses.filter(user=user).first()
    return access.role if access else None


# Active keys recently read, by hash: hash -> (read at, key). Every API request starts
# with this look-up, and the ORM spends ~2 ms building its query where a dict lookup
# costs microseconds. A key revoked here is dropped at once; other processes notice
# within API_KEY_CACHE_SECONDS (README, "Running at scale").
_key_cache: dict[str, tuple[float, ApiKey]] = {}
_KEY_CACHE_SIZE = 10_000


def api_key_for_token(raw: str) -> ApiKey | None:
    """The active key behind a bearer token, touching its last-used time now and then.

    Runs before any merchant scope exists (the key is what tells the merchant), hence
    the one deliberate use of scopes_disabled in request handling. The key and its
    merchant are the request's own copies: nothing one request sets on them reaches
    another.
    """
    if not raw.startswith(ApiKey.PREFIX):
        return None
    key_hash = hash_api_key(raw)
    cached = _key_cache.get(key_hash)
    now_monotonic = time.monotonic()
    if cached is None or now_monotonic - cached[0] >= settings.API_KEY_CACHE_SECONDS:
        key = _active_key(key_hash)
        if key is None:
            _key_cache.pop(key_hash, None)
            return None
        if settings.API_KEY_CACHE_SECONDS > 0:
            if len(_key_cache) >= _KEY_CACHE_SIZE:
                _key_cache.clear()
            _key_cache[key_hash] = (now_monotonic, key)
    else:
        key = cached[1]
    own = copy.copy(key)
    own.merchant = copy.copy(key.merchant)
    return own


def api_key_forget(key: ApiKey) -> None:
    """Drop a key from this process's cache (it was revoked)."""
    _key_cache.pop(key.key_hash, None)


def api_keys_forget_all() -> None:
    """Drop every remembered key (tests start each case without any)."""
    _key_cache.clear()


def _active_key(key_hash: str) -> ApiKey | None:
    with scopes_disabled():
        key = (
            ApiKey.objects.select_related("merchant")
            .filter(key_hash=key_hash, revoked_at__isnull=True)
            .first()
        )
        if key is None:
            return None
        now = timezone.now()
        stale = now - timedelta(seconds=settings.API_KEY_TOUCH_SECONDS)
        if key.last_used_at is None or key.last_used_at < stale:
            # A conditional UPDATE so concurrent requests do not pile up writes.
            ApiKey.objects.filter(pk=key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
            ).update(last_used_at=now)
            key.last_used_at = now
    return key


def api_keys(merchant: Merchant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(merchant=merchant).order_by("-created_at")


def staff_accesses(merchant: Merchant) -> QuerySet[StaffAccess]:
    return (
        StaffAccess.objects.filter(merchant=merchant).select_related("user").order_by("user__email")
    )
