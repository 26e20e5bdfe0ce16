"""Reads of the customer page: the merchant behind a slug, its settings, what a member sees.

Everything a signed-in customer sees is read for their own member only: the views pass
the member from the customer's session, never an id from the request.
"""

import copy
import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scope

from patron.coupons.models import Coupon, CouponStatus
from patron.loyalty import selectors as loyalty
from patron.loyalty.models import LedgerEntry, LoyaltyProgram, Member, PointCategory, Tier
from patron.portal.models import PortalSettings
from patron.rewards.models import Reward
from patron.rewards.selectors import redeemable_rewards
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


# Per process: merchant id -> (version, settings, program, tiers). Entries are shared by
# the threads of the process, so they are never changed, only replaced.
_setups: dict[int, tuple[str, PortalSettings, LoyaltyProgram, tuple[Tier, ...]]] = {}


def _version_sql() -> str:
    """SQL giving the version of a merchant's settings, program and tiers (PostgreSQL).

    `xmin` is the transaction that wrote a row's current version and `ctid` where that
    version lies; a new version gets a new place, even in the same transaction. So any
    update, insert or delete of one of these rows, whatever code path made it, changes
    the text, and a cached copy is used only while it is what the database holds.
    """
    merchant = Merchant._meta.db_table
    row = "id || ':' || xmin::text || ctid::text"

    def one(table: str) -> str:
        return f"coalesce((SELECT {row} FROM {table} WHERE merchant_id = {merchant}.id), '-')"  # noqa: S608

    tiers = (
        f"coalesce((SELECT string_agg({row}, ',' ORDER BY id) "  # noqa: S608
        f"FROM {Tier._meta.db_table} WHERE merchant_id = {merchant}.id), '-')"
    )
    parts = [one(PortalSettings._meta.db_table), one(LoyaltyProgram._meta.db_table), tiers]
    return " || '/' || ".join(parts)


def page_setup(slug: str) -> PageSetup:
    """The merchant behind a customer page's slug, with its page settings, program and
    tiers: one query when nothing changed since this process last read them (on
    PostgreSQL), four otherwise."""
    found = Merchant.objects.filter(slug=slug)
    if connection.vendor == "postgresql":
        found = found.annotate(setup_version=RawSQL(_version_sql(), ()))  # noqa: S611
    merchant = found.first()
    if merchant is None:
        raise Http404("No such page")
    version = getattr(merchant, "setup_version", None)
    cached = _setups.get(merchant.pk)
    if version is not None and cached is not None and cached[0] == version:
        _, settings, program, tiers = cached
    else:
        with scope(merchant=merchant):
            settings = settings_for(merchant)
            program = loyalty.program(merchant)
            tiers = tuple(loyalty.tiers(merchant))
        if version is not None:
            _setups[merchant.pk] = (version, settings, program, tiers)
    # Copies tied to this request's merchant row, so the shared ones stay untouched.
    settings, program = copy.copy(settings), copy.copy(program)
    settings.merchant = program.merchant = merchant
    return PageSetup(merchant=merchant, settings=settings, program=program, tiers=tiers)


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


def member_for_session(merchant: Merchant, phone: str, member_id: int | None) -> Member | None:
    """The member a signed-in customer may see: the one for their confirmed phone."""

    # With its tier, without its contact: the page shows none of the contact's fields,
    # and reading them (the phone number above all) costs more than the query.
    member = (
        loyalty.members(merchant)
        .select_related(None)
        .select_related("tier")
        .filter(phone=phone)
        .first()
    )
    if member is None or (member_id is not None and member.pk != member_id):
        # The number changed hands or the member was replaced since sign-in: show
        # nothing rather than another member's points.
        return None
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
    else:
        tier = tier_progress(merchant, member)
    return Account(
        member=member,
        tier=tier,
        coupons=coupons,
        rewards=list(redeemable_rewards(merchant, member)),
        history=history,
    )


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
