from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from patron.contacts.models import Contact, Tag
from patron.loyalty.selectors import members
from patron.tenants.models import Merchant


class ContactForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    birthday = forms.DateField(
        label=_("Birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class ContactEditForm(ContactForm):
    """ "Edit contact": the Create Contact fields and the tags, comma-separated."""

    birthday = forms.DateField(
        label=_("Birthday"),
        required=False,
        # ISO whatever the language: a date input reads only yyyy-mm-dd.
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    tags = forms.CharField(label=_("Tags (separated by commas)"), max_length=1000, required=False)

    def tag_names(self) -> list[str]:
        names: dict[str, str] = {}
        for part in self.cleaned_data.get("tags", "").split(","):
            name = " ".join(part.split())
            if name:
                names.setdefault(name.lower(), name)
        return list(names.values())


class EraseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )


class ContactFilterForm(forms.Form):
    """The filters above the Contacts list; every choice narrows the search."""

    state = forms.ChoiceField(
        label=_("Member state"),
        required=False,
        choices=[
            ("", _("All member states")),
            ("active", _("Activated")),
            ("not_activated", _("Not activated")),
            ("excluded", _("Excluded")),
            ("none", _("Not a member")),
        ],
    )
    tag = forms.ChoiceField(label=_("Tag"), required=False)

    def __init__(self, merchant: Merchant, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        tags = Tag.objects.filter(merchant=merchant).order_by("name")
        tag_field: Any = self.fields["tag"]
        tag_field.choices = [("", _("All tags"))] + [(t.name, t.name) for t in tags]

    def apply(self, found: QuerySet[Contact]) -> QuerySet[Contact]:
        state = self.cleaned_data.get("state")
        if state == "none":
            found = found.exclude(
                # NOT IN with a NULL in the list matches nothing: leave detached members out.
                pk__in=members(self.merchant).filter(contact__isnull=False).values("contact_id")
            )
        elif state:
            found = found.filter(pk__in=members(self.merchant, state).values("contact_id"))
        tag = self.cleaned_data.get("tag")
        if tag:
            found = found.filter(contact_tags__tag__name=tag)
        return found
