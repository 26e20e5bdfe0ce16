"""The invitation mail a new staff user receives, with a link to choose a password."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.utils.translation import override

from patron.tenants.models import Merchant, User


def password_link(user: User) -> str:
    """A one-time link (Django's reset token) that lets the user choose a password."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return settings.SITE_URL + reverse("password_set", args=[uid, token])


def send_invitation(*, merchant: Merchant, user: User) -> None:
    with override(user.language or merchant.language):
        subject = _("You have access to %(merchant)s on Patron") % {"merchant": merchant.name}
        body = _(
            "You can now use the Patron staff app of %(merchant)s.\n\n"
            "Choose your password here: %(link)s\n\nThen log in with %(email)s."
        ) % {"merchant": merchant.name, "link": password_link(user), "email": user.email}
    send_mail(subject, body, None, [user.email])
