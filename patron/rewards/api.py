"""The rewards catalog, redeemable rewards and redemptions in the public API."""

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from pydantic import model_validator

from patron.api.core import tenant
from patron.api.pagination import paginate
from patron.api.schemas import ERRORS
from patron.lib.sql import row_id
from patron.loyalty.api import MemberOut, PointsOut, idempotency_key, member_or_404
from patron.loyalty.selectors import member_points
from patron.rewards import selectors, services
from patron.rewards.models import Redemption, Reward
from patron.rewards.services import RewardNotFound

router = Router(tags=["rewards"])


class RewardIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    kind: Literal["percentage", "fixed_amount", "free_shipping", "free_product", "custom"]
    points_cost: int = Field(..., ge=1, le=100_000_000)
    value: Decimal = Field(Decimal(0), ge=0, max_digits=14, decimal_places=2)
    description: str = Field("", max_length=5000)
    coupon_label: str = Field("", max_length=100)
    coupon_prefix: str = Field("", max_length=12)
    coupon_valid_days: int | None = Field(None, ge=1, le=3650)
    minimum_order: Decimal | None = Field(None, ge=0, max_digits=14, decimal_places=2)
    product_ids: list[str] = Field(default_factory=list, max_length=100)
    starts_at: datetime.datetime | None = None
    ends_at: datetime.datetime | None = None
    stock: int | None = Field(None, ge=0, le=100_000_000)
    is_active: bool = True


class RewardOut(Schema):
    id: str
    name: str
    description: str
    kind: str
    value: Decimal
    points_cost: int
    coupon_label: str
    coupon_valid_days: int | None
    minimum_order: Decimal | None
    starts_at: datetime.datetime | None
    ends_at: datetime.datetime | None
    stock: int | None
    is_active: bool

    @staticmethod
    def from_reward(reward: Reward) -> "RewardOut":
        return RewardOut(
            id=str(reward.pk),
            name=reward.name,
            description=reward.description,
            kind=reward.kind,
            value=reward.value,
            points_cost=reward.points_cost,
            coupon_label=reward.coupon_label,
            coupon_valid_days=reward.coupon_valid_days,
            minimum_order=reward.minimum_order,
            starts_at=reward.starts_at,
            ends_at=reward.ends_at,
            stock=reward.stock,
            is_active=reward.is_active,
        )


class RewardPage(Schema):
    items: list[RewardOut]
    next_cursor: str | None


class RedeemableOut(Schema):
    member: MemberOut
    items: list[RewardOut]
    next_cursor: str | None = None


class RedemptionIn(Schema):
    reward_id: str | None = Field(None, description="Claim this reward")
    points: int | None = Field(None, ge=1, le=100_000_000, description="Or redeem manually")
    note: str = Field("", max_length=500, description="Required with points")

    @model_validator(mode="after")
    def one_of(self) -> "RedemptionIn":
        if (self.reward_id is None) == (self.points is None):
            raise ValueError("Send reward_id to claim a reward, or points and a note.")
        return self


class CouponBrief(Schema):
    id: str
    code: str
    label: str
    type: str
    value: Decimal
    status: str
    expires_at: datetime.datetime | None


class RedemptionOut(Schema):
    id: str
    member_id: str
    reward_id: str | None
    points: int
    note: str
    coupon: CouponBrief | None
    transaction_id: str
    member_points: PointsOut
    created_at: datetime.datetime

    @staticmethod
    def from_redemption(redemption: Redemption) -> "RedemptionOut":
        coupon: Any = redemption.coupon
        return RedemptionOut(
            id=str(redemption.pk),
            member_id=str(redemption.member_id),
            reward_id=str(redemption.reward_id) if redemption.reward_id else None,
            points=redemption.points,
            note=redemption.note,
            coupon=CouponBrief(
                id=str(coupon.pk),
                code=coupon.code,
                label=coupon.label,
                type=coupon.type,
                value=coupon.value,
                status=coupon.status,
                expires_at=coupon.expires_at,
            )
            if coupon
            else None,
            transaction_id=str(redemption.entry_id),
            member_points=PointsOut(**member_points(redemption.member)),
            created_at=redemption.created_at,
        )


@router.get("/rewards", response={200: RewardPage, **ERRORS}, summary="The rewards catalog")
def list_rewards(
    request: HttpRequest,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> RewardPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.rewards(merchant), cursor, limit)
    return RewardPage(
        items=[RewardOut.from_reward(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.post("/rewards", response={201: RewardOut, **ERRORS})
def create_reward(request: HttpRequest, payload: RewardIn) -> tuple[int, RewardOut]:
    merchant, actor = tenant(request)
    reward = services.reward_create(merchant=merchant, actor=actor, **payload.model_dump())
    return 201, RewardOut.from_reward(reward)


@router.get("/members/{member_id}/redeemable-rewards", response={200: RedeemableOut, **ERRORS})
def redeemable_rewards(request: HttpRequest, member_id: str) -> RedeemableOut:
    """ "Redeem Points": the rewards on offer that the member's points afford."""
    merchant, _ = tenant(request)
    member = member_or_404(request, member_id)
    return RedeemableOut(
        member=MemberOut.from_member(member),
        items=[RewardOut.from_reward(r) for r in selectors.redeemable_rewards(merchant, member)],
    )


@router.post("/members/{member_id}/redemptions", response={201: RedemptionOut, **ERRORS})
def create_redemption(
    request: HttpRequest, member_id: str, payload: RedemptionIn
) -> tuple[int, RedemptionOut]:
    """ "Claim Reward" (`reward_id`) or "Redeem Points Manually" (`points` and `note`)."""
    merchant, actor = tenant(request)
    member = member_or_404(request, member_id)
    key = idempotency_key(request)
    if payload.reward_id is not None:
        # Unread: the claim reads the reward itself, as it is when the claim runs.
        reward_id = row_id(payload.reward_id)
        if reward_id is None:
            raise RewardNotFound(field="reward_id")
        redemption = services.reward_claim(
            merchant=merchant,
            member=member,
            reward=Reward(pk=reward_id),
            actor=actor,
            idempotency_key=key,
        )
    else:
        assert payload.points is not None
        redemption = services.redemption_manual(
            merchant=merchant,
            member=member,
            points=payload.points,
            note=payload.note,
            actor=actor,
            idempotency_key=key,
        )
    # The services hand back the member as their locked write left it (balances current).
    return 201, RedemptionOut.from_redemption(redemption)
