"""Loyalty steps: add the contact to the program, give points."""

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.automations.actions.base import Action, Field, Outcome, StepContext
from patron.lib.errors import Conflict


class NotAMember(Conflict):
    code = "contact_not_a_member"
    title = "The contact is not a loyalty member"


class AddToProgram(Action):
    key = "add_to_program"
    label = gettext_lazy("Add to the loyalty program")

    def run(self, ctx: StepContext) -> Outcome:
        from patron.loyalty import services as loyalty

        member = loyalty.member_ensure(merchant=ctx.merchant, contact=ctx.contact, actor=ctx.actor)
        if member.status != "active":
            member = loyalty.member_activate(
                merchant=ctx.merchant,
                member=member,
                actor=ctx.actor,
                reason=ctx.enrollment.action_name or ctx.enrollment.workflow.name,
            )
            summary = _("Loyalty membership activated")
        else:
            summary = _("Already an active member")
        return Outcome(summary, data={"member_id": str(member.pk)})


class GivePoints(Action):
    key = "give_points"
    label = gettext_lazy("Give points")
    fields = (
        Field("amount", gettext_lazy("Points"), type="number"),
        Field("reason", gettext_lazy("Reason"), required=False),
    )

    def name(self, config: dict[str, Any]) -> str:
        return _("Give %(points)s points") % {"points": config.get("amount") or "?"}

    def warnings(self, config: dict[str, Any]) -> list[str]:
        found = super().warnings(config)
        if not found and _positive_int(config.get("amount")) is None:
            found.append(_("Points must be a whole number above zero."))
        return found

    def run(self, ctx: StepContext) -> Outcome:
        from patron.loyalty import services

        amount = _positive_int(ctx.config.get("amount")) or 0
        try:
            entry = services.points_give_to_contact(
                merchant=ctx.merchant,
                contact=ctx.contact,
                amount=amount,
                actor=ctx.actor,
                reason=ctx.merge(ctx.config.get("reason") or ctx.enrollment.workflow.name),
                source="automation",
                reference=f"enrollment:{ctx.enrollment.pk}",
                idempotency_key=ctx.idempotency_key,
            )
        except services.MemberNotFound:
            raise NotAMember() from None
        return Outcome(
            _("%(points)s points given") % {"points": amount},
            data={"ledger_entry_id": str(entry.pk), "points": amount},
        )

    def run_batch(self, contexts: Sequence[StepContext]) -> list[Outcome]:
        """The points of many enrollments given together (`points_give_to_contacts`)."""
        from patron.loyalty import services

        gifts = [
            services.Gift(
                contact=ctx.contact,
                amount=_positive_int(ctx.config.get("amount")) or 0,
                actor=ctx.actor,
                reason=ctx.merge(ctx.config.get("reason") or ctx.enrollment.workflow.name),
                reference=f"enrollment:{ctx.enrollment.pk}",
                idempotency_key=ctx.idempotency_key,
            )
            for ctx in contexts
        ]
        if not gifts:
            return []
        try:
            entries = services.points_give_to_contacts(
                merchant=contexts[0].merchant, gifts=gifts, source="automation"
            )
        except services.MemberNotFound:
            raise NotAMember() from None
        return [
            Outcome(
                _("%(points)s points given") % {"points": gift.amount},
                data={"ledger_entry_id": str(entry.pk), "points": gift.amount},
            )
            for gift, entry in zip(gifts, entries, strict=True)
        ]


def _positive_int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None
