"""Tenant isolation sweep: every API operation and every staff page, as an outsider.

Merchant A is the demo merchant (every app adds its part to the demo, so A has real
rows in every table). Charlie owns merchant B in another agency. The sweep walks the
OpenAPI document and the URL configuration, fills each path parameter with one of A's
real ids (the model is read from the parameter's name), and calls it with B's key or
Charlie's login. The answer must be 404 or 403 (401 or 422 where the body is refused
first, a redirect for pages), never A's data, and A's rows must not change. Nothing here
names an endpoint: an operation added later is swept without an edit.
"""

import json
from typing import Any

import pytest
from django.test import Client

from patron.api.tests import walking
from patron.conftest import ApiClient
from patron.contacts import services as contact_services
from patron.factories import make_api_key
from patron.lib import urlwalk
from patron.lib.actors import Actor
from patron.tenants import services as tenant_services
from patron.tenants.models import Merchant, User

CANARY_FIRST, CANARY_LAST = "Zephyrine", "Quarantaine"
CANARY_NAME = f"{CANARY_FIRST} {CANARY_LAST}"
CANARY_EMAIL = "zephyrine.canary@alpha.example"
CANARY_PHONE = "+84987650123"
CANARY_NOTE = "canary-note-6f1d0a"
# What an outsider may see when the path names A's object.
API_REFUSALS = {401, 403, 404, 422}
PAGE_REFUSALS = {301, 302, 303, 403, 404, 405}


class World:
    def __init__(self, merchant: Merchant, owner: User, outsider: User, outsider_key: str):
        self.merchant = merchant
        self.owner = owner
        self.outsider = outsider
        self.outsider_api = ApiClient(outsider_key)
        self.own_api = ApiClient(make_api_key(merchant))
        self.markers = walking.Markers()


@pytest.fixture
def world(demo: Any, settings: Any) -> World:
    settings.API_RATE_LIMIT = 0  # the sweep is one client making many calls
    merchant = demo.merchant
    actor = Actor.system("Isolation sweep")
    from django_scopes import scope

    with scope(merchant=merchant):
        canary = contact_services.contact_create(
            merchant=merchant,
            actor=actor,
            first_name=CANARY_FIRST,
            last_name=CANARY_LAST,
            phone=CANARY_PHONE,
            email=CANARY_EMAIL,
            tags=["canary-tag"],
        )
        contact_services.note_add(merchant=merchant, contact=canary, text=CANARY_NOTE, actor=actor)
        from patron.contacts.models import Contact

        others = list(Contact.objects.filter(merchant=merchant).exclude(email=None)[:40])
    other = tenant_services.merchant_create(
        slug="outsider-shop", name="Outsider Shop", country="US"
    )
    charlie = tenant_services.staff_grant(
        merchant=other, email="charlie@outsider.example", role="owner", password="x" * 12
    )
    owner = User.objects.get(email=demo.email)
    world = World(merchant, owner, charlie, make_api_key(other))
    world.markers.texts = [CANARY_NAME, CANARY_EMAIL, CANARY_PHONE, CANARY_NOTE]
    world.markers.texts += [c.email for c in others if c.email]
    return world


def body_of(answer: Any) -> bytes:
    # Exports (CSV) stream their body.
    if getattr(answer, "streaming", False):
        return b"".join(answer.streaming_content)
    return bytes(answer.content)


def call(client: ApiClient, method: str, path: str, body: Any) -> Any:
    headers = {"Authorization": f"Bearer {client.key}"} if client.key else {}
    data = json.dumps(body) if body is not None else ""
    return client.client.generic(
        method.upper(), path, data, content_type="application/json", headers=headers
    )


def test_outsider_key_reaches_no_operation_on_another_merchants_data(world: World) -> None:
    spec = world.outsider_api.get("/openapi.json").json()
    ops = list(walking.operations(spec))
    assert len(ops) >= 10

    # A's own key reads each GET with A's ids, so a 404 below means "refused", not "typo".
    controls = 0
    for op in ops:
        if op.method == "get" and op.parameters:
            path, missing = walking.fill_openapi_path(op, world.merchant)
            if not missing and call(world.own_api, "get", path, None).status_code == 200:
                controls += 1

    before = walking.merchant_digest(world.merchant)
    failures, unfilled, with_ids = [], [], 0
    for op in ops:
        path, missing = walking.fill_openapi_path(op, world.merchant)
        body = walking.json_body(op, spec)
        answer = call(world.outsider_api, op.method, path, body)
        text = walking.decoded(body_of(answer))
        where = f"{op.method.upper()} {path} -> {answer.status_code}"
        if answer.status_code >= 500:
            failures.append(f"{where}: server error")
        if leaked := world.markers.found_in(text):
            failures.append(f"{where}: shows A's data {leaked}")
        if op.parameters and not missing:
            with_ids += 1
            if answer.status_code not in API_REFUSALS:
                failures.append(f"{where}: expected 404/403")
        if missing:
            unfilled.append(f"{op.method.upper()} {op.path} ({', '.join(missing)})")
        anonymous = call(ApiClient(None), op.method, path, body)
        # 401 for keyed operations; 403 for webhooks that check their sender's signature.
        if anonymous.status_code not in {401, 403}:
            failures.append(f"{op.method.upper()} {path} without a key -> {anonymous.status_code}")
    after = walking.merchant_digest(world.merchant)

    walking.write_figures(
        "isolation_api",
        {
            "operations": len(ops),
            "operations_with_real_ids": with_ids,
            "own_key_controls": controls,
            "unfilled": unfilled,
        },
    )
    print(f"\nisolation sweep (API): {len(ops)} operations, {with_ids} with A's real ids")
    assert failures == []
    assert walking.changed_models(before, after) == []
    assert with_ids >= 5 and controls >= 3


def _route_values(route: urlwalk.Route, merchant: Merchant) -> dict[str, str] | None:
    previous = urlwalk.previous_segments(route.route)
    values = {}
    for name in route.kwargs:
        value = walking.parameter_value(
            merchant, name, previous.get(name, ""), route.namespace or ""
        )
        if value is None:
            return None
        values[name] = value
    return values


def test_outsider_login_opens_no_staff_page_of_another_merchant(world: World) -> None:
    owner = Client()
    owner.force_login(world.owner)
    outsider = Client()
    outsider.force_login(world.outsider)

    routes = urlwalk.staff_routes()
    plan = []
    unmapped = []
    for route in routes:
        values = _route_values(route, world.merchant)
        if values is None:
            unmapped.append(route.route)
            continue
        plan.append((route, route.fill(values)))
    # A's owner opens the same URLs first: a page that 404s for A proves nothing.
    controls = sum(
        1 for route, url in plan if route.kwargs and owner.get(url).status_code in {200, 204}
    )

    before = walking.merchant_digest(world.merchant)
    failures, with_ids = [], 0
    for route, url in plan:
        public_by_slug = bool(route.kwargs) and set(route.kwargs) <= {"slug", "merchant_slug"}
        methods = ("get", "post") if route.kwargs else ("get",)
        for method in methods:
            answer = getattr(outsider, method)(url)
            where = f"{method.upper()} {url} -> {answer.status_code}"
            if answer.status_code >= 500:
                failures.append(f"{where}: server error")
            if leaked := world.markers.found_in(walking.decoded(body_of(answer))):
                failures.append(f"{where}: shows A's data {leaked}")
            # A form may refuse an empty POST before it looks the object up.
            refused_form = method == "post" and answer.status_code in {400, 422}
            guarded = route.kwargs and not public_by_slug
            if guarded and answer.status_code not in PAGE_REFUSALS and not refused_form:
                failures.append(f"{where}: expected 404/403 or a redirect")
        if route.kwargs and not public_by_slug:
            with_ids += 1
    after = walking.merchant_digest(world.merchant)

    walking.write_figures(
        "isolation_pages",
        {
            "routes": len(routes),
            "pages_swept": len(plan),
            "pages_with_real_ids": with_ids,
            "owner_controls": controls,
            "unmapped": unmapped,
        },
    )
    print(f"\nisolation sweep (pages): {len(plan)} of {len(routes)} routes, {with_ids} with ids")
    assert failures == []
    assert walking.changed_models(before, after) == []
    assert with_ids >= 2 and controls >= 1
