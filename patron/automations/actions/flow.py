"""Flow steps: wait (a duration, until a date, until a time of day) and if/else.

Times of day and dates are the merchant's: "until 09:00" means nine in the morning
where the shop is, whatever the server's clock says.
"""

import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.automations.actions.base import Action, Field, Outcome, StepContext
from patron.automations.models import StepKind
from patron.tenants.models import Merchant

UNITS = {"minutes": 60, "hours": 3600, "days": 86400}


def _parse_time(value: Any) -> datetime.time | None:
    try:
        return datetime.time.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _parse_local_datetime(value: Any) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None


class Wait(Action):
    key = "wait"
    label = gettext_lazy("Wait")
    kind = StepKind.WAIT
    fields = (
        Field(
            "mode",
            gettext_lazy("Wait"),
            type="select",
            choices=(
                ("duration", gettext_lazy("for a while")),
                ("until_date", gettext_lazy("until a date and time")),
                ("until_time", gettext_lazy("until a time of day")),
            ),
            default="duration",
        ),
        Field("amount", gettext_lazy("How long"), type="number", required=False),
        Field(
            "unit",
            gettext_lazy("Unit"),
            type="select",
            required=False,
            choices=(
                ("minutes", gettext_lazy("minutes")),
                ("hours", gettext_lazy("hours")),
                ("days", gettext_lazy("days")),
            ),
            default="days",
        ),
        Field("until", gettext_lazy("Date and time"), type="datetime", required=False),
        Field("time", gettext_lazy("Time of day"), type="time", required=False),
    )

    def name(self, config: dict[str, Any]) -> str:
        mode = config.get("mode", "duration")
        if mode == "until_date":
            return _("Wait until %(when)s") % {"when": config.get("until") or "?"}
        if mode == "until_time":
            return _("Wait until %(time)s") % {"time": config.get("time") or "?"}
        return _("Wait %(amount)s %(unit)s") % {
            "amount": config.get("amount") or "?",
            "unit": dict(self.fields[2].choices).get(config.get("unit", "days"), ""),
        }

    def warnings(self, config: dict[str, Any]) -> list[str]:
        mode = config.get("mode", "duration")
        if mode == "until_date" and _parse_local_datetime(config.get("until")) is None:
            return [_("Choose the date and time to wait until.")]
        if mode == "until_time" and _parse_time(config.get("time")) is None:
            return [_("Choose the time of day to wait until.")]
        if mode == "duration":
            try:
                amount = float(config.get("amount") or 0)
            except ValueError:
                amount = 0
            if amount <= 0 or config.get("unit", "days") not in UNITS:
                return [_("Say how long to wait.")]
        return []

    def due_at(
        self, config: dict[str, Any], merchant: Merchant, now: datetime.datetime
    ) -> datetime.datetime:
        if self.warnings(config):
            return now
        zone = merchant.zone
        mode = config.get("mode", "duration")
        if mode == "until_date":
            local = _parse_local_datetime(config["until"])
            assert local is not None
            if local.tzinfo is None:
                local = local.replace(tzinfo=zone)
            return max(now, local)
        if mode == "until_time":
            wanted = _parse_time(config["time"])
            assert wanted is not None
            local_now = now.astimezone(zone)
            target = datetime.datetime.combine(local_now.date(), wanted, tzinfo=zone)
            if target <= local_now:
                target = datetime.datetime.combine(
                    local_now.date() + datetime.timedelta(days=1), wanted, tzinfo=zone
                )
            return target
        seconds = float(config["amount"]) * UNITS[config.get("unit", "days")]
        return now + datetime.timedelta(seconds=seconds)

    def run(self, ctx: StepContext) -> Outcome:
        return Outcome(_("Waited"))


CONDITIONS = (
    ("is_member", gettext_lazy("is an active loyalty member")),
    ("has_tag", gettext_lazy("has the tag")),
    ("points_at_least", gettext_lazy("has at least this many points")),
    ("has_phone", gettext_lazy("has a phone number")),
    ("has_email", gettext_lazy("has an email address")),
)


class IfElse(Action):
    key = "if_else"
    label = gettext_lazy("If / else")
    kind = StepKind.IF_ELSE
    fields = (
        Field("condition", gettext_lazy("If the contact"), type="select", choices=CONDITIONS),
        Field("value", gettext_lazy("Value"), required=False, help=gettext_lazy("Tag or points")),
        Field(
            "then_steps",
            gettext_lazy("then run the next steps (how many)"),
            type="number",
            default=1,
        ),
        Field(
            "otherwise",
            gettext_lazy("otherwise"),
            type="select",
            choices=(
                ("skip", gettext_lazy("skip them and go on")),
                ("stop", gettext_lazy("end the workflow")),
            ),
            default="skip",
        ),
    )

    def name(self, config: dict[str, Any]) -> str:
        condition = dict(CONDITIONS).get(config.get("condition", ""), "?")
        value = config.get("value", "")
        return _("If the contact %(condition)s %(value)s") % {
            "condition": condition,
            "value": value,
        }

    def warnings(self, config: dict[str, Any]) -> list[str]:
        found = super().warnings(config)
        if (
            config.get("condition") in {"has_tag", "points_at_least"}
            and not str(config.get("value", "")).strip()
        ):
            found.append(_("The condition needs a value."))
        return found

    def holds(self, ctx: StepContext) -> bool:
        condition, value = ctx.config.get("condition"), str(ctx.config.get("value", "")).strip()
        contact = ctx.contact
        if condition == "has_phone":
            return bool(contact.phone)
        if condition == "has_email":
            return bool(contact.email)
        if condition == "has_tag":
            return contact.contact_tags.filter(tag__name__iexact=value).exists()
        from patron.loyalty import selectors

        member = selectors.member_for_contact(ctx.merchant, contact)
        if condition == "is_member":
            return member is not None and member.status == "active"
        if condition == "points_at_least":
            try:
                return member is not None and member.points_available >= int(value)
            except ValueError:
                return False
        return False

    def run(self, ctx: StepContext) -> Outcome:
        if self.holds(ctx):
            return Outcome(_("Condition met"), data={"matched": True})
        if ctx.config.get("otherwise") == "stop":
            return Outcome(
                _("Condition not met: workflow ended"), data={"matched": False}, stop=True
            )
        skip = int(ctx.config.get("then_steps") or 0)
        return Outcome(_("Condition not met"), data={"matched": False}, skip=skip)
