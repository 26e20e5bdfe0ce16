"""Role matrix: owner, manager and staff against every staff page and action.

The pages are found in the URL configuration: `staff_required(minimum)` marks each view
with `staff_min_role`, so a settings or key page added later is in the matrix without
an edit here. A role below the minimum gets 403 and changes nothing; a role at or
above it gets through (any answer but 403 and never a server error).
"""

import pytest

from patron.api.tests import walking
from patron.factories import StaffAccessFactory, UserFactory
from patron.lib import urlwalk
from patron.tenants.models import Role
from patron.tenants.permissions import RANK


def guarded_routes() -> list[urlwalk.Route]:
    return [r for r in urlwalk.staff_routes() if getattr(r.callback, "staff_min_role", None)]


def test_staff_required_marks_views_with_their_minimum_role():
    routes = guarded_routes()
    assert routes, "no staff_required views found"
    assert all(isinstance(r.callback.staff_min_role, Role) for r in routes)


@pytest.fixture
def clients(trio):
    manager = UserFactory(email="mia@example.com")
    StaffAccessFactory(user=manager, merchant=trio.merchant, role=Role.MANAGER)
    return {
        Role.OWNER: trio.login(trio.alice),
        Role.MANAGER: trio.login(manager),
        Role.STAFF: trio.login(trio.bob),
    }


def _url(route: urlwalk.Route, trio) -> str:
    previous = urlwalk.previous_segments(route.route)
    values = {}
    for name in route.kwargs:
        found = walking.parameter_value(
            trio.merchant, name, previous.get(name, ""), route.namespace or ""
        )
        values[name] = found or "1"
    return route.fill(values)


def test_roles_below_a_pages_minimum_are_refused_and_change_nothing(trio, clients):
    refused = 0
    failures = []
    before = walking.merchant_digest(trio.merchant)
    for route in guarded_routes():
        url = _url(route, trio)
        minimum = route.callback.staff_min_role
        for role, client in clients.items():
            if RANK[role] >= RANK[minimum]:
                continue
            for method in ("get", "post"):
                answer = getattr(client, method)(url, {})
                refused += 1
                if answer.status_code != 403:
                    failures.append(f"{role} {method.upper()} {url} -> {answer.status_code}")
    assert failures == []
    assert walking.changed_models(before, walking.merchant_digest(trio.merchant)) == []
    print(f"\nrole matrix: {refused} refusals checked")


def test_roles_at_or_above_a_pages_minimum_get_through(trio, clients):
    failures = []
    checked = 0
    for route in guarded_routes():
        url = _url(route, trio)
        minimum = route.callback.staff_min_role
        for role, client in clients.items():
            if RANK[role] < RANK[minimum]:
                continue
            answer = client.get(url)
            checked += 1
            if answer.status_code == 403 or answer.status_code >= 500:
                failures.append(f"{role} GET {url} -> {answer.status_code}")
    assert failures == []
    assert checked >= len(guarded_routes())


def test_api_key_pages_need_more_than_the_staff_role():
    # A key reads and writes everything of the merchant; handing one out is not a
    # cashier's decision. (Personal settings such as the language stay open to staff.)
    key_pages = [r for r in guarded_routes() if "key" in r.route]
    loose = [r.route for r in key_pages if r.callback.staff_min_role == Role.STAFF]
    assert loose == []
