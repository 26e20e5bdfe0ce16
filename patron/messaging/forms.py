from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from patron.messaging.models import Channel, ChannelSettings, EmailProvider, SmsProvider
from patron.messaging.providers import REGISTRY


class SendSmsForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        max_length=1600,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    coupon_code = forms.CharField(label=_("Discount code"), max_length=64, required=False)

    def __init__(self, *args: Any, codes: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.codes = codes or []

    def clean_coupon_code(self) -> str:
        code = self.cleaned_data.get("coupon_code", "")
        if code and code not in {c for c, _label in self.codes}:
            raise forms.ValidationError(_("This is not an available discount code of the contact."))
        return code

    def message(self) -> str:
        """The text to send: what was typed, with the chosen code if it is not in it."""
        body = self.cleaned_data.get("body", "").strip()
        code = self.cleaned_data.get("coupon_code", "")
        if code and code not in body:
            line = _("Your discount code: %(code)s") % {"code": code}
            body = f"{body}\n{line}".strip()
        return body


class TemplateForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=64, help_text=_("e.g. welcome, birthday"))
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    language = forms.ChoiceField(
        label=_("Language"), choices=[("en", "English"), ("vi", "Tiếng Việt")]
    )
    subject = forms.CharField(label=_("Subject (email)"), max_length=200, required=False)
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}))
    marketing = forms.BooleanField(
        label=_("Marketing (not sent to people who opted out, waits for quiet hours)"),
        required=False,
    )


def _config_field_name(channel: str, provider: str, name: str) -> str:
    return f"{channel}__{provider}__{name}"


class ChannelSettingsForm(forms.Form):
    """Providers and senders; each provider's own settings are generated from its class."""

    sms_provider = forms.ChoiceField(label=_("SMS provider"), choices=SmsProvider.choices)
    sms_sender = forms.CharField(
        label=_("SMS sender (number or name)"), max_length=64, required=False
    )
    email_provider = forms.ChoiceField(label=_("Email provider"), choices=EmailProvider.choices)
    email_from = forms.CharField(label=_("Email from address"), max_length=254, required=False)
    quiet_hours_start = forms.TimeField(
        label=_("Quiet hours start"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    quiet_hours_end = forms.TimeField(
        label=_("Quiet hours end"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )

    def __init__(self, *args: Any, instance: ChannelSettings, **kwargs: Any):
        initial = {
            "sms_provider": instance.sms_provider,
            "sms_sender": instance.sms_sender,
            "email_provider": instance.email_provider,
            "email_from": instance.email_from,
            "quiet_hours_start": instance.quiet_hours_start,
            "quiet_hours_end": instance.quiet_hours_end,
        }
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.provider_fields: dict[tuple[str, str], list[str]] = {}
        for (channel, provider), cls in REGISTRY.items():
            saved = instance.sms_config if channel == "sms" else instance.email_config
            current = (instance.sms_provider if channel == "sms" else instance.email_provider) == (
                provider
            )
            names = []
            for field in cls.config_fields:
                name = _config_field_name(channel, provider, field.name)
                value = saved.get(field.name, field.default) if current else field.default
                if field.secret:
                    # A stored secret is never written back into the page: the field stays
                    # empty and says that a value is saved (and kept when left empty).
                    saved_note = _("saved, leave empty to keep") if current and value else ""
                    self.fields[name] = forms.CharField(
                        label=field.label,
                        required=False,
                        help_text=saved_note,
                        widget=forms.PasswordInput(
                            render_value=False, attrs={"placeholder": saved_note}
                        ),
                    )
                else:
                    self.fields[name] = forms.CharField(
                        label=field.label, required=False, initial=value
                    )
                names.append(name)
            self.provider_fields[(channel, provider)] = names

    def config(self, channel: str) -> dict[str, str]:
        provider = self.cleaned_data[f"{channel}_provider"]
        cls = REGISTRY.get((channel, provider))
        if cls is None:
            return {}
        return {
            f.name: (self.cleaned_data.get(_config_field_name(channel, provider, f.name)) or "")
            for f in cls.config_fields
        }

    def provider_groups(self) -> list[dict[str, Any]]:
        return [
            {
                "channel": channel,
                "provider": provider,
                "label": cls.label,
                "fields": [self[name] for name in self.provider_fields[(channel, provider)]],
            }
            for (channel, provider), cls in REGISTRY.items()
            if self.provider_fields[(channel, provider)]
        ]
