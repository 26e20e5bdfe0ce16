"""The customer's session on one merchant's page: a signed cookie, never staff auth.

Why not Django's session: the page runs inside the widget's frame on the merchant's own
site, a different site from ours, where browsers do not send SameSite=Lax cookies (the
staff session and the CSRF cookie are Lax on purpose). So each merchant's page keeps its
own small signed cookie, SameSite=None over HTTPS, holding only the phone being
confirmed or confirmed, the member it belongs to, and when. It is signed with a salt
per merchant, so a cookie from one merchant's page means nothing on another's.

Forms on the page carry a token derived from a random value in this cookie (a
double-submit token a cross-site page can neither read nor forge) in place of
Django's CSRF cookie.
"""

import secrets
import time
from dataclasses import asdict, dataclass, field
from hmac import compare_digest
from typing import Any

from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

from patron.portal.models import PortalSettings
from patron.tenants.models import Merchant

COOKIE_AGE = 60 * 60 * 24 * 30  # the language choice outlives a sign-in
# A page that changes nothing sends the cookie again only once it is this old, which
# keeps it alive for COOKIE_AGE from the last visit give or take a day (signing it was
# a tenth of the customer page's work).
COOKIE_RENEWAL = 60 * 60 * 24


def cookie_name(merchant: Merchant) -> str:
    return f"patron_portal_{merchant.pk}"


def _salt(merchant: Merchant) -> str:
    return f"patron.portal.session.{merchant.pk}"


@dataclass
class PortalSession:
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    language: str = ""
    # The phone a code was asked for, and when (seconds since the epoch).
    pending_phone: str = ""
    pending_at: float = 0
    # The phone confirmed by a code, its member (None for a customer who may join),
    # and when the customer signed in.
    phone: str = ""
    member_id: int | None = None
    signed_in_at: float = 0
    # What the cookie held when read and when it was written; never written itself.
    read: tuple[dict[str, Any], float] | None = field(default=None, repr=False, compare=False)

    def cookie_data(self) -> dict[str, Any]:
        data = asdict(self)
        del data["read"]
        return data

    def is_signed_in(self, settings: PortalSettings) -> bool:
        return bool(self.phone) and time.time() < self.signed_in_at + settings.session_minutes * 60

    def is_pending(self, settings: PortalSettings) -> bool:
        return bool(self.pending_phone) and (
            time.time() < self.pending_at + settings.code_ttl_minutes * 60
        )

    def start_pending(self, phone: str) -> None:
        self.pending_phone, self.pending_at = phone, time.time()

    def sign_in(self, phone: str, member_id: int | None) -> None:
        # A fresh nonce on sign-in, so a form token seen before it is worth nothing after.
        self.nonce = secrets.token_urlsafe(16)
        self.pending_phone, self.pending_at = "", 0
        self.phone, self.member_id, self.signed_in_at = phone, member_id, time.time()

    def sign_out(self) -> None:
        self.nonce = secrets.token_urlsafe(16)
        self.pending_phone, self.pending_at = "", 0
        self.phone, self.member_id, self.signed_in_at = "", None, 0


def load(request: HttpRequest, merchant: Merchant) -> PortalSession:
    raw = request.COOKIES.get(cookie_name(merchant))
    if not raw:
        return PortalSession()
    try:
        signer = signing.TimestampSigner(salt=_salt(merchant))
        data = signer.unsign_object(raw, max_age=COOKIE_AGE)
        session = PortalSession(**data)
    except (signing.BadSignature, TypeError):
        return PortalSession()
    # The signature held, so the time written before it is the one we wrote.
    written = signing.b62_decode(raw.rsplit(signer.sep, 2)[1])
    session.read = (session.cookie_data(), written)
    return session


def save(
    response: HttpResponse, request: HttpRequest, merchant: Merchant, session: PortalSession
) -> None:
    data = session.cookie_data()
    if session.read is not None:
        before, written = session.read
        if before == data and time.time() < written + COOKIE_RENEWAL:
            return
    secure = request.is_secure()
    response.set_cookie(
        cookie_name(merchant),
        signing.dumps(data, salt=_salt(merchant), compress=True),
        max_age=COOKIE_AGE,
        path=f"/p/{merchant.slug}/",
        httponly=True,
        secure=secure,
        # Cross-site frames get the cookie only with SameSite=None, which browsers
        # accept only on secure cookies; plain-HTTP development stays Lax.
        samesite="None" if secure else "Lax",
    )


def form_token(merchant: Merchant, session: PortalSession) -> str:
    return salted_hmac(_salt(merchant) + ".form", session.nonce, algorithm="sha256").hexdigest()


def form_token_ok(request: HttpRequest, merchant: Merchant, session: PortalSession) -> bool:
    sent = request.POST.get("token", "")
    return bool(sent) and compare_digest(sent, form_token(merchant, session))
