"""Writes to contacts: create, update, delete, tags and notes.

Each function takes the merchant and the actor, checks its input, writes in one
transaction and records what happened in the contact's activity.
"""

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import CharField, ExpressionWrapper, F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from patron.audit.services import audit_entry, audit_record, audit_record_many, snapshot
from patron.contacts import events
from patron.contacts.models import Contact, ContactSource, ContactTag, Tag
from patron.lib.actors import Actor
from patron.lib.bulk import bulk_insert
from patron.lib.errors import Conflict, InvalidInput, NotFound, PatronError
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


# --- many at once (the CSV import) -------------------------------------------------------


@dataclass
class ImportedContact:
    """One customer row of a file, parsed.

    `values` holds the fields the row gives (first_name, last_name, phone in E.164 as
    parse_phone gives it, email, birthday, tags); a field it leaves out keeps its stored
    value. `keys` say which
    customer the row is about ("ext:<id>", "phone:<e164>"): two rows sharing a key are
    one customer, and the later one is reported as a duplicate. `known_ids` are the
    contacts an earlier import made of the row's external id.
    """

    number: int
    values: dict[str, Any]
    keys: list[str]
    known_ids: list[int] = field(default_factory=list)
    external_ids: dict[str, str] = field(default_factory=dict)
    # values["phone"] as parse_phone_number gave it, which a new contact takes as it is
    # (parsing the text again would cost more than the rest of the row's checks).
    phone_number: PhoneNumber | None = None


@dataclass
class ImportOutcome:
    outcome: str  # "created", "updated", "unchanged" or "error"
    message: str = ""
    contact: Contact | None = None
    duplicate_of: int | None = None  # the number of the earlier row with the same key
    # An error's code ("duplicate" or the PatronError's) and what its message quotes.
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Planned:
    row: ImportedContact
    contact: Contact
    created: bool
    changes: dict[str, dict[str, str]] = field(default_factory=dict)
    new_tags: list[str] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # A new phone moves the membership (seed 004): that row goes through contact_update.
    phone_kwargs: dict[str, Any] | None = None


_IMPORTED_FIELDS = ("first_name", "last_name", "email", "birthday", "phone")


class _Import:
    """The rows of one call to `contacts_import`, decided in order in memory, as if each
    were written before the next is read: a row sees what the rows before it did."""

    def __init__(self, merchant: Merchant, rows: list[ImportedContact], *, lock: bool) -> None:
        self.merchant = merchant
        phones = {row.values["phone"] for row in rows if row.values.get("phone")}
        known = {pk for row in rows for pk in row.known_ids}
        found: list[Contact] = []
        if phones or known:
            # The rows' phones are E.164 already, as stored: compared as text, so the
            # phone field does not parse and validate each number again.
            stored_phone = ExpressionWrapper(F("phone"), output_field=CharField())
            query = (
                Contact.objects.filter(merchant=merchant, deleted_at__isnull=True)
                .alias(stored_phone=stored_phone)
                .filter(Q(pk__in=known) | Q(stored_phone__in=phones))
            )
            # Locked in primary-key order, as contact_update locks each one.
            found = list(query.select_for_update().order_by("pk") if lock else query)
        self.by_pk = {contact.pk: contact for contact in found}
        self.by_phone = {str(contact.phone): contact for contact in found if contact.phone}
        self.tags: dict[int, set[str]] = {}
        if found and any(row.values.get("tags") for row in rows):
            links = ContactTag.objects.filter(contact_id__in=self.by_pk).values_list(
                "contact_id", "tag__name"
            )
            for contact_id, name in links:
                self.tags.setdefault(contact_id, set()).add(name.lower())
        self.planned: list[_Planned] = []

    def find(self, row: ImportedContact) -> Contact | None:
        live = [self.by_pk[pk] for pk in sorted(row.known_ids) if pk in self.by_pk]
        if live:
            return live[0]
        phone = row.values.get("phone")
        return self.by_phone.get(phone) if phone else None

    def decide(self, row: ImportedContact) -> ImportOutcome:
        values = row.values
        tags: dict[str, str] = {}
        for text in values.get("tags") or []:
            name = _clean_tag_name(text)
            tags.setdefault(name.lower(), name)
        contact = self.find(row)
        if contact is None:
            return self._create(row, values, list(tags.values()))
        return self._update(row, contact, values, tags)

    def _create(
        self, row: ImportedContact, values: dict[str, Any], tags: list[str]
    ) -> ImportOutcome:
        contact = Contact(
            merchant=self.merchant,
            first_name=_clean_name(values.get("first_name"), "first_name"),
            last_name=_clean_name(values.get("last_name"), "last_name"),
            email=_clean_email(values.get("email")),
            birthday=values.get("birthday"),
            phone=row.phone_number or values.get("phone") or None,
            source=ContactSource.IMPORT,
            external_ids=row.external_ids,
        )
        if not (contact.full_name or contact.phone or contact.email):
            raise EmptyContact()
        _refresh_search_text(contact)
        if values.get("phone"):
            self.by_phone[values["phone"]] = contact
        self.tags[id(contact)] = {name.lower() for name in tags}
        self.planned.append(_Planned(row, contact, created=True, new_tags=tags))
        return ImportOutcome("created", contact=contact)

    def _update(
        self, row: ImportedContact, contact: Contact, values: dict[str, Any], tags: dict[str, str]
    ) -> ImportOutcome:
        changes: dict[str, dict[str, str]] = {}
        new_values: dict[str, Any] = {}
        for name in _IMPORTED_FIELDS:
            if name not in values:
                continue
            value = values[name]
            if name in ("first_name", "last_name"):
                value = _clean_name(value, name)
            elif name == "email":
                value = _clean_email(value)
            old = getattr(contact, name)
            if str(old or "") != str(value or ""):
                changes[name] = {"from": str(old or ""), "to": str(value or "")}
                new_values[name] = value
        if "phone" in new_values:
            holder = self.by_phone.get(new_values["phone"])
            if holder is not None and holder is not contact:
                raise PhoneTaken(field="phone")
        current = self.tags.setdefault(contact.pk or id(contact), set())
        new_tags = [name for lower, name in tags.items() if lower not in current]
        if not changes and not new_tags:
            return ImportOutcome("unchanged", contact=contact)
        planned = _Planned(row, contact, created=False, changes=changes, new_tags=new_tags)
        if changes:
            planned.before = _audit_snapshot(contact)
            if "phone" in new_values:
                planned.phone_kwargs = dict(new_values)
                self.by_phone.pop(str(contact.phone or ""), None)
                self.by_phone[new_values["phone"]] = contact
            for name, value in new_values.items():
                setattr(contact, name, value)
            contact.updated_at = timezone.now()
            _refresh_search_text(contact)
            planned.after = _audit_snapshot(contact)
        current.update(tags)
        self.planned.append(planned)
        message = ", ".join(sorted([*changes, *(["tags"] if new_tags else [])]))
        return ImportOutcome("updated", message, contact)

    def save(self, actor: Actor) -> None:
        merchant = self.merchant
        # Phone changes first: the number a contact leaves may be the one a new contact
        # of this call takes. contact_update detaches and makes the memberships.
        for planned in self.planned:
            if planned.phone_kwargs is not None:
                contact_update(
                    merchant=merchant, contact=planned.contact, actor=actor, **planned.phone_kwargs
                )
        created = [p.contact for p in self.planned if p.created]
        # The partial unique index on the phone holds against a concurrent writer: the
        # IntegrityError rolls this call back and the caller decides again.
        bulk_insert(created)
        updated = {
            id(p.contact): p.contact
            for p in self.planned
            if p.changes and p.phone_kwargs is None and not p.created
        }
        if updated:
            Contact.objects.bulk_update(
                list(updated.values()),
                ["first_name", "last_name", "email", "birthday", "search_text", "updated_at"],
            )
        members = self._members(
            [
                (p.contact, p.row.values["phone"])
                for p in self.planned
                if p.created and p.row.values.get("phone")
            ],
            actor,
        )
        tags = self._tags()
        items: list[tuple[str, Contact | None, dict[str, Any]]] = []
        trail: list[Any] = []
        for planned in self.planned:
            contact = planned.contact
            if planned.created:
                data = {"source": contact.source, "phone": planned.row.values.get("phone") or ""}
                items.append(("contact_created", contact, data))
                trail.append(
                    audit_entry(
                        merchant=merchant,
                        actor=actor,
                        action="contacts.contact_create",
                        obj=contact,
                        after=_audit_snapshot(contact),
                    )
                )
                member = members.get(contact.pk)
                if member is not None:
                    data = {"member_id": str(member.pk), "phone": member.phone}
                    items.append(("member_created", contact, {**data, "status": member.status}))
            elif planned.changes and planned.phone_kwargs is None:
                items.append(("contact_updated", contact, {"changes": planned.changes}))
                trail.append(
                    audit_entry(
                        merchant=merchant,
                        actor=actor,
                        action="contacts.contact_update",
                        obj=contact,
                        before=planned.before,
                        after=planned.after,
                    )
                )
            for name in planned.new_tags:
                tag = tags[name.lower()]
                items.append(("tag_added", contact, {"tag": tag.name}))
                trail.append(
                    audit_entry(
                        merchant=merchant,
                        actor=actor,
                        action="contacts.contact_tag_add",
                        obj=contact,
                        after={"tag": tag.name},
                    )
                )
        events.record_many(merchant=merchant, actor=actor, items=items)
        audit_record_many(trail)

    def _members(self, created: list[tuple[Contact, str]], actor: Actor) -> dict[int, Any]:
        """Seed 004, as contact_create does: imported contacts with a phone become members.

        The common case (a number with no membership yet, no activation on creation) is
        one insert; the rest takes member_on_contact_created one by one."""
        from patron.loyalty import selectors as loyalty_selectors
        from patron.loyalty.models import Member
        from patron.loyalty.services import AUTO_MEMBER_SOURCES, member_on_contact_created

        with_phone = [(c, phone) for c, phone in created if c.source in AUTO_MEMBER_SOURCES]
        if not with_phone:
            return {}
        taken = set(
            Member.objects.filter(
                merchant=self.merchant,
                deleted_at__isnull=True,
                phone__in=[phone for _c, phone in with_phone],
            ).values_list("phone", flat=True)
        )
        one_by_one = loyalty_selectors.program(self.merchant).activate_on_create
        new = []
        for contact, phone in with_phone:
            if one_by_one or phone in taken:
                member_on_contact_created(merchant=self.merchant, contact=contact, actor=actor)
            else:
                member = Member(merchant=self.merchant, contact=contact, phone=phone)
                member.status_changed_by = actor.label
                new.append(member)
        bulk_insert(new)
        return {member.contact_id or 0: member for member in new}

    def _tags(self) -> dict[str, Tag]:
        """The tags the rows add, by lower-case name (found like tag_ensure, else made),
        and the contacts' links to them."""
        names: dict[str, str] = {}
        for planned in self.planned:
            for name in planned.new_tags:
                names.setdefault(name.lower(), name)
        if not names:
            return {}

        def existing() -> dict[str, Tag]:
            found: dict[str, Tag] = {}
            query = (
                Tag.objects.filter(merchant=self.merchant)
                .annotate(lower=Lower("name"))
                .filter(Q(lower__in=list(names)) | Q(name__in=list(names.values())))
                .order_by("pk")
            )
            for tag in query:
                found.setdefault(tag.name.lower(), tag)
            return found

        tags = existing()
        missing = [Tag(merchant=self.merchant, name=n) for k, n in names.items() if k not in tags]
        if missing:
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            tags = existing()
        links = [
            ContactTag(contact=planned.contact, tag=tags[name.lower()])
            for planned in self.planned
            for name in planned.new_tags
        ]
        ContactTag.objects.bulk_create(links, ignore_conflicts=True)
        return tags


@transaction.atomic
def contacts_import(
    *,
    merchant: Merchant,
    actor: Actor,
    rows: list[ImportedContact],
    seen: dict[str, int],
    dry_run: bool = False,
) -> list[ImportOutcome]:
    """Create or update the contacts of many rows at once, in a few queries, with what
    `contact_create`, `contact_update` and `contact_tag_add` write for each: activity
    events (fanned out to webhooks and automations), the audit trail, memberships, tags.

    A contact is found by the row's `known_ids`, else by its phone. `seen` maps the keys
    of earlier rows to their numbers; a row with a key already seen is a duplicate, and
    each row that is not an error adds its keys. The dry run decides the same way and
    writes nothing. Returns one outcome per row, in order.
    """
    plan = _Import(merchant, rows, lock=not dry_run)
    outcomes: list[ImportOutcome] = []
    for row in rows:
        earlier = [seen[key] for key in row.keys if key in seen]
        if earlier:
            first = min(earlier)
            outcomes.append(
                ImportOutcome(
                    "error",
                    f"Duplicate of row {first}.",
                    duplicate_of=first,
                    code="duplicate",
                    params={"row": first},
                )
            )
            continue
        try:
            outcome = plan.decide(row)
        except PatronError as exc:
            params = {"field": exc.field} if exc.field else {}
            outcomes.append(ImportOutcome("error", exc.message, code=exc.code, params=params))
            continue
        for key in row.keys:
            seen.setdefault(key, row.number)
        outcomes.append(outcome)
    if not dry_run:
        plan.save(actor)
    else:
        for outcome in outcomes:
            outcome.contact = None
    return outcomes
