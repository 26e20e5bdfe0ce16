"""`patron serve` as a supervisor: its web server hears a stop once and never outlives it.

The server answers `/healthz` without the database, so no migration is needed here.
"""

import os
import signal
import time
from collections.abc import Callable

import httpx

from patron.api.tests import served


def tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found = [pid]
    for child in served.children(pid):
        found += tree(child)
    return found


def alive(pids: list[int]) -> list[int]:
    """The ones still running (a zombie has stopped; only its parent has not collected it)."""
    return [pid for pid in pids if (fields := served.stat(pid)) is not None and fields[0] != "Z"]


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def start(folder: served.Folder) -> served.Served:
    env = served.patron_env(f"sqlite:///{folder.path / 'unused.sqlite3'}")
    web = served.Served(env, folder.path)
    assert httpx.get(web.url + "/healthz", timeout=5).status_code == 200
    assert web.worker_pids(), "granian's workers"
    return web


def test_the_web_server_runs_in_a_process_group_of_its_own():
    # A signal to our group (Ctrl-C, a supervisor) must not reach granian directly as
    # well as through `patron serve`: two stop signals at once can hang its main process.
    folder = served.Folder("patron-serve-")
    web = start(folder)
    try:
        (main,) = [p for p in served.children(web.process.pid) if b"granian" in served.cmdline(p)]
        assert os.getpgid(main) == main != web.process.pid
    finally:
        web.stop()
        folder.remove()


def stopped_by(send: Callable[[int], None]) -> list[int]:
    """Serve, `send(pid of patron serve)`, and return what is still running 45 s later."""
    folder = served.Folder("patron-serve-")
    web = start(folder)
    try:
        pids = tree(web.process.pid)
        send(web.process.pid)
        return wait_gone(pids, 45)
    finally:
        web.stop()
        folder.remove()


def test_stopping_the_group_stops_every_process():
    assert stopped_by(lambda pid: os.killpg(pid, signal.SIGTERM)) == []


def test_a_killed_serve_takes_its_web_server_with_it():
    assert stopped_by(lambda pid: os.kill(pid, signal.SIGKILL)) == []
