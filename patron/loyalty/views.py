"""Staff pages of the loyalty program: the Points and Membership tabs of a contact, the
Members lists by state, and one member's page (for memberships left on an old phone).

Views read through selectors and write through services; a refused write shows the
service's own message, e.g. seed 004's rule on deleting a member.
"""

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.contacts.profile import profile_contact, profile_context
from patron.lib.errors import PatronError
from patron.lib.phones import try_parse_phone
from patron.loyalty import selectors, services
from patron.loyalty.models import Member, MemberStatus, PointCategory, Tier
from patron.reports import selectors as report_selectors
from patron.rewards import selectors as reward_selectors
from patron.rewards import services as reward_services
from patron.rewards.models import Reward, RewardKind
from patron.tenants.http import StaffRequest
from patron.tenants.models import Role
from patron.tenants.permissions import staff_required

STATES = [
    (MemberStatus.ACTIVE, "activated"),
    (MemberStatus.NOT_ACTIVATED, "not_activated"),
    (MemberStatus.EXCLUDED, "excluded"),
]


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _member_or_404(request: StaffRequest, member_id: int) -> Member:
    member = selectors.member_get(request.merchant, member_id)
    if member is None:
        raise Http404
    return member


def _back(request: StaffRequest, fallback: str) -> HttpResponse:
    # Forms post back to the page they were on: a contact's tab or a member's page.
    target = request.POST.get("back", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else fallback)


def _points_context(request: StaffRequest, member: Member | None) -> dict[str, Any]:
    if member is None:
        return {"member": None}
    return {
        "member": member,
        # Archived categories stay in the history but are no longer offered.
        "categories": list(
            selectors.point_categories(request.merchant).filter(archived_at__isnull=True)
        ),
        "multiplier": member.tier.earn_multiplier if member.tier else 1,
        "redeemable": reward_selectors.redeemable_rewards(request.merchant, member),
        "entries": list(selectors.ledger(request.merchant, member)[:20]),
        "rank": report_selectors.member_rank(request.merchant, member),
        # One key per rendered form: a double click or a resent form adds points once.
        "form_key": uuid.uuid4().hex,
    }


@staff_required()
def points_tab(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = profile_contact(request, contact_id)
    context = profile_context(request, contact, "points")
    context.update(
        _points_context(request, selectors.member_for_contact(request.merchant, contact))
    )
    return render(request, "loyalty/points_tab.html", context)


@staff_required()
def membership_tab(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = profile_contact(request, contact_id)
    context = profile_context(request, contact, "membership")
    context.update(
        member=selectors.member_for_contact(request.merchant, contact),
        tiers=list(selectors.tiers(request.merchant)),
    )
    return render(request, "loyalty/membership_tab.html", context)


@staff_required()
@require_POST
def membership_join(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = profile_contact(request, contact_id)
    try:
        services.member_ensure(merchant=request.merchant, contact=contact, actor=request.actor)
    except PatronError as error:
        messages.error(request, error.message)
    return redirect("contacts:membership", contact_id=contact.pk)


@staff_required()
def member_page(request: StaffRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    context = {
        "section": "members",
        "member": member,
        "tiers": list(selectors.tiers(request.merchant)),
        "back": request.path,
    }
    context.update(_points_context(request, member))
    return render(request, "loyalty/member.html", context)


@staff_required()
def members(request: StaffRequest) -> HttpResponse:
    """Seed 004's three lists: activated, not activated, excluded."""
    wanted = request.GET.get("state", "activated")
    status = next((s for s, slug in STATES if slug == wanted), MemberStatus.ACTIVE)
    found = selectors.members(request.merchant, status)
    q = request.GET.get("q", "").strip()
    if q:
        phone = try_parse_phone(q, request.merchant.country)
        found = (
            found.filter(phone=phone)
            if phone
            else found.filter(contact__search_text__icontains=q.lower())
        )
    page = Paginator(found, 50).get_page(request.GET.get("page"))
    context = {
        "section": "members",
        "states": [(slug, label) for slug, label in _state_labels()],
        "state": wanted if wanted in dict(_state_labels()) else "activated",
        "status": status,
        "page": page,
        "q": q,
    }
    return render(request, "loyalty/members.html", context)


def _state_labels() -> list[tuple[str, str]]:
    return [
        ("activated", _("Activated")),
        ("not_activated", _("Not activated")),
        ("excluded", _("Excluded")),
    ]


@staff_required()
@require_POST
def members_activate(request: StaffRequest) -> HttpResponse:
    """Bulk "Activate member" from the Not activated and Excluded lists."""
    ids = [i for i in (_int(v) for v in request.POST.getlist("member")) if i is not None]
    reason = request.POST.get("reason", "").strip()
    done = 0
    for member in selectors.members(request.merchant).filter(pk__in=ids).order_by("pk"):
        services.member_activate(
            merchant=request.merchant, member=member, actor=request.actor, reason=reason
        )
        done += 1
    messages.success(request, _("%(count)d members activated.") % {"count": done})
    return redirect(reverse("loyalty:members") + "?state=activated")


@staff_required()
@require_POST
def member_activate(request: StaffRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    services.member_activate(
        merchant=request.merchant,
        member=member,
        actor=request.actor,
        reason=request.POST.get("reason", ""),
    )
    messages.success(request, _("Member activated."))
    return _back(request, reverse("loyalty:member", args=[member.pk]))


def _run(request: StaffRequest, done: str, write: Any) -> None:
    try:
        write()
    except PatronError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done)


@staff_required()
@require_POST
def member_exclude(request: StaffRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    _run(
        request,
        _("Member removed from the program."),
        lambda: services.member_exclude(
            merchant=request.merchant,
            member=member,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
        ),
    )
    return _back(request, reverse("loyalty:member", args=[member.pk]))


@staff_required()
@require_POST
def member_delete(request: StaffRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    try:
        services.member_delete(
            merchant=request.merchant,
            member=member,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
        )
    except PatronError:
        # Seed 004: say what to do instead, in the person's language.
        messages.error(
            request,
            _(
                "This member cannot be deleted: a contact still has this phone number. "
                "Delete the contact or change its phone first, or use “Remove from "
                "program” to keep them out of the loyalty program."
            ),
        )
        return _back(request, reverse("loyalty:member", args=[member.pk]))
    messages.success(request, _("Member deleted."))
    return redirect(reverse("loyalty:members") + "?state=activated")


@staff_required()
@require_POST
def member_adjust(request: StaffRequest, member_id: int) -> HttpResponse:
    """ "Adjust points and tier": points by hand, a tier by hand, or a move from the
    member of an old phone number (seed 004), each with the one reason given."""
    member = _member_or_404(request, member_id)
    reason = request.POST.get("reason", "").strip()
    amount = _int(request.POST.get("points"))
    from_phone = request.POST.get("from_phone", "").strip()
    tier_id = request.POST.get("tier", "")
    try:
        if not reason:
            raise PatronError(_("Say why the points or the tier are adjusted."))
        if from_phone:
            phone = try_parse_phone(from_phone, request.merchant.country)
            source = selectors.member_for_phone(request.merchant, phone) if phone else None
            if source is None or source.pk == member.pk:
                raise PatronError(_("No other member has this phone number."))
            services.points_transfer(
                merchant=request.merchant,
                source=source,
                target=member,
                amount=source.points_available,
                actor=request.actor,
                reason=reason,
                move_tier=True,
            )
        if amount:
            services.points_adjust(
                merchant=request.merchant,
                member=member,
                amount=amount,
                actor=request.actor,
                reason=reason,
            )
        if tier_id and tier_id != str(member.tier_id or ""):
            tier = (
                None
                if tier_id == "none"
                else selectors.tiers(request.merchant).filter(pk=_int(tier_id) or 0).first()
            )
            services.tier_set_manual(
                merchant=request.merchant,
                member=selectors.member_get(request.merchant, member.pk) or member,
                tier=tier,
                actor=request.actor,
                reason=reason,
            )
    except PatronError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Points and tier adjusted."))
    return _back(request, reverse("loyalty:member", args=[member.pk]))


@staff_required()
@require_POST
def points_give(request: StaffRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    category = selectors.point_category_get(request.merchant, request.POST.get("category", ""))
    amount = _int(request.POST.get("amount"))
    _run(
        request,
        _("Points added."),
        lambda: services.points_give(
            merchant=request.merchant,
            member=member,
            amount=amount if amount is not None else 0,
            actor=request.actor,
            category=category,
            reason=request.POST.get("reason", ""),
            idempotency_key=request.POST.get("idempotency_key") or None,
        ),
    )
    return _back(request, reverse("loyalty:member", args=[member.pk]))


@staff_required()
@require_POST
def points_redeem_manual(request: StaffRequest, member_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    amount = _int(request.POST.get("amount"))
    _run(
        request,
        _("Points redeemed."),
        lambda: reward_services.redemption_manual(
            merchant=request.merchant,
            member=member,
            points=amount if amount is not None else 0,
            note=request.POST.get("note", ""),
            actor=request.actor,
            idempotency_key=request.POST.get("idempotency_key") or None,
        ),
    )
    return _back(request, reverse("loyalty:member", args=[member.pk]))


@staff_required()
@require_POST
def reward_claim(request: StaffRequest, member_id: int, reward_id: int) -> HttpResponse:
    member = _member_or_404(request, member_id)
    reward = reward_selectors.reward_get(request.merchant, reward_id)
    if reward is None:
        raise Http404
    _run(
        request,
        _("Reward claimed: %(reward)s.") % {"reward": reward.name},
        lambda: reward_services.reward_claim(
            merchant=request.merchant,
            member=member,
            reward=reward,
            actor=request.actor,
            idempotency_key=request.POST.get("idempotency_key") or None,
        ),
    )
    return _back(request, reverse("loyalty:member", args=[member.pk]))


@staff_required(Role.MANAGER)
def program_settings(request: StaffRequest) -> HttpResponse:
    """Settings → Program: the program's main rules, point categories with their colours,
    tiers and the rewards catalog. Staff with the `staff` role cannot open it."""
    if request.method == "POST":
        form = request.POST.get("form")
        try:
            if form == "program":
                services.program_update(
                    merchant=request.merchant,
                    actor=request.actor,
                    points_name=request.POST.get("points_name", "points").strip() or "points",
                    signup_bonus=_int(request.POST.get("signup_bonus")) or 0,
                    birthday_bonus=_int(request.POST.get("birthday_bonus")) or 0,
                    pending_days=_int(request.POST.get("pending_days")) or 0,
                    activate_on_create=request.POST.get("activate_on_create") == "on",
                    # Points spent on a reward used on an order that is cancelled.
                    cancelled_order_reward_points=request.POST.get(
                        "cancelled_order_reward_points",
                        selectors.program(request.merchant).cancelled_order_reward_points,
                    ),
                )
            elif form == "category":
                services.point_category_create(
                    merchant=request.merchant,
                    actor=request.actor,
                    name=request.POST.get("name", ""),
                    color=request.POST.get("color", "#2563eb"),
                )
            elif form == "tier":
                services.tier_create(
                    merchant=request.merchant,
                    actor=request.actor,
                    name=request.POST.get("name", ""),
                    threshold=_int(request.POST.get("threshold")) or 0,
                    color=request.POST.get("color", "#64748b"),
                    benefits=request.POST.get("benefits", ""),
                )
            elif form == "reward":
                reward_services.reward_create(
                    merchant=request.merchant,
                    actor=request.actor,
                    name=request.POST.get("name", ""),
                    kind=request.POST.get("kind", ""),
                    points_cost=_int(request.POST.get("points_cost")) or 0,
                    value=request.POST.get("value") or 0,
                    coupon_label=request.POST.get("name", ""),
                )
        except PatronError as error:
            messages.error(request, error.message)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("Saved."))
        return redirect("loyalty:program_settings")
    live_members = Q(members__deleted_at__isnull=True)
    context = {
        "section": "settings",
        "settings_page": "program",
        "program": selectors.program(request.merchant),
        "categories": selectors.point_categories(request.merchant),
        "tiers": selectors.tiers(request.merchant).annotate(
            holders=Count("members", filter=live_members),
            by_hand=Count("members", filter=live_members & Q(members__tier_manual=True)),
        ),
        "rewards": reward_selectors.rewards(request.merchant),
        "reward_kinds": RewardKind.choices,
        "now": timezone.now(),
    }
    return render(request, "loyalty/program_settings.html", context)


# --- editing and removing categories, tiers and rewards (owners and managers) ------------


def _said(error: PatronError) -> str:
    """The refusal in the person's language; the service's English as a last resort."""
    by_code = {
        "name_taken": _("This name is already used."),
        "point_category_in_use": _(
            "Points were already given in this category, so it cannot be deleted. "
            "Archive it instead: the history keeps it and Give Points stops offering it."
        ),
        "tier_set_by_hand": _(
            "Some members were given this tier by hand, so it cannot be deleted. "
            "Move them to another tier with “Adjust points and tier” first."
        ),
    }
    by_field = {
        "name": _("A name has 1 to 60 characters."),
        "color": _("A colour is written #rrggbb."),
        "threshold": _("A threshold is zero or more."),
        "reason": _("Say why."),
        "points_cost": _("A reward costs at least 1 point."),
        "value": _(
            "Check the value: a percentage is above 0 and at most 100, an amount is above zero."
        ),
        "stock": _("Stock is zero or more."),
        "coupon_valid_days": _("A coupon is valid at least 1 day."),
        "product_ids": _("Name the product(s) the reward makes free."),
    }
    if error.code in by_code:
        return by_code[error.code]
    if error.code == "invalid_input" and error.field in by_field:
        return by_field[error.field]
    return error.message


def _settings_write(request: StaffRequest, done: str, write: Any) -> HttpResponse:
    try:
        write()
    except PatronError as error:
        messages.error(request, _said(error))
    else:
        messages.success(request, done)
    return redirect("loyalty:program_settings")


def _category_or_404(request: StaffRequest, category_id: int) -> PointCategory:
    category = selectors.point_category_get(request.merchant, category_id)
    if category is None:
        raise Http404
    return category


def _tier_or_404(request: StaffRequest, tier_id: int) -> Tier:
    tier = selectors.tiers(request.merchant).filter(pk=tier_id).first()
    if tier is None:
        raise Http404
    return tier


def _reward_or_404(request: StaffRequest, reward_id: int) -> Reward:
    reward = reward_selectors.reward_get(request.merchant, reward_id)
    if reward is None:
        raise Http404
    return reward


@staff_required(Role.MANAGER)
@require_POST
def category_edit(request: StaffRequest, category_id: int) -> HttpResponse:
    category = _category_or_404(request, category_id)
    return _settings_write(
        request,
        _("Point category saved."),
        lambda: services.point_category_update(
            merchant=request.merchant,
            category=category,
            actor=request.actor,
            name=request.POST.get("name", ""),
            color=request.POST.get("color", ""),
        ),
    )


@staff_required(Role.MANAGER)
@require_POST
def category_archive(request: StaffRequest, category_id: int) -> HttpResponse:
    category = _category_or_404(request, category_id)
    archived = request.POST.get("archived", "1") != "0"
    return _settings_write(
        request,
        _("Point category archived.") if archived else _("Point category offered again."),
        lambda: services.point_category_archive(
            merchant=request.merchant,
            category=category,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
            archived=archived,
        ),
    )


@staff_required(Role.MANAGER)
@require_POST
def category_delete(request: StaffRequest, category_id: int) -> HttpResponse:
    category = _category_or_404(request, category_id)
    return _settings_write(
        request,
        _("Point category deleted."),
        lambda: services.point_category_delete(
            merchant=request.merchant,
            category=category,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
        ),
    )


@staff_required(Role.MANAGER)
@require_POST
def tier_edit(request: StaffRequest, tier_id: int) -> HttpResponse:
    tier = _tier_or_404(request, tier_id)
    threshold = _int(request.POST.get("threshold"))
    return _settings_write(
        request,
        _("Tier saved."),
        lambda: services.tier_update(
            merchant=request.merchant,
            tier=tier,
            actor=request.actor,
            name=request.POST.get("name", ""),
            threshold=threshold if threshold is not None else -1,
            color=request.POST.get("color", ""),
            benefits=request.POST.get("benefits", ""),
        ),
    )


@staff_required(Role.MANAGER)
@require_POST
def tier_delete(request: StaffRequest, tier_id: int) -> HttpResponse:
    tier = _tier_or_404(request, tier_id)
    return _settings_write(
        request,
        _("Tier deleted; its members were moved to the tier they qualify for."),
        lambda: services.tier_delete(
            merchant=request.merchant,
            tier=tier,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
        ),
    )


def _optional_int(value: Any) -> int | None:
    # Blank means "none" (no limit); text that is not a number becomes -1, refused.
    if str(value or "").strip() == "":
        return None
    number = _int(value)
    return -1 if number is None else number


@staff_required(Role.MANAGER)
@require_POST
def reward_edit(request: StaffRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    cost = _int(request.POST.get("points_cost"))
    return _settings_write(
        request,
        _("Reward saved."),
        lambda: reward_services.reward_update(
            merchant=request.merchant,
            reward=reward,
            actor=request.actor,
            name=request.POST.get("name", ""),
            kind=request.POST.get("kind", ""),
            value=request.POST.get("value") or 0,
            points_cost=cost if cost is not None else 0,
            coupon_label=request.POST.get("coupon_label", ""),
            coupon_valid_days=_optional_int(request.POST.get("coupon_valid_days")),
            stock=_optional_int(request.POST.get("stock")),
            description=request.POST.get("description", ""),
        ),
    )


@staff_required(Role.MANAGER)
@require_POST
def reward_reopen(request: StaffRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    return _settings_write(
        request,
        _("Reward offered again: members can claim it."),
        lambda: reward_services.reward_reopen(
            merchant=request.merchant,
            reward=reward,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
        ),
    )


@staff_required(Role.MANAGER)
@require_POST
def reward_end(request: StaffRequest, reward_id: int) -> HttpResponse:
    reward = _reward_or_404(request, reward_id)
    return _settings_write(
        request,
        _("Reward ended: it can no longer be claimed. Coupons already issued stay valid."),
        lambda: reward_services.reward_end(
            merchant=request.merchant,
            reward=reward,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
        ),
    )
