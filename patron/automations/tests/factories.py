"""Workflows for tests, built through the services so positions and defaults are real."""

from typing import Any

from django_scopes import scope

from patron.automations import services
from patron.automations.models import Workflow
from patron.lib.actors import Actor
from patron.tenants.models import Merchant

ACTOR = Actor.system("Tests")


def make_workflow(
    merchant: Merchant,
    steps: list[tuple[str, dict[str, Any]]],
    *,
    name: str = "Test workflow",
    publish: bool = True,
    **kwargs: Any,
) -> Workflow:
    with scope(merchant=merchant):
        workflow = services.workflow_create(
            merchant=merchant,
            actor=ACTOR,
            name=name,
            steps=[{"action_type": key, "config": config} for key, config in steps],
            **kwargs,
        )
        if publish:
            workflow = services.workflow_publish(merchant=merchant, workflow=workflow, actor=ACTOR)
        return workflow
