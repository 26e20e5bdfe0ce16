"""The pieces every benchmark uses: databases, a served Patron, wrk, pgbench, results.

Benchmarks run Patron as it runs in production (`patron serve`, no debug) against a database
this harness creates and drops, and drive it from a separate process (wrk), so the
numbers include the whole stack. References are measured on the same machine in the
same run, so ratios hold across machines.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PG = "postgres://postgres@127.0.0.1:5432/"
RESULTS = ROOT / "var" / "bench" / "results.json"
# Migrated once per run; each benchmark's database is a copy of it (CREATE DATABASE
# ... TEMPLATE), which takes a second where migrating takes half a minute. pgbench's
# database is likewise initialized once per run and shared by the references.
TEMPLATE = "patron_bench_template"
PGBENCH_DB = "patron_bench_pgbench"
_template = {"ready": False, "pgbench": False}


@dataclass
class Result:
    name: str
    value: float | None
    unit: str
    target: str
    met: bool
    reference: str | None = None
    reference_value: float | None = None
    ratio: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


def psql(sql: str, db: str = "postgres") -> str:
    return subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-Atqc", sql, db],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name}")
    try:
        yield PG + name
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def migrated_database(name: str) -> Iterator[str]:
    """A fresh database of Patron's current schema, dropped afterwards."""
    _migrate_template()
    psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    try:
        yield PG + name
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def prepare_templates(sqlite: Path | None) -> None:
    """Migrate the PostgreSQL template and, if asked, a SQLite file side by side.

    Both are set-up, done before anything is measured: on two cores they overlap well,
    and a QUICK run spends a tenth of its two minutes on them.
    """
    jobs = [threading.Thread(target=_migrate_template)]
    if sqlite is not None:
        jobs.append(threading.Thread(target=_migrate_sqlite, args=(sqlite,)))
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    if not _template["ready"] or (sqlite is not None and not sqlite.exists()):
        raise RuntimeError("the benchmark databases could not be migrated (see above)")


def _migrate_template() -> None:
    if _template["ready"]:
        return
    psql(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
    psql(f"CREATE DATABASE {TEMPLATE}")
    patron(["migrate", "--noinput"], patron_env(PG + TEMPLATE))
    _template["ready"] = True


def _migrate_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    patron(["migrate", "--noinput"], patron_env(f"sqlite:///{path}"))


def drop_shared() -> None:
    """Drop the template and pgbench's database at the end of a run."""
    psql(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
    psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
    _template["ready"] = _template["pgbench"] = False


def patron_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        LOG_LEVEL="ERROR",
        PATRON_VAR_DIR=str(ROOT / "var" / "bench"),
        # The per-key limit still counts every request (its cost is measured) but is set
        # above any rate a run reaches: the default 1,200 a minute would answer 429.
        API_RATE_LIMIT="1000000000",
        **extra,
    )
    return env


def patron(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "patron", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"patron {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def python_script(script: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / script), *args],
        env={**env, "DJANGO_SETTINGS_MODULE": "patron.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed:\n{done.stderr[-3000:]}")
    return done.stdout


@contextmanager
def served(
    env: dict[str, str], port: int, workers: int = 2, options: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[bytes]]:
    """Patron's production server (`patron serve --no-worker`, its default threads unless
    `options` say otherwise) on 127.0.0.1:port."""
    command = ["serve", "--no-worker", "--port", str(port), "--workers", str(workers), *options]
    server = subprocess.Popen(
        [PYTHON, "-m", "patron", *command],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the server did not come up")
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # A run is bounded: a server that does not stop is killed, and the row says so.
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
            raise


@contextmanager
def workers(env: dict[str, str], count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` background worker processes (`patron worker`), stopped afterwards."""
    procs = [
        subprocess.Popen(
            [PYTHON, "-m", "patron", "worker"], env=env, cwd=ROOT, start_new_session=True
        )
        for _ in range(count)
    ]
    try:
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def loadgen(*args: str, timeout: float = 600) -> dict[str, Any]:
    """bench/loadgen.py in its own process; returns its JSON summary."""
    done = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "loadgen.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The web server's worker processes: the children of its main process, which is the
    child of `patron serve`."""
    pids = []
    for main in _children(server.pid):
        pids += _children(main)
    return pids


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return [int(child) for child in out.stdout.split()]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def wrk(script: str, url: str, clients: int, seconds: int, env: dict[str, str]) -> dict[str, float]:
    """Run wrk with one of bench/wrk/*.lua; returns requests, errors, p50_ms, p99_ms, rps."""
    threads = min(2, clients)
    command = [
        "wrk",
        "-t",
        str(threads),
        "-c",
        str(clients),
        "-d",
        f"{seconds}s",
        "--latency",
        # wrk's default gives up on an answer after 2 s and leaves it out of the
        # latencies; a slow answer is latency to report, not an error to drop.
        "--timeout",
        "30s",
        "-s",
        str(ROOT / "bench" / "wrk" / script),
        url,
    ]
    done = subprocess.run(
        command,
        env={**os.environ, **env, "RUN": uuid.uuid4().hex},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    line = next((row for row in done.stdout.splitlines() if row.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    stats = json.loads(line[5:])
    stats["rps"] = stats["requests"] / stats["seconds"] if stats["seconds"] else 0.0
    return stats


def pgbench_tps(clients: int, seconds: int, select_only: bool = False) -> tuple[float, float]:
    """pgbench on a database of its own: (transactions per second, mean latency in ms)."""
    if not _template["pgbench"]:
        psql(f"DROP DATABASE IF EXISTS {PGBENCH_DB} WITH (FORCE)")
        psql(f"CREATE DATABASE {PGBENCH_DB}")
        subprocess.run(
            ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", "10", PGBENCH_DB],
            check=True,
            capture_output=True,
        )
        _template["pgbench"] = True
    command = [
        "pgbench",
        "-h",
        "127.0.0.1",
        "-U",
        "postgres",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(seconds),
        "-M",
        "prepared",
        PGBENCH_DB,
    ]
    if select_only:
        command.insert(1, "-S")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))  # type: ignore[union-attr]
    return tps, latency


def write_results(results: list[Result]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for result in results:
        row = asdict(result)
        rows.append(row)
    RESULTS.write_text(json.dumps({"results": rows}, indent=2))


def print_table(results: list[Result]) -> None:
    header = (
        f"{'name':<18} {'value':>12} {'unit':<10} {'reference':>14} {'ratio':>7}  "
        f"{'target':<34} met"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        value = "n/a" if r.value is None else f"{r.value:,.1f}"
        ref = "" if r.reference_value is None else f"{r.reference_value:,.1f}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        met = "yes" if r.met else "NO"
        print(f"{r.name:<18} {value:>12} {r.unit:<10} {ref:>14} {ratio:>7}  {r.target:<34} {met}")
    sys.stdout.flush()
