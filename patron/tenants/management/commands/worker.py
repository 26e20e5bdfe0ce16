"""`patron worker`: run background jobs, and enqueue the periodic ones on time."""

import gc
import logging
import signal
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


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
                try:
                    task.enqueue()
                except Exception:
                    # The queue is down (Redis restarting): try again at the next tick
                    # instead of letting the clock die, or the sweeps that re-enqueue
                    # work lost with the queue would never run again.
                    logger.exception("Could not enqueue %s; retrying", task.name)
                    continue
                next_run[index] = now + seconds
        stop.wait(1.0)


RQ_RESTART_SECONDS = 2.0


def run_rq_worker() -> None:
    """RQ's worker, started again whenever it quits because Redis went away.

    RQ quits on a lost connection (django-rq exits with status 1); without this the
    worker process would end and nothing would run once Redis is back. Work enqueued
    while Redis was down is not lost: it waits in our own tables (messages, step runs,
    webhook deliveries) and the clock's periodic sweeps enqueue it again.
    """
    from redis.exceptions import ConnectionError as RedisConnectionError

    while True:
        try:
            call_command("rqworker", "default", with_scheduler=True)
            return  # a requested stop (SIGTERM, SIGINT)
        except (RedisConnectionError, SystemExit) as error:
            if isinstance(error, SystemExit) and not error.code:
                raise
            logger.warning("RQ worker lost Redis (%s); starting again", error)
        # RQ's own signal handlers stay installed after it quits; a stop asked for
        # while we wait must end the process, as it would without RQ.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        time.sleep(RQ_RESTART_SECONDS)


class Command(BaseCommand):
    help = "Run a background worker (and the clock that schedules periodic jobs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-clock", action="store_true", help="Do not enqueue periodic jobs")
        parser.add_argument("--interval", type=float, default=0.5, help="Poll interval, seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        # As in patron.wsgi: what is loaded by now lives as long as the process, so full
        # collections need not walk it (and RQ's forked work horses need not copy the
        # pages a collection would touch).
        gc.freeze()
        stop = threading.Event()
        if not options["no_clock"]:
            threading.Thread(target=run_clock, args=(stop,), daemon=True, name="clock").start()
        try:
            if settings.TASKS_BACKEND == "rq":
                run_rq_worker()
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
