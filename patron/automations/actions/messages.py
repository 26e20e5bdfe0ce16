"""Message steps: SMS and email to the contact, an in-app notification to staff.

The body may use merge fields such as {first_name}, {merchant} or {coupon_code} (a code
an earlier step issued). A saved message template may be used instead of a body.
"""

from collections.abc import Sequence
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.automations.actions.base import Action, Field, Outcome, StepContext

MERGE_HELP = gettext_lazy("Merge fields: {first_name}, {name}, {merchant}, {coupon_code}")


class SendMessage(Action):
    channel: str

    def warnings(self, config: dict[str, Any]) -> list[str]:
        if not (config.get("body", "").strip() or config.get("template_key", "").strip()):
            return [_("The message is missing: write it or choose a template.")]
        return []

    def has_address(self, ctx: StepContext) -> bool:
        return bool(ctx.contact.phone if self.channel == "sms" else ctx.contact.email)

    def run(self, ctx: StepContext) -> Outcome:
        from patron.messaging import services

        if not self.has_address(ctx):
            # A contact without a phone (or email) is not a failure of the workflow.
            return _skipped()
        config = ctx.config
        if _uses_template(config):
            message = services.message_send_template(
                merchant=ctx.merchant,
                channel=self.channel,
                template_key=config["template_key"].strip(),
                actor=ctx.actor,
                contact=ctx.contact,
                context=ctx.merge_values(),
                marketing=bool(config.get("marketing")),
                idempotency_key=ctx.idempotency_key,
            )
        else:
            message = services.message_send(
                merchant=ctx.merchant,
                channel=self.channel,
                actor=ctx.actor,
                body=ctx.merge(config.get("body", "")),
                subject=ctx.merge(config.get("subject", "")),
                contact=ctx.contact,
                marketing=bool(config.get("marketing")),
                idempotency_key=ctx.idempotency_key,
            )
        return Outcome(self.sent_summary(), data={"message_id": str(message.pk)})

    def run_batch(self, contexts: Sequence[StepContext]) -> list[Outcome]:
        """Messages written in the step go out together (`messages_send`); a template's
        are rendered one by one (`run`)."""
        from patron.messaging import services

        if any(_uses_template(ctx.config) for ctx in contexts):
            return super().run_batch(contexts)
        sendable = [ctx for ctx in contexts if self.has_address(ctx)]
        sent = (
            services.messages_send(
                merchant=sendable[0].merchant,
                messages=[
                    services.NewMessage(
                        channel=self.channel,
                        actor=ctx.actor,
                        body=ctx.merge(ctx.config.get("body", "")),
                        subject=ctx.merge(ctx.config.get("subject", "")),
                        contact=ctx.contact,
                        marketing=bool(ctx.config.get("marketing")),
                        idempotency_key=ctx.idempotency_key,
                    )
                    for ctx in sendable
                ],
            )
            if sendable
            else []
        )
        messages = {id(ctx): message for ctx, message in zip(sendable, sent, strict=True)}
        return [
            Outcome(self.sent_summary(), data={"message_id": str(messages[id(ctx)].pk)})
            if id(ctx) in messages
            else _skipped()
            for ctx in contexts
        ]

    def sent_summary(self) -> str:
        raise NotImplementedError


def _skipped() -> Outcome:
    return Outcome(_("Skipped: the contact has no address for this message"))


def _uses_template(config: dict[str, Any]) -> bool:
    return bool(config.get("template_key", "").strip() and not config.get("body", "").strip())


class SendSms(SendMessage):
    key = "send_sms"
    label = gettext_lazy("Send SMS")
    channel = "sms"
    fields = (
        Field("body", gettext_lazy("Message"), type="textarea", required=False, help=MERGE_HELP),
        Field(
            "template_key",
            gettext_lazy("Or a message template"),
            type="template",
            required=False,
        ),
    )

    def sent_summary(self) -> str:
        return _("SMS sent")


class SendEmail(SendMessage):
    key = "send_email"
    label = gettext_lazy("Send email")
    channel = "email"
    fields = (
        Field("subject", gettext_lazy("Subject"), required=False),
        Field("body", gettext_lazy("Message"), type="textarea", required=False, help=MERGE_HELP),
        Field(
            "template_key",
            gettext_lazy("Or a message template"),
            type="template",
            required=False,
        ),
    )

    def warnings(self, config: dict[str, Any]) -> list[str]:
        found = super().warnings(config)
        if config.get("body", "").strip() and not config.get("subject", "").strip():
            found.append(_("The email has no subject."))
        return found

    def sent_summary(self) -> str:
        return _("Email sent")


class NotifyStaff(Action):
    key = "notify_staff"
    label = gettext_lazy("Notify staff")
    fields = (Field("text", gettext_lazy("Notification"), help=MERGE_HELP),)

    def run(self, ctx: StepContext) -> Outcome:
        from patron.messaging import services

        text = ctx.merge(ctx.config.get("text", ""))
        notification = services.notification_create(
            merchant=ctx.merchant,
            text=text,
            link=reverse("contacts:profile", args=[ctx.contact.pk]),
            actor=ctx.actor,
        )
        return Outcome(
            _("Staff notified: %(text)s") % {"text": text},
            data={"notification_id": str(notification.pk)},
        )
