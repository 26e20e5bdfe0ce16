"""`patron serve`: the web app and an embedded background worker, in one command.

The web server is granian: its HTTP handling is Rust, and the app runs on a few Python
threads per process. It replaced gunicorn's threaded workers after they were compared on
one PostgreSQL database, 2 processes each on this project's 2-core machine, taking turns
in three rounds (`bench/servers.py` runs the same comparison): give-points calls with 16
clients 136, 114 and 158 req/s (p99 163 to 257 ms) against gunicorn's 74, 129 and 117
(p99 298 to 325 ms); the customer page's p99 at 200 requests/s 17 to 37 ms against 18 to
265 ms. Four threads, not gunicorn's eight: more only queue on each process's one
interpreter lock (8 threads: the same page's p99 13 to 127 ms).
"""

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

# How long a child may take to stop before it is killed: granian's own limit for its
# workers, and a margin for it to notice.
STOP_SECONDS = 30
PR_SET_PDEATHSIG = 1


class Command(BaseCommand):
    help = "Serve the web app (granian) with a background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "1")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "4")))
        parser.add_argument("--no-worker", action="store_true", help="Web only")
        parser.add_argument(
            "--access-log",
            action=argparse.BooleanOptionalAction,
            default=os.environ.get("WEB_ACCESS_LOG", "1") == "1",
            help="A line per request on standard output (default on; WEB_ACCESS_LOG=0 turns "
            "it off where a load balancer logs requests already)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        children: list[subprocess.Popen[bytes]] = []
        if not options["no_worker"]:
            children.append(_start([sys.executable, "-m", "patron", "worker"]))
        web = [
            sys.executable, "-m", "granian", "patron.wsgi:application",
            "--interface", "wsgi", "--no-ws",
            "--host", options["host"], "--port", str(options["port"]),
            "--workers", str(options["workers"]),
            "--blocking-threads", str(options["threads"]),
            # A worker that dies (out of memory, a crash in a C library) is started again,
            # and one that does not stop within 30 s of a shutdown is killed.
            "--respawn-failed-workers", "--workers-kill-timeout", f"{STOP_SECONDS}",
            "--backlog", "2048",
            "--access-log" if options["access_log"] else "--no-access-log",
        ]  # fmt: skip
        children.append(_start(web))
        self.stdout.write(f"Patron is serving at http://{options['host']}:{options['port']}/")

        stopping: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
        signal.signal(signal.SIGINT, lambda signum, frame: stopping.append(signum))
        try:
            # If either child dies, stop the other: half a Patron is worse than none.
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            _stop(children)


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    """A child in a process group of its own, which hears a stop signal once, from us.

    Ctrl-C in a terminal, or a supervisor stopping our process group, would otherwise
    reach each child directly as well as through `_stop`; granian's main process can
    deadlock in its signal handler when a second stop signal lands while it handles the
    first (seen under `make bench`: it stayed up, with no workers, for an hour).
    """
    parent = os.getpid()

    def stop_with_parent() -> None:
        # In the child before it runs: when `patron serve` dies, even by SIGKILL, Linux
        # sends the child SIGTERM, so no web or worker process outlives it.
        if sys.platform == "linux":
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    # preexec_fn is unsafe in a process with threads; this command starts none.
    return subprocess.Popen(args, process_group=0, preexec_fn=stop_with_parent)  # noqa: PLW1509


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """One SIGTERM to each child still running; a child group still there after
    STOP_SECONDS and a margin is killed."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=STOP_SECONDS + 10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=10)
