"""Writes to contacts: create, update, delete, tags and notes.

Each function takes the merchant and the actor, checks its input, writes in one
transaction and records what happened in the contact's activity.
"""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from patron.audit.services import audit_record, snapshot
from patron.contacts import events
from patron.contacts.models import Contact, ContactSource, ContactTag, Tag
from patron.lib.actors import Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.lib.phones import parse_phone
from patron.lib.text import fold
from patron.tenants.models import Merchant

UNSET: Any = object()
MAX_NOTE_LENGTH = 5000


class PhoneTaken(Conflict):
    code = "phone_taken"
    title = "Another contact already has this phone number"


class ContactNotFound(NotFound):
    code = "contact_not_found"
    title = "No such contact"


class EmptyContact(InvalidInput):
    code = "contact_needs_identity"
    title = "A contact needs a name, a phone number or an email"


def _clean_email(email: str | None) -> str | None:
    email = (email or "").strip().lower()
    if not email:
        return None
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvalidInput("This is not a valid email address.", field="email") from exc
    return email


def _clean_name(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if len(value) > 100:
        raise InvalidInput("A name has at most 100 characters.", field=field)
    return value


def _check_phone_free(merchant: Merchant, phone: str, exclude_id: int | None = None) -> None:
    taken = Contact.objects.filter(merchant=merchant, phone=phone, deleted_at__isnull=True)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    if taken.exists():
        raise PhoneTaken(field="phone")


def _refresh_search_text(contact: Contact) -> None:
    contact.search_text = fold(f"{contact.first_name} {contact.last_name} {contact.email or ''}")


def _audit_snapshot(contact: Contact) -> dict[str, Any] | None:
    return snapshot(contact, exclude=["search_text"])


def _save_unique(contact: Contact, **kwargs: Any) -> None:
    # The check above gives a friendly answer; the partial unique index is what holds
    # when two requests create the same phone at once.
    try:
        with transaction.atomic():
            contact.save(**kwargs)
    except IntegrityError as exc:
        raise PhoneTaken(field="phone") from exc


@transaction.atomic
def contact_create(
    *,
    merchant: Merchant,
    actor: Actor,
    first_name: str = "",
    last_name: str = "",
    phone: str | None = None,
    email: str | None = None,
    birthday: datetime.date | None = None,
    tags: list[str] | None = None,
    source: str = ContactSource.MANUAL,
    external_ids: dict[str, str] | None = None,
) -> Contact:
    contact = Contact(
        merchant=merchant,
        first_name=_clean_name(first_name, "first_name"),
        last_name=_clean_name(last_name, "last_name"),
        email=_clean_email(email),
        birthday=birthday,
        source=source,
        external_ids=external_ids or {},
    )
    if phone:
        contact.phone = parse_phone(phone, merchant.country)
        _check_phone_free(merchant, str(contact.phone))
    if not (contact.full_name or contact.phone or contact.email):
        raise EmptyContact()
    _refresh_search_text(contact)
    _save_unique(contact)
    events.contact_created(contact=contact, actor=actor)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="contacts.contact_create",
        obj=contact,
        after=_audit_snapshot(contact),
    )
    # Seed 004: POS and store customers with a phone become loyalty members.
    from patron.loyalty.services import member_on_contact_created

    member_on_contact_created(merchant=merchant, contact=contact, actor=actor)
    for name in tags or []:
        contact_tag_add(merchant=merchant, contact=contact, name=name, actor=actor)
    return contact


@transaction.atomic
def contact_update(
    *,
    merchant: Merchant,
    contact: Contact,
    actor: Actor,
    first_name: str | None = UNSET,
    last_name: str | None = UNSET,
    phone: str | None = UNSET,
    email: str | None = UNSET,
    birthday: datetime.date | None = UNSET,
) -> Contact:
    """Change the given fields; fields left UNSET keep their value."""
    contact = Contact.objects.select_for_update().get(merchant=merchant, pk=contact.pk)
    changes: dict[str, Any] = {}
    before = _audit_snapshot(contact)
    old_phone = str(contact.phone) if contact.phone else None

    def change(field: str, value: Any) -> None:
        old = getattr(contact, field)
        if str(old or "") != str(value or ""):
            changes[field] = {"from": str(old or ""), "to": str(value or "")}
            setattr(contact, field, value)

    if first_name is not UNSET:
        change("first_name", _clean_name(first_name, "first_name"))
    if last_name is not UNSET:
        change("last_name", _clean_name(last_name, "last_name"))
    if email is not UNSET:
        change("email", _clean_email(email))
    if birthday is not UNSET:
        change("birthday", birthday)
    if phone is not UNSET:
        new_phone = parse_phone(phone, merchant.country) if phone else None
        if new_phone:
            _check_phone_free(merchant, new_phone, exclude_id=contact.pk)
        change("phone", new_phone)
    if not changes:
        return contact
    if not (contact.full_name or contact.phone or contact.email):
        raise EmptyContact()
    contact.updated_at = timezone.now()
    _refresh_search_text(contact)
    _save_unique(contact)
    events.contact_updated(contact=contact, actor=actor, changes=changes)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="contacts.contact_update",
        obj=contact,
        before=before,
        after=_audit_snapshot(contact),
    )
    if "phone" in changes:
        # Seed 004: the membership stays with the old number; the new number gets its own.
        from patron.loyalty.services import member_on_phone_changed

        member_on_phone_changed(
            merchant=merchant, contact=contact, old_phone=old_phone, actor=actor
        )
    return contact


@transaction.atomic
def contact_delete(*, merchant: Merchant, contact: Contact, actor: Actor, reason: str) -> Contact:
    """Soft delete: the row stays for the ledger and reports, out of every list."""
    contact = Contact.objects.select_for_update().get(merchant=merchant, pk=contact.pk)
    if contact.deleted_at is not None:
        return contact
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the contact is deleted.", field="reason")
    before = _audit_snapshot(contact)
    contact.deleted_at = timezone.now()
    contact.deleted_by = actor.label
    contact.delete_reason = reason[:500]
    contact.save(update_fields=["deleted_at", "deleted_by", "delete_reason"])
    events.contact_deleted(contact=contact, actor=actor, reason=contact.delete_reason)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="contacts.contact_delete",
        obj=contact,
        before=before,
        after=_audit_snapshot(contact),
    )
    return contact


def _clean_tag_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise InvalidInput("A tag name has 1 to 100 characters.", field="name")
    return name


@transaction.atomic
def tag_ensure(*, merchant: Merchant, name: str, color: str | None = None) -> Tag:
    name = _clean_tag_name(name)
    tag = Tag.objects.filter(merchant=merchant, name__iexact=name).first()
    if tag is None:
        tag = Tag(merchant=merchant, name=name)
        if color:
            tag.color = color
        try:
            with transaction.atomic():
                tag.save()
        except IntegrityError:
            tag = Tag.objects.get(merchant=merchant, name=name)
    return tag


@transaction.atomic
def contact_tag_add(
    *, merchant: Merchant, contact: Contact, name: str, actor: Actor, color: str | None = None
) -> Tag:
    tag = tag_ensure(merchant=merchant, name=name, color=color)
    _, created = ContactTag.objects.get_or_create(contact=contact, tag=tag)
    if created:
        events.tag_added(contact=contact, tag=tag.name, actor=actor)
        audit_record(
            merchant=merchant,
            actor=actor,
            action="contacts.contact_tag_add",
            obj=contact,
            after={"tag": tag.name},
        )
    return tag


@transaction.atomic
def contact_tag_remove(*, merchant: Merchant, contact: Contact, name: str, actor: Actor) -> None:
    tag = Tag.objects.filter(merchant=merchant, name__iexact=_clean_tag_name(name)).first()
    deleted = 0
    if tag is not None:
        deleted, _ = ContactTag.objects.filter(contact=contact, tag=tag).delete()
    if not deleted:
        raise NotFound("The contact has no such tag.", field="name")
    events.tag_removed(contact=contact, tag=tag.name if tag else name, actor=actor)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="contacts.contact_tag_remove",
        obj=contact,
        before={"tag": tag.name if tag else name},
    )


@transaction.atomic
def note_add(*, merchant: Merchant, contact: Contact, text: str, actor: Actor) -> Any:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("A note cannot be empty.", field="text")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"A note has at most {MAX_NOTE_LENGTH} characters.", field="text")
    event = events.note_added(contact=contact, text=text, actor=actor)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="contacts.note_add",
        obj=contact,
        after={"note": text},
    )
    return event
