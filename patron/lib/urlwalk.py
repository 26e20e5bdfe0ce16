"""Every route of the project, found by walking the URL configuration.

The security suites (tenant isolation sweep, role matrix, CSRF) test what this finds
rather than a list someone keeps by hand, so a page added next month is covered the
day it lands. `objects_for_kwarg` says which model a URL parameter names
(`contact_id` is a Contact, `<name>` after `/tags/` is a Tag's name).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    route: str  # e.g. "contacts/<int:contact_id>/notes/"
    namespace: str | None
    name: str | None
    callback: Callable[..., Any]
    kwargs: tuple[str, ...]  # the path parameters, in order

    @property
    def module(self) -> str:
        view = getattr(self.callback, "view_class", None) or self.callback
        return getattr(view, "__module__", "") or ""

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")

    def fill(self, values: dict[str, str]) -> str:
        """The URL with each path parameter replaced by its value."""

        def replace(match: re.Match[str]) -> str:
            return str(values[match.group("name")])

        return "/" + PARAMETER.sub(replace, self.route)


PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _walk(patterns: list[Any], prefix: str, namespace: str | None) -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(
                pattern.url_patterns, prefix + str(pattern.pattern), pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            yield Route(
                route=route,
                namespace=namespace,
                name=pattern.name,
                callback=pattern.callback,
                kwargs=tuple(m.group("name") for m in PARAMETER.finditer(route)),
            )


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", None))


def staff_routes() -> list[Route]:
    """Routes of the staff app and the public pages: everything outside the API."""
    return [r for r in all_routes() if not r.is_api and r.route.find("<path:") < 0]


def patron_models() -> list[type[models.Model]]:
    """Our business models: those of patron apps with a `merchant` foreign key."""
    found = []
    for model in apps.get_models():
        if not model.__module__.startswith("patron."):
            continue
        if any(f.name == "merchant" for f in model._meta.get_fields()):
            found.append(model)
    return found


def _squash(text: str) -> str:
    return text.replace("_", "").replace("-", "").lower()


def _singular(word: str) -> str:
    word = _squash(word)
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("ses"):
        return word[:-2]
    return word.removesuffix("s")


def models_for_parameter(
    parameter: str, previous_segment: str = "", app_label: str = ""
) -> list[tuple[type[models.Model], str]]:
    """The models (with the field to read) a path parameter may name.

    `contact_id` or `contact_pk` is a Contact's pk; `<name>` after `/tags/` is a Tag's
    `name`; `pk` or `id` alone is the pk of the model the previous segment or the
    app names. Unknown parameters name nothing.
    """
    candidates = patron_models()
    base = parameter
    for suffix in ("_id", "_pk"):
        if parameter.endswith(suffix):
            base = _squash(parameter[: -len(suffix)])
            exact = [(m, "pk") for m in candidates if _squash(m.__name__) == base]
            # `key_id` is an ApiKey, `endpoint_id` a WebhookEndpoint: the model's name
            # ends with the parameter's noun; the app's own models are tried first.
            ending = [m for m in candidates if _squash(m.__name__).endswith(base)]
            ending.sort(key=lambda m: m._meta.app_label != app_label)
            # `user_id` is no model of ours, but StaffAccess rows name the merchant's users.
            holders = [(m, parameter) for m in candidates if _has_attname(m, parameter)]
            return exact + [(m, "pk") for m in ending] + holders
    if parameter in {"id", "pk"}:
        wanted = _singular(previous_segment) if previous_segment else ""
        named = [(m, "pk") for m in candidates if _squash(m.__name__) == wanted]
        if named:
            return named
        return [(m, "pk") for m in candidates if m._meta.app_label == app_label]
    owners = [m for m in candidates if _squash(m.__name__) == _singular(previous_segment)]
    owners = owners or [m for m in candidates if m._meta.app_label == app_label]
    return [(m, parameter) for m in owners if _has_field(m, parameter)]


def _has_attname(model: type[models.Model], attname: str) -> bool:
    return any(getattr(f, "attname", None) == attname for f in model._meta.concrete_fields)


def _has_field(model: type[models.Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except Exception:
        return False
    return True


def previous_segments(route: str) -> dict[str, str]:
    """For each path parameter, the literal segment just before it ("tags" for <name>)."""
    found: dict[str, str] = {}
    segments = [s for s in re.split(r"/", route) if s]
    last_literal = ""
    for segment in segments:
        match = PARAMETER.fullmatch(segment) or re.fullmatch(r"\{(?P<name>[^}]+)\}", segment)
        if match:
            found[match.group("name")] = last_literal
        else:
            last_literal = segment
    return found
