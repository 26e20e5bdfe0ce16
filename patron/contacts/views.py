"""Staff pages for contacts: the searchable list, Create Contact, and the profile."""

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.contacts import selectors, services
from patron.contacts.forms import ContactFilterForm, ContactForm, NoteForm
from patron.contacts.profile import profile_contact, profile_context
from patron.lib.errors import PatronError
from patron.tenants.http import StaffRequest
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
