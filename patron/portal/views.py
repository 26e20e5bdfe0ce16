"""The public customer page (/p/<slug>/), its widget script, and the staff settings page.

The customer's pages are plain forms that work with JavaScript off: type a phone number,
then the code, then see the account. Each view gets the merchant from the slug in the
URL and runs inside that merchant's scope, whatever staff session the browser may also
carry. Business rules live in services and selectors; the views pick the page to show.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csp import get_nonce
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.csp import CSP, build_policy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_scopes import scope

from patron.lib.errors import PatronError
from patron.portal import selectors, services
from patron.portal import session as portal_session
from patron.portal.forms import PortalSettingsForm
from patron.portal.models import PortalSettings
from patron.portal.session import PortalSession
from patron.rewards.selectors import redeemable_rewards
from patron.rewards.services import reward_claim
from patron.tenants.http import StaffRequest
from patron.tenants.models import Merchant, Role
from patron.tenants.permissions import staff_required

LANGUAGE_CODES = {code for code, _name in django_settings.LANGUAGES}


@dataclass
class Portal:
    merchant: Merchant
    settings: PortalSettings
    session: PortalSession
    language: str
    setup: selectors.PageSetup

    @property
    def token(self) -> str:
        return portal_session.form_token(self.merchant, self.session)

    def url(self, name: str) -> str:
        return reverse(f"portal:{name}", kwargs={"slug": self.merchant.slug})


PortalView = Callable[..., HttpResponse]


def portal_page(view: PortalView) -> Callable[..., HttpResponse]:
    """Resolve the merchant, open its scope, load the customer's session, pick the language.

    Django's CSRF check is off for these views because its cookie is SameSite=Lax and so
    missing inside the widget's frame on the merchant's site; every POST is checked
    against the session's own form token instead (see patron.portal.session).
    """

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        setup = selectors.page_setup(slug)
        merchant = setup.merchant
        with scope(merchant=merchant), timezone.override(merchant.zone):
            session = portal_session.load(request, merchant)
            wanted = request.GET.get("lang", "")
            if wanted in LANGUAGE_CODES:
                session.language = wanted
            language = session.language or translation.get_language() or "en"
            portal = Portal(merchant, setup.settings, session, language, setup)
            with translation.override(language):
                if request.method == "POST" and not portal_session.form_token_ok(
                    request, merchant, session
                ):
                    response = _render(request, portal, "portal/expired.html", status=403)
                else:
                    response = view(request, portal, *args, **kwargs)
            response.headers.setdefault("Content-Language", language)
            portal_session.save(response, request, merchant, session)
            _allow_framing(request, response, portal.settings)
            response.headers["Cache-Control"] = "no-store"
        return response

    return wrapper


def _allow_framing(request: HttpRequest, response: HttpResponse, settings: PortalSettings) -> None:
    """Let the merchant's own sites (and only them) show the page in the widget's frame.

    The staff app keeps X-Frame-Options: DENY and frame-ancestors 'none'; this relaxes
    both for the customer page alone.
    """
    response.xframe_options_exempt = True
    base: dict[str, Any] = getattr(django_settings, "SECURE_CSP", None) or {}
    policy: dict[str, Any] = {key: list(values) for key, values in base.items()}
    policy["frame-ancestors"] = [CSP.SELF, *settings.origins]
    if settings.logo_url:
        parts = urlsplit(settings.logo_url)
        policy["img-src"] = [*policy.get("img-src", [CSP.SELF]), f"{parts.scheme}://{parts.netloc}"]
    # Written here rather than left to the middleware, so the page is never frameable
    # from anywhere just because a deployment runs without the CSP middleware.
    response.headers["Content-Security-Policy"] = build_policy(policy, get_nonce(request))


def _render(
    request: HttpRequest,
    portal: Portal,
    template: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    full = {
        "portal": portal,
        "merchant": portal.merchant,
        "settings": portal.settings,
        "token": portal.token,
        "language": portal.language,
        "embedded": request.GET.get("embed") == "1",
        **(context or {}),
    }
    return render(request, template, full, status=status)


def _client_address(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: a client can write any X-Forwarded-For it likes, which would let
    # it dodge the per-address limit. Behind a proxy, the proxy must set REMOTE_ADDR.
    return request.META.get("REMOTE_ADDR") or None


@require_GET
@portal_page
def home(request: HttpRequest, portal: Portal) -> HttpResponse:
    session, settings = portal.session, portal.settings
    if not session.is_signed_in(settings):
        return _render(request, portal, "portal/phone.html")
    return _account_page(request, portal)


def _account_page(
    request: HttpRequest, portal: Portal, status: int = 200, **extra: Any
) -> HttpResponse:
    session, merchant = portal.session, portal.merchant
    member = selectors.member_for_session(
        merchant, session.phone, session.member_id, portal.setup.tiers
    )
    if member is None:
        return _render(request, portal, "portal/join.html", {"member": None, **extra}, status)
    if member.status == "excluded":
        # Seed 004: an excluded member sees nothing of the program, and the widget hides.
        return _render(request, portal, "portal/neutral.html", status=status)
    if member.status != "active":
        return _render(request, portal, "portal/join.html", {"member": member, **extra}, status)
    context = {"account": selectors.account(merchant, member, portal.setup), **extra}
    return _render(request, portal, "portal/account.html", context, status)


@require_POST
@portal_page
def code_request(request: HttpRequest, portal: Portal) -> HttpResponse:
    typed = request.POST.get("phone", "")
    try:
        row = services.code_request(
            merchant=portal.merchant, phone=typed, client_address=_client_address(request)
        )
    except PatronError as error:
        context = {"error": _error_text(error), "phone": typed}
        return _render(request, portal, "portal/phone.html", context, status=error.status)
    portal.session.start_pending(row.phone)
    # The same redirect and the same next page for every number, member or not.
    return redirect(portal.url("code"), permanent=False)


@require_http_methods(["GET", "POST"])
@portal_page
def code(request: HttpRequest, portal: Portal) -> HttpResponse:
    session, settings = portal.session, portal.settings
    if not session.is_pending(settings):
        return redirect(portal.url("home"))
    if request.method == "GET":
        return _render(request, portal, "portal/code.html")
    try:
        verified = services.code_verify(
            merchant=portal.merchant, phone=session.pending_phone, code=request.POST.get("code", "")
        )
    except PatronError as error:
        context = {"error": _error_text(error)}
        return _render(request, portal, "portal/code.html", context, status=error.status)
    member_id = verified.member.pk if verified.member is not None else None
    session.sign_in(verified.phone, member_id)
    return redirect(portal.url("home"))


@require_POST
@portal_page
def join(request: HttpRequest, portal: Portal) -> HttpResponse:
    session = portal.session
    if not session.is_signed_in(portal.settings):
        return redirect(portal.url("home"))
    try:
        member = services.portal_join(
            merchant=portal.merchant,
            phone=session.phone,
            consent=request.POST.get("consent") == "yes",
            first_name=request.POST.get("first_name", ""),
        )
    except PatronError as error:
        return _account_page(request, portal, status=error.status, error=_error_text(error))
    session.member_id = member.pk
    return redirect(portal.url("home"))


@require_POST
@portal_page
def claim(request: HttpRequest, portal: Portal) -> HttpResponse:
    session, merchant = portal.session, portal.merchant
    if not session.is_signed_in(portal.settings):
        return redirect(portal.url("home"))
    member = selectors.member_for_session(merchant, session.phone, session.member_id)
    if member is None or member.status != "active":
        return redirect(portal.url("home"))
    wanted = request.POST.get("reward", "")
    # Only a reward this member can afford right now, of this merchant, can be claimed.
    reward = next((r for r in redeemable_rewards(merchant, member) if str(r.pk) == wanted), None)
    if reward is None:
        message = _("This reward is no longer available for your points.")
        return _account_page(request, portal, status=409, error=message)
    try:
        redemption = reward_claim(
            merchant=merchant,
            member=member,
            reward=reward,
            actor=services.customer_actor(member, session.phone),
            idempotency_key=f"portal-claim-{member.pk}-{request.POST.get('claim_key', '')[:64]}",
        )
    except PatronError as error:
        return _account_page(request, portal, status=error.status, error=_error_text(error))
    coupon = getattr(redemption, "coupon", None)
    return _account_page(request, portal, claimed=reward, new_coupon=coupon)


@require_POST
@portal_page
def sign_out(request: HttpRequest, portal: Portal) -> HttpResponse:
    portal.session.sign_out()
    return redirect(portal.url("home"))


def _error_text(error: PatronError) -> str:
    texts = {
        "invalid_phone": _("This does not look like a phone number. Check it and try again."),
        "portal_too_many_codes": _(
            "Too many codes were asked for this number or from this connection. "
            "Try again in an hour."
        ),
        "portal_code_refused": _("That code is not right or has expired."),
        "portal_code_locked": _("Too many wrong tries. Ask for a new code."),
        "portal_join_closed": _("Ask at the counter to join the program."),
        "portal_consent_required": _("Tick the box to agree to join the program."),
    }
    return texts.get(error.code, error.message)


@require_GET
def widget(request: HttpRequest, slug: str) -> HttpResponse:
    """The script a merchant pastes into their site: a floating button and a framed page."""
    merchant = selectors.merchant_for_slug(slug)
    with scope(merchant=merchant):
        settings = selectors.settings_for(merchant)
        session = portal_session.load(request, merchant)
        hidden = False
        if session.is_signed_in(settings):
            # A signed-in excluded member gets a script that adds nothing (seed 004).
            member = selectors.member_for_session(merchant, session.phone, session.member_id)
            hidden = member is not None and member.status == "excluded"
        page_url = request.build_absolute_uri(reverse("portal:home", kwargs={"slug": slug}))
        language = session.language or translation.get_language() or "en"
        with translation.override(language):
            response = render(
                request,
                "portal/widget.js",
                {
                    "hidden": hidden,
                    "merchant_name": merchant.name,
                    "page_url": page_url,
                    "origin": request.build_absolute_uri("/").rstrip("/"),
                    "color": settings.color(),
                    "label": _("Rewards"),
                    "close_label": _("Close"),
                },
                content_type="text/javascript; charset=utf-8",
            )
    # Per browser (it depends on the customer's cookie), and fresh after a sign-in.
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response


@staff_required(Role.MANAGER)
def settings_page(request: StaffRequest) -> HttpResponse:
    """Settings > Customer page: colours, joining, security knobs, the widget snippet."""
    merchant = request.merchant
    current = selectors.settings_for(merchant)
    form = PortalSettingsForm(request.POST or None, initial=PortalSettingsForm.initial_for(current))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.portal_settings_update(
                    merchant=merchant, actor=request.actor, **form.cleaned_data
                )
            except PatronError as error:
                form.add_error(error.field, error.message)
            else:
                messages.success(request, _("Customer page settings saved."))
                return redirect("portal_staff:settings")
        status = 422
    page_url = request.build_absolute_uri(reverse("portal:home", kwargs={"slug": merchant.slug}))
    widget_url = request.build_absolute_uri(
        reverse("portal:widget", kwargs={"slug": merchant.slug})
    )
    context = {
        "form": form,
        "section": "customer_page",
        "page_url": page_url,
        "snippet": f'<script src="{widget_url}" async></script>',
    }
    return render(request, "portal/settings.html", context, status=status)
