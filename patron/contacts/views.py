"""Staff pages for contacts: the searchable list, Create Contact, and the profile."""

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.contacts import privacy, selectors, services
from patron.contacts.forms import (
    ContactEditForm,
    ContactFilterForm,
    ContactForm,
    EraseForm,
    NoteForm,
)
from patron.contacts.models import Contact
from patron.contacts.profile import profile_contact, profile_context
from patron.lib.errors import PatronError
from patron.tenants.http import StaffRequest
from patron.tenants.models import Role
from patron.tenants.permissions import staff_required

PAGE_SIZE = 25
ACTIVITY_SHOWN = 100


@staff_required()
def contact_list(request: StaffRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    filters = ContactFilterForm(request.merchant, request.GET)
    found = selectors.contact_search(request.merchant, q)
    if filters.is_valid():
        found = filters.apply(found)
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "section": "contacts",
        "q": q,
        "filters": filters,
        "page": page,
        "form": ContactForm(),
    }
    if request.htmx and request.htmx.target == "contact-results":
        return render(request, "contacts/_results.html", context)
    return render(request, "contacts/list.html", context)


@staff_required()
@require_POST
def contact_create(request: StaffRequest) -> HttpResponse:
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            contact = services.contact_create(
                merchant=request.merchant, actor=request.actor, **form.cleaned_data
            )
        except PatronError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            url = reverse("contacts:profile", args=[contact.pk])
            if request.POST.get("after") == "contact_points":
                # Seed 003: back to Contact Points, showing the new contact's Add Points.
                url = reverse("reports:contact_points") + f"?q={contact.pk}"
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = url
                return response
            return redirect(url)
    context = {"form": form, "after": request.POST.get("after", "")}
    return render(request, "contacts/_create_form.html", context, status=422)


@staff_required()
def contact_profile(request: StaffRequest, contact_id: int) -> HttpResponse:
    """The Activity tab, where a profile opens by default (seed 002)."""
    contact = profile_contact(request, contact_id)
    context = profile_context(request, contact, "activity")
    context.update(
        events=selectors.activity(request.merchant, contact)[:ACTIVITY_SHOWN],
        note_form=NoteForm(),
    )
    return render(request, "contacts/profile.html", context)


@staff_required()
@require_POST
def note_add(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = profile_contact(request, contact_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.note_add(
                merchant=request.merchant,
                contact=contact,
                text=form.cleaned_data["text"],
                actor=request.actor,
            )
        except PatronError as error:
            form.add_error("text", error.message)
        else:
            form = NoteForm()
    context = {
        "contact": contact,
        "events": selectors.activity(request.merchant, contact)[:ACTIVITY_SHOWN],
        "note_form": form,
        "saved": not form.errors,
        "message": _("Note added.") if not form.errors else "",
    }
    if request.htmx:
        return render(request, "contacts/_activity.html", context)
    return redirect("contacts:profile", contact_id=contact.pk)


def _said(error: PatronError) -> str:
    """A refusal of the contacts services in the person's language."""
    said = {
        "phone_taken": _("Another contact already has this phone number."),
        "invalid_phone": _("This is not a valid phone number."),
        "contact_needs_identity": _("A contact needs a name, a phone number or an email."),
    }
    if error.code in said:
        return said[error.code]
    if error.field == "email":
        return _("This is not a valid email address.")
    if error.field in {"first_name", "last_name"}:
        return _("A name has at most 100 characters.")
    if error.field == "name":
        return _("A tag name has 1 to 100 characters.")
    return error.message


class _Refused(Exception):
    def __init__(self, error: PatronError):
        self.error = error


def _save_contact(request: StaffRequest, contact: Contact, form: ContactEditForm) -> None:
    """The contact's fields through contact_update (seed 004's phone rule applies there),
    then the tags added and removed; all or nothing."""
    data = form.cleaned_data
    wanted = form.tag_names()
    current = selectors.contact_tag_names(contact)
    try:
        with transaction.atomic():
            services.contact_update(
                merchant=request.merchant,
                contact=contact,
                actor=request.actor,
                first_name=data["first_name"],
                last_name=data["last_name"],
                phone=data["phone"] or None,
                email=data["email"] or None,
                birthday=data["birthday"],
            )
            keep = {name.lower() for name in wanted}
            for name in current:
                if name.lower() not in keep:
                    services.contact_tag_remove(
                        merchant=request.merchant, contact=contact, name=name, actor=request.actor
                    )
            have = {name.lower() for name in current}
            for name in wanted:
                if name.lower() not in have:
                    services.contact_tag_add(
                        merchant=request.merchant, contact=contact, name=name, actor=request.actor
                    )
    except PatronError as error:
        raise _Refused(error) from error


@staff_required()
def contact_edit(request: StaffRequest, contact_id: int) -> HttpResponse:
    """ "Edit contact": names, phone in any format, email, birthday and tags."""
    contact = profile_contact(request, contact_id)
    if request.method == "POST":
        form = ContactEditForm(request.POST)
        if form.is_valid():
            try:
                _save_contact(request, contact, form)
            except _Refused as refused:
                error = refused.error
                field = error.field if error.field in form.fields else None
                if error.field == "name":
                    field = "tags"
                form.add_error(field, _said(error))
            else:
                messages.success(request, _("Contact saved."))
                return redirect("contacts:profile", contact_id=contact.pk)
        status = 422
    else:
        form = ContactEditForm(
            initial={
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "phone": contact.phone or "",
                "email": contact.email or "",
                "birthday": contact.birthday,
                "tags": ", ".join(selectors.contact_tag_names(contact)),
            }
        )
        status = 200
    context = {"section": "contacts", "contact": contact, "form": form}
    return render(request, "contacts/edit.html", context, status=status)


@staff_required(Role.MANAGER)
def contact_export(request: StaffRequest, contact_id: int) -> HttpResponse:
    """ "Export data": everything held about the contact, as a JSON download."""
    contact = profile_contact(request, contact_id)
    document = privacy.contact_export(
        merchant=request.merchant, contact=contact, actor=request.actor
    )
    response = HttpResponse(
        json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
    return response


@staff_required(Role.MANAGER)
@require_POST
def contact_erase(request: StaffRequest, contact_id: int) -> HttpResponse:
    """ "Erase contact": personal data removed for good; ledgers and totals stay."""
    contact = profile_contact(request, contact_id)
    form = EraseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the contact is erased."))
        return redirect("contacts:profile", contact_id=contact.pk)
    privacy.contact_erase(
        merchant=request.merchant,
        contact=contact,
        actor=request.actor,
        reason=form.cleaned_data["reason"],
    )
    messages.success(request, _("The contact's personal data was erased."))
    return redirect("contacts:list")
