"""`patron serve`: the web app and an embedded background worker, in one command."""

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve the web app (gunicorn) with a background worker beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "1")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8")))
        parser.add_argument("--no-worker", action="store_true", help="Web only")

    def handle(self, *args: Any, **options: Any) -> None:
        children: list[subprocess.Popen[bytes]] = []
        if not options["no_worker"]:
            children.append(subprocess.Popen([sys.executable, "-m", "patron", "worker"]))
        web = [
            sys.executable, "-m", "gunicorn", "patron.wsgi:application",
            "--bind", f"{options['host']}:{options['port']}",
            "--workers", str(options["workers"]),
            "--threads", str(options["threads"]),
            "--worker-class", "gthread",
            "--access-logfile", "-",
        ]  # fmt: skip
        children.append(subprocess.Popen(web))
        self.stdout.write(f"Patron is serving at http://{options['host']}:{options['port']}/")

        def stop(signum: int, frame: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            # If either child dies, stop the other: half a Patron is worse than none.
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop(signal.SIGTERM, None)
            for child in children:
                child.wait(timeout=30)
