"""The public API at /api/v1: one NinjaAPI, routers from each app, errors in one place."""

from typing import Any, cast

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from patron.api.auth import ApiKeyAuth
from patron.api.problems import problem_response
from patron.lib.actors import Actor
from patron.lib.errors import PatronError
from patron.tenants.http import TenantRequest
from patron.tenants.models import Merchant

DESCRIPTION = """
The Patron API: contacts, members, points, rewards, coupons and automations of one
merchant. Authenticate with `Authorization: Bearer <key>` (`patron createapikey SLUG`).

Errors are `application/problem+json` (RFC 9457) with a stable `code`. Every POST
accepts an `Idempotency-Key` header: a retry with the same key returns the first
answer. Lists are cursor-paginated: pass `next_cursor` back as `cursor`.
"""


class PatronAPI(NinjaAPI):
    """The NinjaAPI whose OpenAPI document says what every error really looks like."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_problems(schema)
        return schema


# Answers any operation may give besides its own: no key, not allowed, over the key's
# rate limit (patron.audit.ratelimit).
COMMON_PROBLEMS = {
    "401": "Missing or unknown API key",
    "403": "Not allowed",
    "429": "Too many requests for this API key; retry after Retry-After seconds",
}


def document_problems(schema: Any) -> None:
    """Errors are application/problem+json (problem_response), not application/json.

    django-ninja documents every response as application/json; clients and schema
    checkers that trust the document would reject our real error answers.
    """
    problem = {"$ref": "#/components/schemas/Problem"}
    if "Problem" not in schema.get("components", {}).get("schemas", {}):
        return
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            for status, text in COMMON_PROBLEMS.items():
                responses.setdefault(status, {"description": text})
            for status, response in responses.items():
                if int(status) < 400:
                    continue
                content = response.setdefault("content", {})
                found = content.pop("application/json", None)
                content["application/problem+json"] = found or {"schema": problem}


api = PatronAPI(
    title="Patron API",
    version="1",
    description=DESCRIPTION,
    auth=ApiKeyAuth(),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def tenant(request: HttpRequest) -> tuple[Merchant, Actor]:
    """The merchant and actor of an authenticated API request."""
    req = cast(TenantRequest, request)
    assert req.merchant is not None and req.actor is not None  # guaranteed by ApiKeyAuth
    return req.merchant, req.actor


@api.exception_handler(PatronError)
def on_domain_error(request: HttpRequest, exc: PatronError) -> HttpResponse:
    extra: dict[str, Any] = dict(exc.extra)
    if exc.field:
        extra["field"] = exc.field
    return problem_response(exc.status, exc.code, exc.message, **extra)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "field": ".".join(str(part) for part in error.get("loc", [])[1:]) or None,
            "message": error.get("msg", ""),
        }
        for error in exc.errors
    ]
    return problem_response(
        422, "invalid_request", "The request does not match the schema.", errors=errors
    )


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = problem_response(
        401, "unauthenticated", "Send a valid API key as 'Authorization: Bearer <key>'."
    )
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(404, "not_found", "Not found.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(exc.status_code, "http_error", str(exc))


def register_routers() -> None:
    # Imported here, not at module top, so app modules may import from patron.api
    # without a cycle.
    from patron.automations.api import router as automations_router
    from patron.contacts.api import router as contacts_router
    from patron.coupons.api import router as coupons_router
    from patron.integrations.api import router as integrations_router
    from patron.loyalty.api import router as loyalty_router
    from patron.messaging.api import router as messaging_router
    from patron.reports.api import router as reports_router
    from patron.rewards.api import router as rewards_router

    for router in (
        contacts_router,
        loyalty_router,
        rewards_router,
        coupons_router,
        automations_router,
        messaging_router,
        integrations_router,
        reports_router,
    ):
        api.add_router("", router)


register_routers()
