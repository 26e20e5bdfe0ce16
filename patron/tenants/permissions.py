"""Who may open a staff page: logged in, at a merchant, with at least a given role."""

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from patron.tenants.http import StaffRequest
from patron.tenants.models import Role

RANK = {Role.STAFF: 0, Role.MANAGER: 1, Role.OWNER: 2}


def has_role(request: HttpRequest, minimum: str) -> bool:
    role = getattr(request, "staff_role", None)
    return role is not None and RANK[Role(role)] >= RANK[Role(minimum)]


def staff_required(
    minimum: str = Role.STAFF,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(request, "merchant", None) is None:
                return render(request, "no_merchant.html", status=403)
            if not has_role(request, minimum):
                message = _("Your role does not allow this. Ask an owner or a manager.")
                return render(request, "forbidden.html", {"message": message}, status=403)
            return view(cast(StaffRequest, request), *args, **kwargs)

        # The least role the view needs, readable from the URL configuration: the role
        # matrix test finds every manager and owner page through it.
        wrapper.staff_min_role = Role(minimum)  # type: ignore[attr-defined]
        return wrapper

    return decorate
