"""Coupon steps: issue a discount code to the contact."""

import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.automations.actions.base import Action, Field, Outcome, StepContext

COUPON_TYPES = (
    ("percentage", gettext_lazy("Percentage")),
    ("fixed_amount", gettext_lazy("Fixed amount")),
    ("free_shipping", gettext_lazy("Free shipping")),
)


class IssueCoupon(Action):
    key = "issue_coupon"
    label = gettext_lazy("Issue a coupon")
    fields = (
        Field("label", gettext_lazy("Coupon label"), help=gettext_lazy("e.g. Birthday Coupon")),
        Field("type", gettext_lazy("Type"), type="select", choices=COUPON_TYPES),
        Field("value", gettext_lazy("Value"), type="number"),
        Field("valid_days", gettext_lazy("Valid for (days)"), type="number", required=False),
        Field("prefix", gettext_lazy("Code prefix"), required=False),
    )

    def name(self, config: dict[str, Any]) -> str:
        return _("Issue coupon “%(label)s”") % {"label": config.get("label") or "?"}

    def warnings(self, config: dict[str, Any]) -> list[str]:
        found = super().warnings(config)
        if config.get("type") not in {key for key, _label in COUPON_TYPES}:
            found.append(_("Choose the coupon type."))
        elif config.get("type") != "free_shipping" and _decimal(config.get("value")) is None:
            found.append(_("The coupon value must be a number above zero."))
        return found

    def run(self, ctx: StepContext) -> Outcome:
        from patron.coupons import services

        config = ctx.config
        days = int(config.get("valid_days") or 0)
        coupon = services.coupon_issue(
            merchant=ctx.merchant,
            contact=ctx.contact,
            actor=ctx.actor,
            label=ctx.merge(config.get("label", "")),
            type=config.get("type", "percentage"),
            value=_decimal(config.get("value")) or Decimal(0),
            earning_method="automation",
            expires_at=ctx.now + datetime.timedelta(days=days) if days else None,
            prefix=config.get("prefix", ""),
            reference=f"enrollment:{ctx.enrollment.pk}",
            idempotency_key=ctx.idempotency_key,
        )
        return Outcome(
            _("Coupon %(code)s issued") % {"code": coupon.code},
            data={"coupon_id": str(coupon.pk), "code": coupon.code},
            remember={"coupon_code": coupon.code},
        )


def _decimal(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number > 0 else None
