"""Reads of the customer page: the merchant behind a slug, its settings, what a member sees.

Everything a signed-in customer sees is read for their own member only: the views pass
the member from the customer's session, never an id from the request.
"""

import copy
import datetime
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import connection
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scope

from patron.coupons.models import Coupon, CouponStatus
from patron.loyalty import selectors as loyalty
from patron.loyalty.models import LedgerEntry, LoyaltyProgram, Member, PointCategory, Tier
from patron.portal.models import PortalSettings
from patron.rewards import selectors as reward_selectors
from patron.rewards.models import Reward
from patron.tenants.models import Merchant

HISTORY_LENGTH = 10


def merchant_for_slug(slug: str) -> Merchant:
    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        raise Http404("No such page")
    return merchant


def settings_for(merchant: Merchant) -> PortalSettings:
    """The merchant's settings, or the defaults (unsaved) when never changed."""
    found = PortalSettings.objects.filter(merchant=merchant).first()
    return found or PortalSettings(merchant=merchant)


@dataclass(frozen=True)
class PageSetup:
    """What every customer page of a merchant reads and staff rarely change."""

    merchant: Merchant
    settings: PortalSettings
    program: LoyaltyProgram
    tiers: tuple[Tier, ...]
    # The active rewards in catalog order; which are on offer is decided per request.
    rewards: tuple[Reward, ...]


# Per process: merchant id -> (version, what page_setup read). Entries are shared by the
# threads of the process, so they are never changed, only replaced.
_setups: dict[int, tuple[str, PageSetup]] = {}


def _version_sql() -> str:
    """SQL giving the version of a merchant's settings, program, tiers and rewards
    (PostgreSQL).

    `xmin` is the transaction that wrote a row's current version and `ctid` where that
    version lies; a new version gets a new place, even in the same transaction. So any
    update, insert or delete of one of these rows, whatever code path made it (a claim
    taking one from a reward's stock too), changes the text, and a cached copy is used
    only while it is what the database holds.
    """
    merchant = Merchant._meta.db_table
    row = "id || ':' || xmin::text || ctid::text"

    def rows(table: str) -> str:
        return (
            f"coalesce((SELECT string_agg({row}, ',' ORDER BY id) "  # noqa: S608
            f"FROM {table} WHERE merchant_id = {merchant}.id), '-')"
        )

    tables = [PortalSettings, LoyaltyProgram, Tier, Reward]
    return "md5(" + " || '/' || ".join(rows(model._meta.db_table) for model in tables) + ")"


@functools.cache
def _setup_sql(vendor: str) -> str:
    """The merchant of a slug with the version of its setup (none but on PostgreSQL),
    written as SQL for the same reason as _MEMBER_SQL: every customer page reads it."""
    version = _version_sql() if vendor == "postgresql" else "NULL"
    table = Merchant._meta.db_table
    return f"SELECT *, {version} AS setup_version FROM {table} WHERE slug = %s"  # noqa: S608


def page_setup(slug: str) -> PageSetup:
    """The merchant behind a customer page's slug, with its page settings, program, tiers
    and rewards: one query when nothing changed since this process last read them (on
    PostgreSQL), five otherwise."""
    merchant = next(iter(Merchant.objects.raw(_setup_sql(connection.vendor), [slug])), None)
    if merchant is None:
        raise Http404("No such page")
    version: str | None = merchant.setup_version  # type: ignore[attr-defined]
    cached = _setups.get(merchant.pk)
    if version is not None and cached is not None and cached[0] == version:
        setup = cached[1]
    else:
        with scope(merchant=merchant):
            setup = PageSetup(
                merchant=merchant,
                settings=settings_for(merchant),
                program=loyalty.program(merchant),
                tiers=tuple(loyalty.tiers(merchant)),
                rewards=tuple(reward_selectors.rewards(merchant).filter(is_active=True)),
            )
        if version is not None:
            _setups[merchant.pk] = (version, setup)
    # Copies tied to this request's merchant row, so the shared ones stay untouched.
    settings, program = copy.copy(setup.settings), copy.copy(setup.program)
    settings.merchant = program.merchant = merchant
    return replace(setup, merchant=merchant, settings=settings, program=program)


@dataclass
class TierProgress:
    current: Tier | None
    next: Tier | None
    points_to_next: int = 0
    percent: int = 100


@dataclass(frozen=True)
class HistoryLine:
    amount: int
    text: str
    at: datetime.datetime


@dataclass(frozen=True)
class CouponLine:
    label: str
    code: str
    expires_at: datetime.datetime | None


@dataclass
class Account:
    member: Member
    tier: TierProgress
    coupons: list[CouponLine] = field(default_factory=list)
    rewards: list[Reward] = field(default_factory=list)
    history: list[HistoryLine] = field(default_factory=list)


# loyalty.selectors.members' filter and order for one phone, written once as SQL: the
# ORM spent twice as long building this query as the database spends answering it.
_MEMBER_SQL = f"""
    SELECT * FROM {Member._meta.db_table}
    WHERE merchant_id = %s AND phone = %s AND deleted_at IS NULL
    ORDER BY id DESC
    LIMIT 1
"""  # noqa: S608 -- only the table name is formatted in


def member_for_session(
    merchant: Merchant, phone: str, member_id: int | None, tiers: Iterable[Tier] | None = None
) -> Member | None:
    """The member a signed-in customer may see: the one for their confirmed phone.

    Its tier is taken from `tiers` (the merchant's, when the caller has them) or read
    when first used; its contact is never read, as the page shows none of its fields.
    """
    member = next(iter(Member.objects.raw(_MEMBER_SQL, [merchant.pk, phone])), None)
    if member is None or (member_id is not None and member.pk != member_id):
        # The number changed hands or the member was replaced since sign-in: show
        # nothing rather than another member's points.
        return None
    if tiers is not None and member.tier_id is not None:
        tier = next((t for t in tiers if t.pk == member.tier_id), None)
        if tier is not None:
            member.tier = tier
    return member


def tier_progress(
    merchant: Merchant,
    member: Member,
    program: LoyaltyProgram | None = None,
    tiers: Iterable[Tier] | None = None,
) -> TierProgress:
    # The program decides what counts towards a tier (lifetime points, or points or
    # spend in a window); progress is measured the same way.
    reached = loyalty.tier_qualifying_value(merchant, member, settings=program)
    if tiers is None:
        tiers = loyalty.tiers(merchant)
    following = next((t for t in tiers if t.threshold > reached), None)
    if following is None:
        return TierProgress(current=member.tier, next=None)
    floor = member.tier.threshold if member.tier is not None else 0
    span = max(following.threshold - floor, 1)
    percent = max(0, min(100, round(100 * (reached - floor) / span)))
    return TierProgress(
        current=member.tier,
        next=following,
        points_to_next=following.threshold - reached,
        percent=percent,
    )


# The customer page is the busiest page a customer opens, and its two lists are fixed
# reads of one member's rows, so they are written once as SQL: the ORM spent about half
# a millisecond building each, three times what the database spends answering it. Only
# table names are formatted in; every value is a parameter.
_COUPONS_SQL = f"""
    SELECT label, code, expires_at FROM {Coupon._meta.db_table}
    WHERE merchant_id = %s AND contact_id = %s AND status = %s
    ORDER BY created_at DESC, id DESC
"""  # noqa: S608 -- the order and filter of coupons.selectors.available_coupons
_HISTORY_SQL = f"""
    SELECT e.amount, e.kind, e.source, c.name, e.created_at
    FROM {LedgerEntry._meta.db_table} e
    LEFT JOIN {PointCategory._meta.db_table} c ON c.id = e.category_id
    WHERE e.merchant_id = %s AND e.member_id = %s
    ORDER BY e.id DESC
    LIMIT %s
"""  # noqa: S608 -- the order of loyalty.selectors.ledger


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _aware(moment: datetime.datetime) -> datetime.datetime:
    # SQLite hands a raw cursor the stored UTC time without its zone; the ORM adds it.
    return moment.replace(tzinfo=datetime.UTC) if timezone.is_naive(moment) else moment


def account(merchant: Merchant, member: Member, setup: PageSetup | None = None) -> Account:
    coupons = [
        CouponLine(label=label, code=code, expires_at=_aware(expires_at) if expires_at else None)
        for label, code, expires_at in _rows(
            _COUPONS_SQL, [merchant.pk, member.contact_id, CouponStatus.AVAILABLE.value]
        )
    ]
    history = [
        _history_line(amount, kind, source, category, _aware(at))
        for amount, kind, source, category, at in _rows(
            _HISTORY_SQL, [merchant.pk, member.pk, HISTORY_LENGTH]
        )
    ]
    if setup is not None:
        tier = tier_progress(merchant, member, setup.program, setup.tiers)
        rewards = reward_selectors.redeemable_rewards(merchant, member, setup.rewards)
    else:
        tier = tier_progress(merchant, member)
        rewards = reward_selectors.redeemable_rewards(merchant, member)
    return Account(member=member, tier=tier, coupons=coupons, rewards=rewards, history=history)


def _history_line(
    amount: int, kind: str, source: str, category: str | None, at: datetime.datetime
) -> HistoryLine:
    # Never the staff's free-text reason: it is written for colleagues, not customers.
    kinds = {
        "earn": _("Points earned"),
        "redeem": _("Points spent"),
        "adjust": _("Points adjusted"),
        "expire": _("Points expired"),
        "reverse": _("Points reversed"),
        "transfer": _("Points moved"),
    }
    if source == "reward":
        text = _("Reward claimed")
    elif category is not None:
        text = category
    else:
        text = kinds.get(kind, kind)
    return HistoryLine(amount=amount, text=text, at=at)
