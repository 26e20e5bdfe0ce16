"""Background jobs of automations. They open the tenant scope (where needed) and call in."""

from django.tasks import task
from django_scopes import scope, scopes_disabled

from patron.automations import engine, services, triggers
from patron.contacts.models import ActivityEvent


@task
def run_due_steps() -> int:
    """Run the steps that are due (enqueued every second and whenever a step is due now)."""
    return engine.run_due_steps()


@task
def dispatch_event(event_id: int) -> int:
    """Start the workflows an activity event triggers."""
    with scopes_disabled():
        event = (
            ActivityEvent.objects.select_related("merchant", "contact").filter(pk=event_id).first()
        )
    if event is None:
        return 0
    with scope(merchant=event.merchant):
        return len(services.event_dispatch(event))


@task
def run_date_triggers() -> int:
    """Birthdays, no visit for N days, coupons and points expiring: in each merchant's time."""
    return triggers.run_date_triggers()
