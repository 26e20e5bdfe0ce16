"""Writes of the customer page: its settings, asking for a code, confirming it, joining.

The rules that keep the page safe live here, not in the views:
- the answer to "send me a code" never depends on whether the number is a member's
  (a non-member gets a code row too, only nothing is sent, or an invite code when the
  merchant lets customers join on their own);
- codes expire, are single use, and die after a few wrong tries;
- sends are limited per phone and per client address, counted under a lock so that
  requests racing each other cannot send more than the limit.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from hmac import compare_digest
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from patron.contacts import services as contact_services
from patron.contacts.models import Contact, ContactSource
from patron.lib.actors import Actor
from patron.lib.errors import Conflict, Forbidden, InvalidInput, PatronError
from patron.lib.phones import parse_phone
from patron.loyalty import selectors as loyalty
from patron.loyalty import services as loyalty_services
from patron.loyalty.models import Member
from patron.messaging.services import message_send
from patron.portal import events
from patron.portal.models import BOUNDS, OneTimeCode, PortalSettings
from patron.tenants.models import Merchant

CODE_DIGITS = 6
SEND_WINDOW = timedelta(hours=1)
PAGE_ACTOR = Actor.system("Customer page")
HEX_COLOR_LENGTH = 7


class CodeRefused(InvalidInput):
    code = "portal_code_refused"
    title = "That code is not right or has expired"


class CodeLocked(Conflict):
    code = "portal_code_locked"
    title = "Too many wrong tries for this code"


class TooManyCodes(PatronError):
    status = 429
    code = "portal_too_many_codes"
    title = "Too many codes were asked for"


class JoinClosed(Forbidden):
    code = "portal_join_closed"
    title = "Joining on this page is not open"


class ConsentRequired(InvalidInput):
    code = "portal_consent_required"
    title = "Joining needs your consent"


def hash_code(merchant: Merchant, phone: str, code: str) -> str:
    # Keyed by the secret key and bound to the merchant and phone, so a stored hash
    # is useless for any other number and cannot be reversed by trying a million codes
    # without the key.
    value = f"{merchant.pk}:{phone}:{code.strip()}"
    return salted_hmac("patron.portal.code", value, algorithm="sha256").hexdigest()


def customer_actor(member: Member | None, phone: str) -> Actor:
    contact_id = getattr(member, "contact_id", None) if member is not None else None
    return Actor.customer(contact_id or "", label=f"Customer {phone}")


def _clean_color(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    digits = value.removeprefix("#")
    if len(value) != HEX_COLOR_LENGTH or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise InvalidInput(_("A colour is written like #2563eb."), field=field)
    return value.lower()


def _clean_origins(text: str) -> str:
    origins = []
    for line in (text or "").splitlines():
        origin = line.strip().rstrip("/")
        if not origin:
            continue
        scheme, sep, rest = origin.partition("://")
        if scheme not in {"http", "https"} or not sep or not rest or "/" in rest or " " in rest:
            raise InvalidInput(
                _("Write each web site as its origin, like https://shop.example.com."),
                field="site_origins",
            )
        origins.append(origin.lower())
    return "\n".join(dict.fromkeys(origins))


@transaction.atomic
def portal_settings_update(*, merchant: Merchant, actor: Actor, **values: Any) -> PortalSettings:
    """Change the customer page's settings; numbers are held within their safe bounds."""
    settings, _created = PortalSettings.objects.select_for_update().get_or_create(merchant=merchant)
    for name, bound in BOUNDS.items():
        if name in values:
            setattr(settings, name, bound.clamp(values[name]))
    if "logo_url" in values:
        settings.logo_url = (values["logo_url"] or "").strip()
        if settings.logo_url and not settings.logo_url.startswith("https://"):
            raise InvalidInput(_("The logo must be an https:// address."), field="logo_url")
    for name in ("primary_color", "accent_color"):
        if name in values:
            setattr(settings, name, _clean_color(values[name], name))
    if "allow_self_join" in values:
        settings.allow_self_join = bool(values["allow_self_join"])
    if "site_origins" in values:
        settings.site_origins = _clean_origins(values["site_origins"])
    settings.updated_at = timezone.now()
    settings.save()
    events.portal_settings_changed(merchant=merchant, actor=actor)
    return settings


def _is_known(merchant: Merchant, phone: str) -> bool:
    if loyalty.member_for_phone(merchant, phone) is not None:
        return True
    return Contact.objects.filter(merchant=merchant, phone=phone, deleted_at__isnull=True).exists()


@transaction.atomic
def code_request(*, merchant: Merchant, phone: str, client_address: str | None) -> OneTimeCode:
    """Ask for a sign-in code for a phone number typed on the customer page.

    Returns the code row whether or not anything was sent: callers must answer the same
    either way. Raises InvalidPhone for a number that cannot be parsed and TooManyCodes
    beyond the send limits.
    """
    phone = parse_phone(phone, merchant.country)
    # The settings row is the lock: every send of this merchant counts and inserts
    # under it, so two requests at once cannot both see "2 of 3" and send a 4th.
    settings, _created = PortalSettings.objects.select_for_update().get_or_create(merchant=merchant)
    now = timezone.now()
    recent = OneTimeCode.objects.filter(merchant=merchant, created_at__gt=now - SEND_WINDOW)
    if recent.filter(phone=phone).count() >= settings.sends_per_phone_per_hour:
        raise TooManyCodes(field="phone")
    if client_address and (
        recent.filter(client_address=client_address).count() >= settings.sends_per_address_per_hour
    ):
        raise TooManyCodes(field="phone")
    # A new code retires the older ones: only the latest can be confirmed.
    OneTimeCode.objects.filter(merchant=merchant, phone=phone, expires_at__gt=now).update(
        expires_at=now
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = OneTimeCode.objects.create(
        merchant=merchant,
        phone=phone,
        code_hash=hash_code(merchant, phone, code),
        expires_at=now + timedelta(minutes=settings.code_ttl_minutes),
        client_address=client_address or None,
    )
    if _is_known(merchant, phone):
        body = _("%(code)s is your code for %(merchant)s. It expires in %(minutes)s minutes.")
    elif settings.allow_self_join:
        body = _(
            "%(code)s is your code to join the rewards of %(merchant)s. "
            "It expires in %(minutes)s minutes."
        )
    else:
        return row
    _send_code(
        merchant,
        row,
        body
        % {
            "code": code,
            "merchant": merchant.name,
            "minutes": settings.code_ttl_minutes,
        },
    )
    return row


def _send_code(merchant: Merchant, row: OneTimeCode, body: str) -> None:
    # Sent to the number, not the contact: the code must not sit in the contact's
    # activity where any staff member could read it and sign in as the customer.
    message_send(
        merchant=merchant,
        channel="sms",
        actor=PAGE_ACTOR,
        body=body,
        to=row.phone,
        idempotency_key=f"portal-code-{row.pk}",
    )


@dataclass(frozen=True)
class Verified:
    phone: str
    member: Member | None


def code_verify(*, merchant: Merchant, phone: str, code: str) -> Verified:
    """Confirm the latest code sent for `phone`; single use, a few tries, then locked."""
    outcome = _check_code(merchant, phone, code)
    # Raised outside the transaction, so the counted wrong try is kept.
    if outcome == "locked":
        raise CodeLocked(field="code")
    if outcome != "ok":
        raise CodeRefused(field="code")

    return Verified(phone=phone, member=loyalty.member_for_phone(merchant, phone))


@transaction.atomic
def _check_code(merchant: Merchant, phone: str, code: str) -> str:
    settings, _created = PortalSettings.objects.get_or_create(merchant=merchant)
    now = timezone.now()
    row = (
        OneTimeCode.objects.select_for_update()
        .filter(merchant=merchant, phone=phone, used_at__isnull=True)
        .order_by("-created_at", "-pk")
        .first()
    )
    if row is None or row.expires_at <= now:
        return "refused"
    if row.attempts >= settings.max_attempts:
        return "locked"
    if not compare_digest(row.code_hash, hash_code(merchant, phone, code)):
        OneTimeCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
        return "locked" if row.attempts + 1 >= settings.max_attempts else "refused"
    # The conditional update is what makes the code single use when two tabs race.
    used = OneTimeCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now)
    return "ok" if used == 1 else "refused"


@transaction.atomic
def portal_join(*, merchant: Merchant, phone: str, consent: bool, first_name: str = "") -> Member:
    """A signed-in customer joins the program (or activates their membership) on the page.

    Only when the merchant allows it, and only with the explicit consent box ticked. An
    excluded member stays excluded: only staff bring them back (seed 004).
    """

    settings, _created = PortalSettings.objects.get_or_create(merchant=merchant)
    if not settings.allow_self_join:
        raise JoinClosed()
    if not consent:
        raise ConsentRequired(_("Tick the box to agree to join the program."), field="consent")
    contact = Contact.objects.filter(
        merchant=merchant, phone=phone, deleted_at__isnull=True
    ).first()
    actor = Actor.customer(contact.pk if contact else "", label=f"Customer {phone}")
    if contact is None:
        contact = contact_services.contact_create(
            merchant=merchant,
            actor=actor,
            first_name=first_name.strip()[:100],
            phone=phone,
            source=ContactSource.PORTAL,
        )
        actor = Actor.customer(contact.pk, label=f"Customer {phone}")
    member = loyalty_services.member_ensure(merchant=merchant, contact=contact, actor=actor)
    if member.status == "not_activated":
        member = loyalty_services.member_activate(
            merchant=merchant,
            member=member,
            actor=actor,
            reason="Joined on the customer page with consent",
        )
        events.member_joined_on_page(contact=contact, actor=actor, phone=phone)
    return member


# Codes are kept a day: long past their expiry and the send window, still there for
# someone looking into a complaint, then gone, phone numbers and addresses with them.
CODE_RETENTION = timedelta(days=1)


@transaction.atomic
def codes_purge(*, merchant: Merchant, now: datetime | None = None) -> int:
    """Delete the merchant's one-time codes older than the retention period."""
    cutoff = (now or timezone.now()) - CODE_RETENTION
    deleted, _by_model = OneTimeCode.objects.filter(
        merchant=merchant, created_at__lt=cutoff
    ).delete()
    return deleted
