"""Contact steps: add or remove a tag, add a note."""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.automations.actions.base import Action, Field, Outcome, StepContext
from patron.lib.errors import NotFound


class AddTag(Action):
    key = "add_tag"
    label = gettext_lazy("Add a tag")
    fields = (Field("tag", gettext_lazy("Tag")),)

    def name(self, config: dict[str, Any]) -> str:
        return _("Add tag “%(tag)s”") % {"tag": config.get("tag") or "?"}

    def run(self, ctx: StepContext) -> Outcome:
        from patron.contacts import services

        tag = services.contact_tag_add(
            merchant=ctx.merchant, contact=ctx.contact, name=ctx.config["tag"], actor=ctx.actor
        )
        return Outcome(_("Tag %(tag)s added") % {"tag": tag.name})


class RemoveTag(Action):
    key = "remove_tag"
    label = gettext_lazy("Remove a tag")
    fields = (Field("tag", gettext_lazy("Tag")),)

    def name(self, config: dict[str, Any]) -> str:
        return _("Remove tag “%(tag)s”") % {"tag": config.get("tag") or "?"}

    def run(self, ctx: StepContext) -> Outcome:
        from patron.contacts import services

        try:
            services.contact_tag_remove(
                merchant=ctx.merchant, contact=ctx.contact, name=ctx.config["tag"], actor=ctx.actor
            )
        except NotFound:
            # Removing a tag the contact no longer has is done, not failed.
            return Outcome(_("The contact had no tag %(tag)s") % {"tag": ctx.config["tag"]})
        return Outcome(_("Tag %(tag)s removed") % {"tag": ctx.config["tag"]})


class AddNote(Action):
    key = "add_note"
    label = gettext_lazy("Add a note")
    fields = (Field("text", gettext_lazy("Note"), type="textarea"),)

    def run(self, ctx: StepContext) -> Outcome:
        from patron.contacts import services

        services.note_add(
            merchant=ctx.merchant,
            contact=ctx.contact,
            text=ctx.merge(ctx.config["text"]),
            actor=ctx.actor,
        )
        return Outcome(_("Note added"))
