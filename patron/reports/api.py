"""The Rewards Leaderboard and the Points Dashboard figures in the public API."""

import datetime
from decimal import Decimal
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import BaseModel

from patron.api.core import tenant
from patron.api.schemas import ERRORS
from patron.lib.errors import InvalidInput
from patron.loyalty.api import member_or_404
from patron.reports import selectors

router = Router(tags=["reports"])


# The board's schemas are plain pydantic models: they are built from dicts, never from
# ORM objects, so they skip the attribute look-up wrapper a ninja Schema puts around every
# row (that wrapper cost more than the board's query).
class LeaderboardRowOut(BaseModel):
    rank: int
    member_id: str
    contact_id: str | None
    name: str
    phone: str
    tier: str | None
    points: int


class LeaderboardOut(BaseModel):
    period: str
    items: list[LeaderboardRowOut]
    next_cursor: str | None = None


class RedeemedKindOut(Schema):
    count: int
    points: int
    value: Decimal


class SummaryOut(Schema):
    start: datetime.date | None
    end: datetime.date | None
    points_issued: int
    points_redeemed: int
    points_expired: int
    points_returned: int
    redemptions: int
    redeemed_amount: Decimal
    redeemed_by_kind: dict[str, RedeemedKindOut]
    members_by_status: dict[str, int]
    members_by_tier: dict[str, int]
    outstanding_points: int
    outstanding_available: int
    outstanding_pending: int


@router.get("/leaderboard", response={200: LeaderboardOut, **ERRORS}, summary="Rewards Leaderboard")
def get_leaderboard(
    request: HttpRequest,
    period: Literal["all", "month"] = "all",
    limit: int = Query(20, ge=1, le=200),
) -> LeaderboardOut:
    merchant, _ = tenant(request)
    rows = selectors.leaderboard(merchant, period, limit)
    items = [
        {
            "rank": row.rank,
            "member_id": str(row.member_id),
            "contact_id": str(row.contact_id) if row.contact_id is not None else None,
            "name": row.name,
            "phone": row.phone,
            "tier": row.tier,
            "points": row.points,
        }
        for row in rows
    ]
    return LeaderboardOut.model_validate({"period": period, "items": items})


class MemberRankOut(BaseModel):
    member_id: str
    # None when the member is not on the board: excluded, deleted, or no points yet.
    rank: int | None
    points: int


@router.get(
    "/leaderboard/members/{member_id}",
    response={200: MemberRankOut, **ERRORS},
    summary="A member's place on the leaderboard",
)
def get_member_rank(request: HttpRequest, member_id: str) -> MemberRankOut:
    """The member's rank on the all-time board (lifetime points, the older member first
    on a tie), as the board itself would number it."""
    merchant, _ = tenant(request)
    member = member_or_404(request, member_id)
    return MemberRankOut(
        member_id=str(member.pk),
        rank=selectors.member_rank(merchant, member),
        points=member.points_lifetime,
    )


@router.get("/reports/summary", response={200: SummaryOut, **ERRORS}, summary="Points Dashboard")
def get_summary(
    request: HttpRequest,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> SummaryOut:
    """Points issued / redeemed / expired and redeemed amounts over an optional date range
    (merchant's local dates, inclusive); members by state and tier and outstanding points
    as of now."""
    merchant, _ = tenant(request)
    if start and end and end < start:
        raise InvalidInput("The end date comes on or after the start date.", field="end")
    figures = selectors.summary(merchant, start, end)
    return SummaryOut(
        start=figures.start,
        end=figures.end,
        points_issued=figures.points_issued,
        points_redeemed=figures.points_redeemed,
        points_expired=figures.points_expired,
        points_returned=figures.points_returned,
        redemptions=figures.redemptions,
        redeemed_amount=figures.redeemed_amount,
        redeemed_by_kind={k: RedeemedKindOut(**v) for k, v in figures.redeemed_by_kind.items()},
        members_by_status=figures.members_by_status,
        members_by_tier=figures.members_by_tier,
        outstanding_points=figures.outstanding_available + figures.outstanding_pending,
        outstanding_available=figures.outstanding_available,
        outstanding_pending=figures.outstanding_pending,
    )
