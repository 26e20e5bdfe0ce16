"""Contacts, tags, notes and activity in the public API."""

import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from patron.api.core import tenant
from patron.api.pagination import paginate
from patron.api.schemas import ERRORS
from patron.contacts import privacy, selectors, services
from patron.contacts.models import ActivityEvent, Contact, ContactSource
from patron.contacts.services import ContactNotFound

router = Router(tags=["contacts"])


class ContactIn(Schema):
    first_name: str = Field("", max_length=100)
    last_name: str = Field("", max_length=100)
    phone: str | None = Field(
        None, max_length=40, description="Any format; parsed with the merchant's country"
    )
    email: str | None = Field(None, max_length=254)
    birthday: datetime.date | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    external_ids: dict[str, str] = Field(default_factory=dict)


class ContactPatch(Schema):
    first_name: str | None = Field(None, max_length=100)
    last_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    birthday: datetime.date | None = None


class ContactOut(Schema):
    id: str
    first_name: str
    last_name: str
    phone: str | None
    email: str | None
    birthday: datetime.date | None
    tags: list[str]
    source: str
    external_ids: dict[str, str]
    created_at: datetime.datetime

    @staticmethod
    def from_contact(contact: Contact) -> "ContactOut":
        return ContactOut(
            id=str(contact.pk),
            first_name=contact.first_name,
            last_name=contact.last_name,
            phone=str(contact.phone) if contact.phone else None,
            email=contact.email,
            birthday=contact.birthday,
            tags=selectors.contact_tag_names(contact),
            source=contact.source,
            external_ids=contact.external_ids,
            created_at=contact.created_at,
        )


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


class ContactDeleteIn(Schema):
    reason: str = Field("Deleted through the API", max_length=500)


class TagIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")


class NoteIn(Schema):
    text: str = Field(..., min_length=1, max_length=services.MAX_NOTE_LENGTH)


class ActivityOut(Schema):
    id: str
    type: str
    at: datetime.datetime
    actor: dict[str, str]
    data: dict[str, Any]

    @staticmethod
    def from_event(event: ActivityEvent) -> "ActivityOut":
        return ActivityOut(
            id=str(event.pk),
            type=event.type,
            at=event.at,
            actor=event.actor.as_dict(),
            data=event.data,
        )


class ActivityPage(Schema):
    items: list[ActivityOut]
    next_cursor: str | None


def _contact(request: HttpRequest, contact_id: str) -> Contact:
    merchant, _ = tenant(request)
    contact = selectors.contact_get(merchant, contact_id)
    if contact is None:
        raise ContactNotFound()
    return contact


@router.get("/contacts", response=ContactPage, summary="Search contacts")
def list_contacts(
    request: HttpRequest,
    q: str | None = Query(
        None, max_length=200, description="Name, phone in any format, email or id"
    ),
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> ContactPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.contact_search(merchant, q), cursor, limit)
    return ContactPage(
        items=[ContactOut.from_contact(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.post("/contacts", response={201: ContactOut, **ERRORS}, summary="Create a contact")
def create_contact(request: HttpRequest, payload: ContactIn) -> tuple[int, ContactOut]:
    merchant, actor = tenant(request)
    contact = services.contact_create(
        merchant=merchant,
        actor=actor,
        first_name=payload.first_name,
        last_name=payload.last_name,
        phone=payload.phone,
        email=payload.email,
        birthday=payload.birthday,
        tags=payload.tags,
        source=ContactSource.API,
        external_ids=payload.external_ids,
    )
    return 201, ContactOut.from_contact(_contact(request, str(contact.pk)))


@router.get("/contacts/{contact_id}", response={200: ContactOut, **ERRORS})
def get_contact(request: HttpRequest, contact_id: str) -> ContactOut:
    return ContactOut.from_contact(_contact(request, contact_id))


@router.patch("/contacts/{contact_id}", response={200: ContactOut, **ERRORS})
def update_contact(request: HttpRequest, contact_id: str, payload: ContactPatch) -> ContactOut:
    merchant, actor = tenant(request)
    contact = _contact(request, contact_id)
    fields = payload.model_dump(exclude_unset=True)
    services.contact_update(merchant=merchant, contact=contact, actor=actor, **fields)
    return ContactOut.from_contact(_contact(request, contact_id))


@router.delete("/contacts/{contact_id}", response={204: None, **ERRORS})
def delete_contact(
    request: HttpRequest, contact_id: str, payload: ContactDeleteIn | None = None
) -> tuple[int, None]:
    merchant, actor = tenant(request)
    reason = payload.reason if payload else "Deleted through the API"
    services.contact_delete(
        merchant=merchant, contact=_contact(request, contact_id), actor=actor, reason=reason
    )
    return 204, None


@router.post("/contacts/{contact_id}/tags", response={201: ContactOut, **ERRORS})
def add_tag(request: HttpRequest, contact_id: str, payload: TagIn) -> tuple[int, ContactOut]:
    merchant, actor = tenant(request)
    contact = _contact(request, contact_id)
    services.contact_tag_add(
        merchant=merchant, contact=contact, name=payload.name, color=payload.color, actor=actor
    )
    return 201, ContactOut.from_contact(_contact(request, contact_id))


@router.delete("/contacts/{contact_id}/tags/{name}", response={200: ContactOut, **ERRORS})
def remove_tag(request: HttpRequest, contact_id: str, name: str) -> ContactOut:
    merchant, actor = tenant(request)
    contact = _contact(request, contact_id)
    services.contact_tag_remove(merchant=merchant, contact=contact, name=name, actor=actor)
    return ContactOut.from_contact(_contact(request, contact_id))


@router.get("/contacts/{contact_id}/activity", response={200: ActivityPage, **ERRORS})
def list_activity(
    request: HttpRequest,
    contact_id: str,
    cursor: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=200),
) -> ActivityPage:
    merchant, _ = tenant(request)
    page = paginate(selectors.activity(merchant, _contact(request, contact_id)), cursor, limit)
    return ActivityPage(
        items=[ActivityOut.from_event(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.post("/contacts/{contact_id}/notes", response={201: ActivityOut, **ERRORS})
def add_note(request: HttpRequest, contact_id: str, payload: NoteIn) -> tuple[int, ActivityOut]:
    merchant, actor = tenant(request)
    event = services.note_add(
        merchant=merchant, contact=_contact(request, contact_id), text=payload.text, actor=actor
    )
    return 201, ActivityOut.from_event(event)


@router.get(
    "/contacts/{contact_id}/export",
    response={200: dict[str, Any], **ERRORS},
    summary="Export all data of a contact as JSON",
)
def export_contact(request: HttpRequest, contact_id: str) -> dict[str, Any]:
    merchant, actor = tenant(request)
    contact = _contact(request, contact_id)
    return privacy.contact_export(merchant=merchant, contact=contact, actor=actor)


@router.post(
    "/contacts/{contact_id}/erase",
    response={204: None, **ERRORS},
    summary="Erase a contact's personal data (ledger totals and reports stay)",
)
def erase_contact(request: HttpRequest, contact_id: str) -> tuple[int, None]:
    merchant, actor = tenant(request)
    privacy.contact_erase(merchant=merchant, contact=_contact(request, contact_id), actor=actor)
    return 204, None
