"""The staff form for Settings > Customer page."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from patron.portal.models import BOUNDS, PortalSettings


def _bounded(label: Any, name: str, help_text: Any) -> forms.IntegerField:
    bound = BOUNDS[name]
    return forms.IntegerField(
        label=label, min_value=bound.low, max_value=bound.high, help_text=help_text
    )


class PortalSettingsForm(forms.Form):
    logo_url = forms.URLField(label=_("Logo address (https://…)"), required=False, max_length=500)
    primary_color = forms.CharField(
        label=_("Main colour"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    accent_color = forms.CharField(
        label=_("Accent colour"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "color"}),
    )
    allow_self_join = forms.BooleanField(
        label=_("Customers may join on the page (with their consent)"), required=False
    )
    site_origins = forms.CharField(
        label=_("Your web sites that show the widget"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One per line, like https://shop.example.com. Only these may frame the page."),
    )
    code_ttl_minutes = _bounded(_("Code valid for (minutes)"), "code_ttl_minutes", _("2 to 30"))
    max_attempts = _bounded(_("Wrong tries before a code locks"), "max_attempts", _("3 to 10"))
    sends_per_phone_per_hour = _bounded(
        _("Codes per phone number per hour"), "sends_per_phone_per_hour", _("1 to 10")
    )
    sends_per_address_per_hour = _bounded(
        _("Codes per connection per hour"), "sends_per_address_per_hour", _("1 to 50")
    )
    session_minutes = _bounded(
        _("Customer stays signed in for (minutes)"), "session_minutes", _("5 to 240")
    )

    @staticmethod
    def initial_for(settings: PortalSettings) -> dict[str, Any]:
        return {
            "logo_url": settings.logo_url,
            "primary_color": settings.color(),
            "accent_color": settings.accent(),
            "allow_self_join": settings.allow_self_join,
            "site_origins": settings.site_origins,
            **{name: getattr(settings, name) for name in BOUNDS},
        }
