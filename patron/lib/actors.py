"""Who did something: a staff user, an API key, an automation, the customer or the system.

Every write records its actor, so the activity timeline and the audit can say "who".
Rows store the actor as three plain columns (kind, id, label) via `ActorFields`, so the
label survives the deletion of the user or key it names.
"""

from dataclasses import dataclass
from typing import Any, Literal

from django.db import models

ActorKind = Literal["staff", "api_key", "automation", "customer", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    label: str

    @classmethod
    def staff(cls, user: Any) -> "Actor":
        return cls("staff", str(user.pk), user.get_full_name() or user.email)

    @classmethod
    def api_key(cls, key: Any) -> "Actor":
        return cls("api_key", str(key.pk), f"API key {key.name or key.prefix}")

    @classmethod
    def automation(cls, workflow_name: str, enrollment_id: Any) -> "Actor":
        return cls("automation", str(enrollment_id), workflow_name)

    @classmethod
    def customer(cls, contact_id: Any, label: str = "Customer") -> "Actor":
        return cls("customer", str(contact_id), label)

    @classmethod
    def system(cls, label: str = "Patron") -> "Actor":
        return cls("system", "", label)

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "label": self.label}


SYSTEM = Actor.system()


class ActorFields(models.Model):
    """The three columns that name who did a write."""

    actor_kind = models.CharField(max_length=16, default="system")
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_label = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        abstract = True

    def set_actor(self, actor: Actor) -> None:
        self.actor_kind, self.actor_id, self.actor_label = actor.kind, actor.id, actor.label

    @property
    def actor(self) -> Actor:
        return Actor(self.actor_kind, self.actor_id, self.actor_label)  # type: ignore[arg-type]
