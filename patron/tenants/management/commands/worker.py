"""`patron worker`: run background jobs, and enqueue the periodic ones on time."""

import threading
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string


def run_clock(stop: threading.Event) -> None:
    """Enqueue each periodic task (settings.PATRON_PERIODIC_TASKS) at its interval.

    Several workers may each run a clock: the periodic tasks claim their rows with
    locks, so a duplicate run finds nothing left to do.
    """
    schedule = [(import_string(path), seconds) for path, seconds in settings.PATRON_PERIODIC_TASKS]
    next_run = [0.0] * len(schedule)
    while not stop.is_set():
        now = time.monotonic()
        for index, (task, seconds) in enumerate(schedule):
            if now >= next_run[index]:
                task.enqueue()
                next_run[index] = now + seconds
        stop.wait(1.0)


class Command(BaseCommand):
    help = "Run a background worker (and the clock that schedules periodic jobs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-clock", action="store_true", help="Do not enqueue periodic jobs")
        parser.add_argument("--interval", type=float, default=0.5, help="Poll interval, seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        if not options["no_clock"]:
            threading.Thread(target=run_clock, args=(stop,), daemon=True, name="clock").start()
        try:
            if settings.TASKS_BACKEND == "rq":
                call_command("rqworker", "default", with_scheduler=True)
            else:
                call_command(
                    "db_worker",
                    queue_name="*",
                    interval=options["interval"],
                    reload=False,
                    startup_delay=False,
                    verbosity=options["verbosity"],
                )
        finally:
            stop.set()
