"""The one base class every workflow step type derives from.

A step type declares the fields staff fill in (the step editor renders a form from
them), the warnings a configuration raises (a send step without a message), and what
running it does. `run` receives a `StepContext` whose `idempotency_key` is derived from
the enrollment and the step: every service it calls gets that key, so a step the engine
retries after a crash acts once.
"""

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.utils.functional import Promise
from django.utils.translation import gettext as _

from patron.automations.models import Enrollment, StepKind, StepRun, WorkflowStep
from patron.contacts.models import Contact
from patron.lib.actors import Actor
from patron.tenants.models import Merchant

MERGE_FIELD = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Field:
    """One setting of a step, as the editor shows it."""

    name: str
    label: str | Promise
    # text, textarea, number, select, url, datetime, time, or "template": a picker of the
    # merchant's message templates of the action's channel, filled in by the editor view
    type: str = "text"
    choices: tuple[tuple[str, str | Promise], ...] = ()
    required: bool = True
    help: str | Promise = ""
    default: Any = ""


@dataclass
class StepContext:
    merchant: Merchant
    enrollment: Enrollment
    contact: Contact
    step: WorkflowStep
    run: StepRun
    actor: Actor
    idempotency_key: str
    now: datetime.datetime

    @property
    def config(self) -> dict[str, Any]:
        return self.step.config or {}

    def merge_values(self) -> dict[str, str]:
        """Values for {merge} fields: the contact, the merchant and what earlier steps made."""
        contact = self.contact
        values = {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "name": contact.full_name or str(contact),
            "phone": str(contact.phone or ""),
            "email": contact.email or "",
            "merchant": self.merchant.name,
            "action_name": self.enrollment.action_name,
        }
        values.update({k: str(v) for k, v in (self.enrollment.context or {}).items()})
        return values

    def merge(self, text: str) -> str:
        values = self.merge_values()
        return MERGE_FIELD.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


@dataclass
class Outcome:
    """What a step did: a sentence for the history and the data it made."""

    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    # Values later steps may use as merge fields, e.g. {"coupon_code": "BDAY-7K2P"}.
    remember: dict[str, Any] = field(default_factory=dict)
    # If/else: how many of the following steps to skip; stop ends the enrollment.
    skip: int = 0
    stop: bool = False


class Action:
    key: ClassVar[str]
    label: ClassVar[str | Promise]
    kind: ClassVar[str] = StepKind.ACTION
    fields: ClassVar[tuple[Field, ...]] = ()
    # Steps that call out of our database (webhooks) run outside the step's transaction,
    # so a slow remote never holds our locks.
    in_transaction: ClassVar[bool] = True

    def name(self, config: dict[str, Any]) -> str:
        """The step as the history and the editor name it."""
        return str(self.label)

    def warnings(self, config: dict[str, Any]) -> list[str]:
        missing = [
            str(f.label)
            for f in self.fields
            if f.required and not str(config.get(f.name, "")).strip()
        ]
        return [_("%(field)s is missing.") % {"field": label} for label in missing]

    def due_at(
        self, config: dict[str, Any], merchant: Merchant, now: datetime.datetime
    ) -> datetime.datetime:
        """When a run of this step becomes due; waits override it."""
        return now

    def run(self, ctx: StepContext) -> Outcome:
        raise NotImplementedError

    def run_batch(self, contexts: Sequence[StepContext]) -> list[Outcome]:
        """`run` for many enrollments in one transaction without savepoints, where any
        error undoes them all (the engine then runs each alone). An action whose step
        costs statements of its own overrides it to share them; by default the steps run
        one after another."""
        return [self.run(ctx) for ctx in contexts]
