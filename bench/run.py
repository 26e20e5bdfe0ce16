"""`make bench`: measure Patron on this machine against physical references.

Prints a table and writes var/bench/results.json. QUICK=1 (or --quick) shortens every
run and shrinks the data sets, for a check within two minutes.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable

import harness
from harness import Result

PORT = 8877


class Bench:
    def __init__(self, quick: bool):
        self.quick = quick
        self.seconds = 5 if quick else 20
        self.results: list[Result] = []
        self.last_server_rss: float | None = None

    def run(self, name: str, unit: str, target: str, body: Callable[[], Result]) -> None:
        started = time.monotonic()
        try:
            result = body()
        except Exception as error:  # a failed benchmark is a row that says why
            traceback.print_exc()
            result = Result(name, None, unit, target, False, details={"error": str(error)[-500:]})
        result.details["wall_seconds"] = round(time.monotonic() - started, 1)
        self.results.append(result)
        harness.print_table([result])

    # earn_api: give-points calls per second, 16 clients, PostgreSQL, against pgbench TPC-B
    def earn_api(self) -> Result:
        members = 200 if self.quick else 2000
        with harness.postgres_database("patron_bench_earn") as url:
            env = harness.patron_env(url)
            harness.patron(["migrate", "--noinput"], env)
            seed = json.loads(harness.python_script("seed.py", env, "earn", str(members)))
            with harness.served(env, PORT) as server:
                stats = self._earn_load(seed, clients=16)
                self.last_server_rss = max(harness.rss_mb(p) for p in harness.worker_pids(server))
        tps, _ = harness.pgbench_tps(clients=16, seconds=self.seconds)
        ratio = stats["rps"] / tps
        met = ratio >= 0.5 and stats["p99_ms"] <= 50 and stats["non2xx"] == 0
        return Result(
            "earn_api",
            stats["rps"],
            "req/s",
            "ratio >= 0.5, p99 <= 50 ms",
            met,
            reference="pgbench TPC-B tps, 16 clients",
            reference_value=tps,
            ratio=ratio,
            details=stats,
        )

    def earn_api_sqlite(self) -> Result:
        members = 200 if self.quick else 2000
        db = harness.ROOT / "var" / "bench" / "earn.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            db.with_name(db.name + suffix).unlink(missing_ok=True)
        env = harness.patron_env(f"sqlite:///{db}")
        harness.patron(["migrate", "--noinput"], env)
        seed = json.loads(harness.python_script("seed.py", env, "earn", str(members)))
        with harness.served(env, PORT):
            stats = self._earn_load(seed, clients=16)
        met = stats["rps"] >= 500 and stats["non2xx"] == 0
        return Result("earn_api_sqlite", stats["rps"], "req/s", ">= 500 req/s", met, details=stats)

    def _earn_load(self, seed: dict[str, object], clients: int) -> dict[str, float]:
        paths = ",".join(f"/api/v1/members/{m}/points" for m in seed["members"])  # type: ignore[attr-defined]
        env = {
            "PATHS": paths,
            "KEY": str(seed["key"]),
            "BODY": json.dumps({"amount": 5, "reason": "bench"}),
        }
        harness.wrk("post_rotating.lua", f"http://127.0.0.1:{PORT}", clients, 2, env)  # warm-up
        return harness.wrk(
            "post_rotating.lua", f"http://127.0.0.1:{PORT}", clients, self.seconds, env
        )

    def claim_contended(self) -> Result:
        with harness.postgres_database("patron_bench_claim") as url:
            env = harness.patron_env(url)
            harness.patron(["migrate", "--noinput"], env)
            seed = json.loads(harness.python_script("seed.py", env, "claim"))
            path = f"/api/v1/members/{seed['member']}/redemptions"
            load = {
                "PATHS": path,
                "KEY": seed["key"],
                "BODY": json.dumps({"reward_id": str(seed["reward"])}),
            }
            with harness.served(env, PORT):
                stats = harness.wrk(
                    "post_rotating.lua", f"http://127.0.0.1:{PORT}", 32, self.seconds, load
                )
            check = json.loads(harness.python_script("check.py", env, "claim", str(seed["member"])))
        anomaly = (
            not check["consistent"]
            or check["redemptions"] < stats["requests"] - stats["non2xx"] - stats["errors"]
        )
        met = stats["rps"] >= 300 and not anomaly
        return Result(
            "claim_contended",
            stats["rps"],
            "req/s",
            ">= 300 req/s, no anomaly",
            met,
            details={**stats, **check},
        )

    def web_rss(self) -> Result:
        value = self.last_server_rss
        return Result("web_rss", value, "MB", "<= 150 MB", value is not None and value <= 150)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    bench = Bench(quick=args.quick)
    plan = [
        ("earn_api", "req/s", "ratio >= 0.5, p99 <= 50 ms", bench.earn_api),
        ("earn_api_sqlite", "req/s", ">= 500 req/s", bench.earn_api_sqlite),
        ("claim_contended", "req/s", ">= 300 req/s, no anomaly", bench.claim_contended),
        ("web_rss", "MB", "<= 150 MB", bench.web_rss),
    ]
    for name, unit, target, body in plan:
        if args.only and name not in args.only:
            continue
        bench.run(name, unit, target, body)
    print()
    harness.print_table(bench.results)
    harness.write_results(bench.results)
    print(f"\nwritten to {harness.RESULTS}")


if __name__ == "__main__":
    main()
