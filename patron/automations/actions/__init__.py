"""Step types of workflows: one module per family, all derived from `base.Action`.

To add a step type, write a subclass in a module here and list it in `ACTIONS`.
"""

from patron.automations.actions.base import Action, Field, Outcome, StepContext
from patron.automations.actions.contacts import AddNote, AddTag, RemoveTag
from patron.automations.actions.coupons import IssueCoupon
from patron.automations.actions.flow import IfElse, Wait
from patron.automations.actions.loyalty import AddToProgram, GivePoints
from patron.automations.actions.messages import NotifyStaff, SendEmail, SendSms
from patron.automations.actions.webhook import CallWebhook

ACTIONS: dict[str, Action] = {
    action.key: action
    for action in [
        AddToProgram(),
        GivePoints(),
        IssueCoupon(),
        AddTag(),
        RemoveTag(),
        SendSms(),
        SendEmail(),
        NotifyStaff(),
        Wait(),
        IfElse(),
        AddNote(),
        CallWebhook(),
    ]
}


class UnknownAction(KeyError):
    pass


def get(key: str) -> Action:
    try:
        return ACTIONS[key]
    except KeyError as exc:
        raise UnknownAction(key) from exc


__all__ = ["ACTIONS", "Action", "Field", "Outcome", "StepContext", "get"]
