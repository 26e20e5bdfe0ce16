"""API fuzzing: schemathesis generates requests for every operation of our OpenAPI.

Each operation gets generated (valid and invalid) requests against the WSGI app, with
the demo merchant's key. Every other example has its path parameters replaced by real
ids of the demo merchant, so the handlers get past "not found" and into their rules.
Checks: no 5xx, the body and content type of every documented answer match the schema,
and a 4xx answer writes nothing (row counts of every table of ours before and after).

The default run is bounded (FAST_EXAMPLES per operation); `make test-long` runs the
larger one marked slow. The figures of the last run go to var/reliability/.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.apps import apps
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from patron.api.tests import walking
from patron.factories import make_api_key
from patron.lib import urlwalk

FAST_EXAMPLES = 5
# CI may lower this to fit its time budget.
SLOW_EXAMPLES = int(os.environ.get("FUZZ_SLOW_EXAMPLES", "60"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
FIGURES: dict[str, Any] = {"operations": set(), "examples": 0, "four_xx": 0, "slow": False}


class Target:
    """The demo merchant, its key and the real values its path parameters can take."""

    def __init__(self, merchant: Any):
        self.merchant = merchant
        with scopes_disabled():
            self.key = make_api_key(merchant)
        self.values: dict[tuple[str, str], str | None] = {}

    def value(self, operation: walking.Operation, name: str) -> str | None:
        if (operation.path, name) not in self.values:
            previous = urlwalk.previous_segments(operation.path).get(name, "")
            self.values[operation.path, name] = walking.parameter_value(
                self.merchant, name, previous, operation.app_label
            )
        return self.values[operation.path, name]


@pytest.fixture(scope="module")
def target(django_db_setup: None, django_db_blocker: Any) -> Iterator[Target]:
    """The demo data, built once for the module and removed after it.

    Building it per operation would take minutes; each test still runs in its own
    transaction, so what the fuzzer writes is rolled back between operations.
    """
    from patron import demo

    with django_db_blocker.unblock():
        built = demo.build_demo()
        yield Target(built.merchant)
        # What a transactional test does at its end: leave an empty database behind.
        call_command("flush", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def keep_test_connection() -> Iterator[None]:
    """Let WSGI requests run inside the test's transaction, as Django's test client does.

    Django closes "old" connections when a request starts and finishes; inside the
    test's atomic block that closes the very connection the test is using.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema() -> Any:
    # Loaded at import (pytest-django has configured Django by then): the lazy
    # from_fixture loader of schemathesis does not work with pytest 9.
    from patron.wsgi import application

    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


schema = _load_schema()


def row_counts() -> dict[str, int]:
    """Rows of every table of ours (rate-limit counters are not writes of the request)."""
    with scopes_disabled():
        return {
            model._meta.label: model._base_manager.count()
            for model in apps.get_models()
            if model.__module__.startswith("patron.")
            and model._meta.label != "audit.RateLimitWindow"
        }


def run_case(case: Any, target: Target) -> None:
    operation = walking.Operation(
        case.method.lower(), case.path, {"tags": case.operation.tags or [""]}
    )
    FIGURES["examples"] += 1
    FIGURES["operations"].add(case.operation.label)
    if case.path_parameters and FIGURES["examples"] % 2 == 0:
        for name in list(case.path_parameters):
            real = target.value(operation, name)
            if real is not None:
                case.path_parameters[name] = real
    writes = case.method.upper() != "GET"
    before = row_counts() if writes else {}
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {target.key}"}, checks=CHECKS
    )
    if writes and 400 <= response.status_code < 500:
        FIGURES["four_xx"] += 1
        after = row_counts()
        written = {label: after[label] - n for label, n in before.items() if after[label] != n}
        assert written == {}, (
            f"{case.method} {case.formatted_path} answered {response.status_code} "
            f"but wrote {written}"
        )


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    walking.write_figures(
        "fuzz",
        {
            "operations_fuzzed": len(FIGURES["operations"]),
            "examples_tried": FIGURES["examples"],
            "four_xx_answers_checked_for_writes": FIGURES["four_xx"],
            "max_examples_per_operation": SLOW_EXAMPLES if FIGURES["slow"] else FAST_EXAMPLES,
        },
    )


COMMON = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": list(HealthCheck),
    # Generated examples only: the explicit phase adds schemathesis' coverage examples,
    # hundreds per operation, which belong in the slow run.
    "phases": [Phase.generate],
    "database": None,
}


@schema.parametrize()
@hypothesis_settings(max_examples=FAST_EXAMPLES, **COMMON)
def test_api_survives_generated_requests(
    case: Any, target: Target, db: None, settings: Any
) -> None:
    settings.API_RATE_LIMIT = 0
    run_case(case, target)


@pytest.mark.slow
@schema.parametrize()
@hypothesis_settings(
    max_examples=SLOW_EXAMPLES, **{**COMMON, "phases": [Phase.explicit, Phase.generate]}
)
def test_api_survives_many_generated_requests(
    case: Any, target: Target, db: None, settings: Any
) -> None:
    settings.API_RATE_LIMIT = 0
    FIGURES["slow"] = True
    run_case(case, target)
