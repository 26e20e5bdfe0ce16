from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from patron.tenants.models import Role


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STAFF)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ReasonForm(forms.Form):
    """The why of a destructive action, kept with the record of who did it."""

    reason = forms.CharField(
        label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Key name"), max_length=100, required=False)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
