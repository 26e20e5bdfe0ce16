"""Staff pages of discount codes: the contact's Discount Codes tab (seed 002) and the
coupon chips at the top of the profile (seed 000).

Deleting asks for a reason; when points paid for the coupon the person chooses whether
they go back, and either way the ledger and the coupon's history say so.
"""

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.contacts.profile import profile_contact, profile_context
from patron.coupons import selectors, services
from patron.coupons.models import Coupon
from patron.lib.errors import PatronError
from patron.tenants.http import StaffRequest
from patron.tenants.permissions import staff_required


def _coupon_or_404(request: StaffRequest, coupon_id: int) -> Coupon:
    coupon = selectors.coupon_get(request.merchant, coupon_id)
    if coupon is None or coupon.contact.deleted_at is not None:
        raise Http404
    return coupon


def _back(request: StaffRequest, coupon: Coupon) -> HttpResponse:
    target = request.POST.get("back", "")
    if target.startswith("/") and not target.startswith("//"):
        return redirect(target)
    return redirect("contacts:discount_codes", contact_id=coupon.contact_id)


@staff_required()
def discount_codes_tab(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = profile_contact(request, contact_id)
    context = profile_context(request, contact, "discount_codes")
    coupons = list(selectors.contact_coupons(request.merchant, contact).prefetch_related("events"))
    for coupon in coupons:
        # "Event Data": the coupon's full history, as the three-dots menu shows it.
        history = [
            event.as_dict() for event in sorted(coupon.events.all(), key=lambda e: (e.at, e.pk))
        ]
        coupon.event_json = json.dumps(  # type: ignore[attr-defined]
            history, indent=2, cls=DjangoJSONEncoder, ensure_ascii=False
        )
    context.update(
        available=[c for c in coupons if c.is_available],
        past=[c for c in coupons if not c.is_available],
    )
    return render(request, "coupons/discount_codes_tab.html", context)


@staff_required()
@require_POST
def coupon_delete(request: StaffRequest, coupon_id: int) -> HttpResponse:
    coupon = _coupon_or_404(request, coupon_id)
    try:
        services.coupon_delete(
            merchant=request.merchant,
            coupon=coupon,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
            refund_points=request.POST.get("refund") == "yes",
        )
    except PatronError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("%(label)s removed.") % {"label": coupon.label})
    return _back(request, coupon)


@staff_required()
@require_POST
def coupon_regenerate(request: StaffRequest, coupon_id: int) -> HttpResponse:
    coupon = _coupon_or_404(request, coupon_id)
    try:
        new = services.coupon_regenerate(
            merchant=request.merchant,
            coupon=coupon,
            actor=request.actor,
            reason=request.POST.get("reason", ""),
        )
    except PatronError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, _("%(old)s deleted; new code %(new)s.") % {"old": coupon.code, "new": new.code}
        )
    return _back(request, coupon)
