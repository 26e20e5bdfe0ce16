"""A small HTTP load generator, run in its own process by bench/run.py.

    loadgen.py rate URL REQUESTS_JSON --rate R --seconds S [--connections C]
        Open loop: request i is due at start + i / R whatever the answers before it,
        and its latency counts from that moment, so a slow server shows up as latency
        (no coordinated omission). C keep-alive connections share the schedule. A
        server too slow to finish within twice the run (plus 5 s) has the requests
        still waiting then counted as dropped, so the run stays bounded.
    loadgen.py serial URL REQUESTS_JSON --requests N [--warmup W]
        One connection, one request after another: the latency of a quiet server.

REQUESTS_JSON is a file holding a list of {"path": ..., "headers": {...}}, taken in
turn. Prints one JSON line: requests, errors, non2xx, dropped, p50_ms, p90_ms,
p99_ms, max_ms, rps, seconds.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import threading
import time
from urllib.parse import urlsplit


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


class Client:
    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, headers: dict[str, str]) -> int:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request("GET", path, headers=headers)
                response = self.conn.getresponse()
                response.read()
                if response.will_close:
                    self.conn.close()
                    self.conn = None
                return response.status
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def summary(
    latencies: list[float], errors: int, non2xx: int, seconds: float, dropped: int = 0
) -> dict[str, float]:
    return {
        "requests": len(latencies),
        "errors": errors,
        "non2xx": non2xx,
        "dropped": dropped,
        "p50_ms": round(percentile(latencies, 50) * 1000, 3),
        "p90_ms": round(percentile(latencies, 90) * 1000, 3),
        "p99_ms": round(percentile(latencies, 99) * 1000, 3),
        "max_ms": round(max(latencies, default=0) * 1000, 3),
        "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "seconds": round(seconds, 3),
    }


def run_rate(url: str, requests: list[dict], rate: float, seconds: float, connections: int) -> dict:
    total = int(rate * seconds)
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"errors": 0, "non2xx": 0, "dropped": 0}
    start = time.monotonic() + 0.2
    stop_at = start + 2 * seconds + 5

    def loop() -> None:
        client = Client(url)
        while True:
            with lock:
                i = next(counter)
            if i >= total:
                return
            due = start + i / rate
            if time.monotonic() > stop_at:
                with lock:
                    counts["dropped"] += 1
                continue
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            request = requests[i % len(requests)]
            try:
                status = client.get(request["path"], request.get("headers", {}))
            except (OSError, http.client.HTTPException):
                with lock:
                    counts["errors"] += 1
                continue
            took = time.monotonic() - due
            with lock:
                latencies.append(took)
                if not 200 <= status < 300:
                    counts["non2xx"] += 1

    threads = [threading.Thread(target=loop) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds_taken = time.monotonic() - start
    return summary(latencies, counts["errors"], counts["non2xx"], seconds_taken, counts["dropped"])


def run_serial(url: str, requests: list[dict], count: int, warmup: int) -> dict:
    client = Client(url)
    latencies: list[float] = []
    errors = non2xx = 0
    for i in range(warmup):
        request = requests[i % len(requests)]
        client.get(request["path"], request.get("headers", {}))
    start = time.monotonic()
    for i in range(count):
        request = requests[i % len(requests)]
        began = time.monotonic()
        try:
            status = client.get(request["path"], request.get("headers", {}))
        except (OSError, http.client.HTTPException):
            errors += 1
            continue
        latencies.append(time.monotonic() - began)
        if not 200 <= status < 300:
            non2xx += 1
    return summary(latencies, errors, non2xx, time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["rate", "serial"])
    parser.add_argument("url")
    parser.add_argument("requests_json")
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    with open(args.requests_json) as handle:
        requests = json.load(handle)
    if args.mode == "rate":
        out = run_rate(args.url, requests, args.rate, args.seconds, args.connections)
    else:
        out = run_serial(args.url, requests, args.requests, args.warmup)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
