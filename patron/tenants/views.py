"""Log in, log out, switch merchants, and the Settings pages about people and keys.

Staff users and roles are the owner's business; API keys need a manager; every person
sets their own language. Removing access and revoking a key ask for a reason, which is
kept with who did it.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from patron.contacts.models import ActivityEvent
from patron.lib.errors import PatronError
from patron.tenants import selectors, services
from patron.tenants.forms import ApiKeyForm, InviteForm, LanguageForm, ReasonForm, RoleForm
from patron.tenants.http import StaffRequest, TenantRequest
from patron.tenants.middleware import SESSION_MERCHANT
from patron.tenants.models import Role, User
from patron.tenants.permissions import has_role, staff_required


def _remember_language(response: HttpResponseBase, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


class LoginView(auth_views.LoginView):
    template_name = "tenants/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        # The language chosen in Settings follows the person to any browser they use.
        if isinstance(user, User) and user.language:
            _remember_language(response, user.language)
        return response


class PasswordSetView(auth_views.PasswordResetConfirmView):
    """Where the invitation link lands: the new staff user chooses a password."""

    template_name = "tenants/password_set.html"
    success_url = reverse_lazy("login")
    post_reset_login = False


@require_POST
def switch_merchant(request: HttpRequest) -> HttpResponse:
    tenant_request: TenantRequest = request  # type: ignore[assignment]
    wanted = request.POST.get("merchant", "")
    if any(str(m.pk) == wanted for m in tenant_request.reachable_merchants):
        request.session[SESSION_MERCHANT] = int(wanted)
    return redirect("contacts:list")


def home(request: HttpRequest) -> HttpResponse:
    return redirect("contacts:list" if request.user.is_authenticated else "login")


def _history(request: StaffRequest, types: tuple[str, ...]) -> list[ActivityEvent]:
    return list(
        ActivityEvent.objects.filter(merchant=request.merchant, type__in=types).order_by(
            "-at", "-id"
        )[:20]
    )


@staff_required()
def settings_index(request: StaffRequest) -> HttpResponse:
    return render(
        request,
        "tenants/settings/index.html",
        {"section": "settings", "can_manage": has_role(request, Role.MANAGER)},
    )


@staff_required(Role.OWNER)
def staff_users(request: StaffRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user = services.staff_invite(
                    merchant=request.merchant, actor=request.actor, **form.cleaned_data
                )
            except PatronError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request, _("Invitation sent to %(email)s.") % {"email": user.email}
                )
                return redirect("settings:staff")
        status = 422
    context = {
        "section": "settings",
        "settings_page": "staff",
        "form": form,
        "accesses": selectors.staff_accesses(request.merchant),
        "roles": Role.choices,
        "reason_form": ReasonForm(),
        "history": _history(request, ("staff_invited", "staff_role_changed", "staff_removed")),
    }
    return render(request, "tenants/settings/staff.html", context, status=status)


@staff_required(Role.OWNER)
@require_POST
def staff_role(request: StaffRequest, user_id: int) -> HttpResponse:
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.staff_role_change(
                merchant=request.merchant,
                user_id=user_id,
                role=form.cleaned_data["role"],
                actor=request.actor,
            )
        except PatronError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Role changed."))
    return redirect("settings:staff")


@staff_required(Role.OWNER)
@require_POST
def staff_remove(request: StaffRequest, user_id: int) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why this person loses access."))
        return redirect("settings:staff")
    try:
        services.staff_remove(
            merchant=request.merchant,
            user_id=user_id,
            actor=request.actor,
            reason=form.cleaned_data["reason"],
        )
    except PatronError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Access removed."))
    return redirect("settings:staff")


@staff_required(Role.MANAGER)
def api_keys(request: StaffRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        new_key = services.api_key_create(
            merchant=request.merchant, name=form.cleaned_data["name"], actor=request.actor
        )
        form = ApiKeyForm()
    context = {
        "section": "settings",
        "settings_page": "api_keys",
        "form": form,
        # The raw key exists only in this response: it is stored hashed.
        "new_key": new_key,
        "keys": selectors.api_keys(request.merchant),
        "reason_form": ReasonForm(),
        "history": _history(request, ("api_key_created", "api_key_revoked")),
    }
    response = render(request, "tenants/settings/api_keys.html", context)
    if new_key is not None:
        response["Cache-Control"] = "no-store"
    return response


@staff_required(Role.MANAGER)
@require_POST
def api_key_revoke(request: StaffRequest, key_id: int) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why the key is revoked."))
        return redirect("settings:api_keys")
    try:
        services.api_key_revoke(
            merchant=request.merchant,
            key_id=key_id,
            actor=request.actor,
            reason=form.cleaned_data["reason"],
        )
    except PatronError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Key revoked. Requests with it are refused from now on."))
    return redirect("settings:api_keys")


@staff_required()
def language(request: StaffRequest) -> HttpResponse:
    current = translation.get_language() or settings.LANGUAGE_CODE
    form = LanguageForm(request.POST or None, initial={"language": current[:2]})
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["language"]
        services.user_language_set(user=request.user, language=chosen)
        translation.activate(chosen)
        messages.success(request, _("Language saved."))
        response = redirect("settings:language")
        _remember_language(response, chosen)
        return response
    return render(
        request,
        "tenants/settings/language.html",
        {"section": "settings", "settings_page": "language", "form": form},
    )
