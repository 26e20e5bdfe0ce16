from django import forms
from django.utils.translation import gettext_lazy as _

from patron.integrations import selectors


class EndpointForm(forms.Form):
    url = forms.URLField(label=_("Endpoint URL"), max_length=500, assume_scheme="https")
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label=_("Events to send"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked to receive every event."),
    )
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["event_types"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(t, t) for t in selectors.event_types()]


class ShopifyStoreForm(forms.Form):
    shop_domain = forms.CharField(
        label=_("Shop domain"), max_length=255, help_text=_("e.g. your-store.myshopify.com")
    )
    access_token = forms.CharField(
        label=_("Admin API access token"),
        max_length=255,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored and never shown again. Leave empty to keep the current one."),
    )
    webhook_secret = forms.CharField(
        label=_("Webhook secret"),
        max_length=255,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored and never shown again. Leave empty to keep the current one."),
    )
    exclude_shipping = forms.BooleanField(
        label=_("No points on shipping"), required=False, initial=True
    )
    exclude_tax = forms.BooleanField(label=_("No points on tax"), required=False, initial=True)
    sync_coupons = forms.BooleanField(
        label=_("Create and delete discount codes in the store"), required=False, initial=True
    )
