"""Call a webhook: POST the contact and the enrollment as JSON to a URL staff chose."""

from typing import Any

import httpx
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.automations.actions.base import Action, Field, Outcome, StepContext

TIMEOUT_SECONDS = 10


class WebhookFailed(Exception):
    """The receiver answered with an error; the engine retries with backoff."""


class CallWebhook(Action):
    key = "call_webhook"
    label = gettext_lazy("Call a webhook")
    fields = (Field("url", gettext_lazy("URL"), type="url"),)
    in_transaction = False

    def warnings(self, config: dict[str, Any]) -> list[str]:
        url = str(config.get("url", "")).strip()
        if not url:
            return [_("The webhook URL is missing.")]
        if not url.startswith(("https://", "http://")):
            return [_("The webhook URL must start with https://")]
        return []

    def run(self, ctx: StepContext) -> Outcome:
        contact = ctx.contact
        payload = {
            "type": "automation.step",
            "workflow": {
                "id": str(ctx.enrollment.workflow_id),
                "name": ctx.enrollment.workflow.name,
            },
            "enrollment": {
                "id": str(ctx.enrollment.pk),
                "action_name": ctx.enrollment.action_name,
                "context": ctx.enrollment.context,
            },
            "contact": {
                "id": str(contact.pk),
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "phone": str(contact.phone or "") or None,
                "email": contact.email,
            },
        }
        # The receiver sees the same Idempotency-Key on every retry of this step.
        response = httpx.post(
            ctx.config["url"],
            json=payload,
            headers={"Idempotency-Key": ctx.idempotency_key, "User-Agent": "Patron"},
            timeout=TIMEOUT_SECONDS,
        )
        if response.status_code >= 300:
            raise WebhookFailed(f"The webhook answered {response.status_code}")
        return Outcome(
            _("Webhook called (%(status)s)") % {"status": response.status_code},
            data={"status_code": response.status_code},
        )
