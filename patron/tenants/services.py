"""Writes about tenancy: merchants, staff users and API keys."""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from patron.audit.services import audit_record, snapshot
from patron.lib.actors import Actor
from patron.lib.errors import Conflict, InvalidInput, NotFound
from patron.tenants import events, mail, selectors
from patron.tenants.models import Agency, AgencyAdmin, ApiKey, Merchant, Role, StaffAccess, User


class SlugTaken(Conflict):
    code = "slug_taken"
    title = "A merchant with this slug already exists"


@transaction.atomic
def merchant_create(
    *,
    slug: str,
    name: str,
    country: str,
    timezone_name: str = "UTC",
    currency: str = "USD",
    language: str = "en",
    agency: Agency | None = None,
) -> Merchant:
    slug = slugify(slug)
    if not slug:
        raise InvalidInput("A merchant needs a slug.", field="slug")
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("Country is a two-letter code such as VN or US.", field="country")
    if Merchant.objects.filter(slug=slug).exists():
        raise SlugTaken(f"A merchant with the slug {slug!r} already exists.", field="slug")
    if agency is None:
        agency = Agency.objects.create(name=name)
    merchant = Merchant.objects.create(
        agency=agency,
        slug=slug,
        name=name,
        country=country.upper(),
        timezone=timezone_name,
        currency=currency.upper(),
        language=language,
    )
    # Every merchant starts with the built-in workflows (seed 001's "Add to the loyalty
    # program" among them).
    from patron.automations.services import workflows_install_defaults

    workflows_install_defaults(merchant=merchant)
    # And with its loyalty program and the default point categories.
    from patron.loyalty.services import program_install_defaults

    program_install_defaults(merchant=merchant)
    return merchant


@transaction.atomic
def staff_grant(*, merchant: Merchant, email: str, role: str, password: str | None = None) -> User:
    """Create the user if new and give them `role` at the merchant."""
    if role not in Role.values:
        raise InvalidInput(f"Role is one of {', '.join(Role.values)}.", field="role")
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    StaffAccess.objects.update_or_create(user=user, merchant=merchant, defaults={"role": role})
    return user


@transaction.atomic
def agency_admin_grant(*, agency: Agency, user: User) -> AgencyAdmin:
    admin, _ = AgencyAdmin.objects.get_or_create(agency=agency, user=user)
    return admin


@dataclass(frozen=True)
class NewApiKey:
    key: ApiKey
    raw: str


@transaction.atomic
def api_key_create(*, merchant: Merchant, name: str = "", actor: Actor) -> NewApiKey:
    raw, prefix, key_hash = ApiKey.generate()
    key = ApiKey.objects.create(
        merchant=merchant, name=name, prefix=prefix, key_hash=key_hash, created_by=actor.label
    )
    events.api_key_created(merchant=merchant, actor=actor, key=key)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="tenants.api_key_create",
        obj=key,
        after=snapshot(key),
    )
    return NewApiKey(key=key, raw=raw)


@transaction.atomic
def api_key_revoke(*, merchant: Merchant, key_id: int, actor: Actor, reason: str = "") -> ApiKey:
    key = ApiKey.objects.filter(merchant=merchant, pk=key_id).first()
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is None:
        before = snapshot(key)
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        # Now, and again once the revocation is committed: a request of this process
        # that reads the key in between must not keep it as active.
        selectors.api_key_forget(key)
        transaction.on_commit(lambda: selectors.api_key_forget(key))
        events.api_key_revoked(merchant=merchant, actor=actor, key=key, reason=reason)
        audit_record(
            merchant=merchant,
            actor=actor,
            action="tenants.api_key_revoke",
            obj=key,
            before=before,
            after=snapshot(key),
        )
    return key


class LastOwner(Conflict):
    code = "last_owner"
    title = "A merchant keeps at least one owner"


class StaffNotFound(NotFound):
    code = "staff_not_found"
    title = "No such staff user at this merchant"


def _access(merchant: Merchant, user_id: int) -> StaffAccess:
    access = (
        StaffAccess.objects.select_for_update()
        .select_related("user")
        .filter(merchant=merchant, user_id=user_id)
        .first()
    )
    if access is None:
        raise StaffNotFound()
    return access


def _check_owner_remains(merchant: Merchant, leaving: StaffAccess) -> None:
    # Lock the owners' rows so two owners demoting each other at once cannot leave none.
    owners = list(
        StaffAccess.objects.select_for_update()
        .filter(merchant=merchant, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if leaving.role == Role.OWNER and owners == [leaving.pk]:
        raise LastOwner("The merchant would have no owner left.")


@transaction.atomic
def staff_invite(*, merchant: Merchant, email: str, role: str, actor: Actor) -> User:
    """Give a person a role at the merchant and mail them a link to set their password."""
    email = email.strip().lower()
    if not email or "@" not in email:
        raise InvalidInput("Enter the person's email address.", field="email")
    user = staff_grant(merchant=merchant, email=email, role=role)
    events.staff_invited(merchant=merchant, actor=actor, email=email, role=role)
    audit_record(
        merchant=merchant,
        actor=actor,
        action="tenants.staff_invite",
        obj=user,
        object_label=email,
        after={"email": email, "role": role},
    )
    transaction.on_commit(lambda: mail.send_invitation(merchant=merchant, user=user))
    return user


@transaction.atomic
def staff_role_change(*, merchant: Merchant, user_id: int, role: str, actor: Actor) -> StaffAccess:
    if role not in Role.values:
        raise InvalidInput(f"Role is one of {', '.join(Role.values)}.", field="role")
    access = _access(merchant, user_id)
    if access.role != role:
        if role != Role.OWNER:
            _check_owner_remains(merchant, access)
        before = access.role
        access.role = role
        access.save(update_fields=["role"])
        events.staff_role_changed(
            merchant=merchant, actor=actor, email=access.user.email, before=before, after=role
        )
        audit_record(
            merchant=merchant,
            actor=actor,
            action="tenants.staff_role_change",
            obj=access,
            object_label=access.user.email,
            before={"role": before},
            after={"role": role},
        )
    return access


@transaction.atomic
def staff_remove(*, merchant: Merchant, user_id: int, actor: Actor, reason: str) -> None:
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why this person loses access.", field="reason")
    access = _access(merchant, user_id)
    _check_owner_remains(merchant, access)
    email = access.user.email
    before = {"email": email, "role": access.role, "reason": reason}
    audit_record(
        merchant=merchant,
        actor=actor,
        action="tenants.staff_remove",
        obj=access,
        object_label=email,
        before=before,
    )
    access.delete()
    events.staff_removed(merchant=merchant, actor=actor, email=email, reason=reason)


@transaction.atomic
def user_language_set(*, user: User, language: str) -> User:
    if language not in dict(settings.LANGUAGES):
        raise InvalidInput("Choose English or Vietnamese.", field="language")
    user.language = language
    user.save(update_fields=["language"])
    return user
