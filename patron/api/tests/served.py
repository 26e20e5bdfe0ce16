"""Patron served from its own processes, for the fault and soak suites.

Each piece is started by the test, on a free loopback port, in its own process group,
and stopped by that group's id when the test ends: a private PostgreSQL cluster, a
private Redis, `patron serve` and `patron worker`. Nothing here touches the shared
PostgreSQL server or the shared Redis.
"""

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
RESULTS = ROOT / "var" / "reliability"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as error:  # not up yet
            last = error
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s ({last!r})")


def save_figures(name: str, figures: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")


def print_logs(folder: Path, tail: int = 60000) -> None:
    """The end of each process's log, for a failed test's report."""
    for log in sorted(folder.glob("*.log")):
        print(f"--- {log.name} ---\n{log.read_text(errors='replace')[-tail:]}")


class Folder:
    """A temporary folder removed at the end, whatever happened."""

    def __init__(self, prefix: str):
        self.path = Path(tempfile.mkdtemp(prefix=prefix))

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class Process:
    """A child in its own session, so stopping it stops whatever it started too."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT):
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        else:
            # The leader is gone; children left in its group may not be (`patron serve`
            # starts its own in groups of their own, which Linux stops with it).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(name)
    return found[-1]


class PrivatePostgres:
    """A throwaway PostgreSQL cluster of our own, run as the postgres OS user."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.data = folder / "pgdata"
        self.port = free_port()
        # The postgres user must reach its data folder inside our temporary one.
        os.chmod(folder, 0o755)  # noqa: S103
        self.data.mkdir()
        shutil.chown(self.data, "postgres", "postgres")
        self._as_postgres(
            pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync"
        )

    def _as_postgres(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/patron"

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60"
        )
        log = str(self.data / "server.log")
        self._as_postgres(
            pg_bin("pg_ctl"), "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "60",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self) -> None:
        self.sql("CREATE DATABASE patron", database="postgres")

    def sql(self, query: str, database: str = "patron") -> list[list[str]]:
        done = subprocess.run(
            [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", database, "-At", "-F", "\t", "-c", query],
            check=True, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return [line.split("\t") for line in done.stdout.splitlines() if line]

    def destroy(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            try:
                self.stop("immediate")
            except (subprocess.SubprocessError, OSError):
                pid = int(pid_file.read_text().split()[0])
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class PrivateRedis:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            shutil.which("redis-server") or "redis-server",
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.folder),
        ]  # fmt: skip
        self.process = Process(args, dict(os.environ), self.folder / "redis.log")

        def up() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")

        wait_for(up, 30, "redis")

    def kill(self) -> None:
        if self.process is not None:
            self.process.stop(signal.SIGKILL)
            self.process = None


def patron_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        API_RATE_LIMIT="1000000",
        PYTHONUNBUFFERED="1",
        TASKS_BACKEND="database",
    )
    env.update(extra)
    return env


def patron_command(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "patron", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise RuntimeError(f"patron {args[0]} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


# Run inside `patron shell`: a merchant with an API key and active members.
SETUP = """
import json
from django_scopes import scope
from patron.factories import ContactFactory, MerchantFactory, make_api_key
from patron.lib.actors import Actor
from patron.loyalty import services as loyalty
actor = Actor.system("Fault suite")
merchant = MerchantFactory(slug="reliability", name="Reliability")
loyalty.program_install_defaults(merchant=merchant)
members, contacts = [], []
with scope(merchant=merchant):
    for _ in range({members}):
        contact = ContactFactory(merchant=merchant)
        member = loyalty.member_ensure(merchant=merchant, contact=contact, actor=actor)
        loyalty.member_activate(merchant=merchant, member=member, actor=actor)
        members.append(member.pk)
        contacts.append(contact.pk)
    {extra}
print("SETUP " + json.dumps({{"key": make_api_key(merchant), "members": members,
                              "contacts": contacts, "merchant": merchant.pk}}))
"""


def set_up_merchant(env: dict[str, str], members: int, extra: str = "pass") -> dict[str, Any]:
    out = patron_command(env, "shell", "-c", SETUP.format(members=members, extra=extra))
    line = next(line for line in out.splitlines() if line.startswith("SETUP "))
    setup = dict(json.loads(line.removeprefix("SETUP ")))
    # `extra` may add values with print("SET <name>", value).
    for line in out.splitlines():
        if line.startswith("SET "):
            _set, name, value = line.split(" ", 2)
            setup[name] = value
    return setup


class Served:
    """`patron serve` (granian, web only) on a free port."""

    def __init__(self, env: dict[str, str], folder: Path, threads: int | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "patron", "serve", "--no-worker"]
        args += ["--port", str(self.port)]
        if threads is not None:
            args += ["--threads", str(threads)]
        self.process = Process(args, env, folder / "web.log")
        wait_for(
            lambda: httpx.get(self.url + "/healthz", timeout=2).status_code == 200, 90, "patron"
        )

    def stop(self) -> None:
        self.process.stop()

    def worker_pids(self) -> list[int]:
        """The granian workers serving requests: the children of granian's main process,
        which is the child of `patron serve` (in a process group of its own)."""
        mains = [pid for pid in children(self.process.pid) if b"granian" in cmdline(pid)]
        return sorted(pid for main in mains for pid in children(main))


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        fields = stat(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, parent, ...), or None
    for a process that is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
