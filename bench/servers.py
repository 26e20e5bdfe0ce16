"""Compare ways of serving Patron on this machine, to choose `patron serve`'s defaults.

    servers.py [--rounds R] [--seconds S] -- CONFIG [CONFIG ...]

A CONFIG is `patron serve` options joined by commas, e.g. `--threads=4` or
`--threads=8,--no-access-log`. On one PostgreSQL database (customer page members and
give-points members seeded once), each round serves every CONFIG in turn and measures
the customer page's p99 at 200 requests/s (bench/loadgen.py, open loop) and give-points
calls/s with 16 clients (wrk). Rounds alternate the configs because this machine's speed
drifts from minute to minute; compare configs within a round, not across rounds.
"""

import argparse
import json
import tempfile

import harness

PORT = 8878


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    base = f"http://127.0.0.1:{PORT}"
    with harness.migrated_database("patron_bench_servers") as url:
        env = harness.patron_env(url)
        portal = json.loads(harness.python_script("seed.py", env, "portal", "200"))
        earn = json.loads(harness.python_script("seed.py", env, "earn", "2000"))
        path = f"/p/{portal['merchant']}/"
        pages = [{"path": path, "headers": {"Cookie": c}} for c in portal["cookies"]]
        load = {
            "PATHS": ",".join(f"/api/v1/members/{m}/points" for m in earn["members"]),
            "KEY": earn["key"],
            "BODY": json.dumps({"amount": 5, "reason": "bench"}),
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
            json.dump(pages, file)
            file.flush()
            for number in range(1, args.rounds + 1):
                for config in args.configs:
                    options = tuple(option for option in config.split(",") if option)
                    with harness.served(env, PORT, options=options) as server:
                        harness.loadgen("rate", base, file.name, "--rate", "100", "--seconds", "2")
                        page = harness.loadgen(
                            "rate", base, file.name, "--rate", "200", "--seconds", str(args.seconds)
                        )
                        harness.wrk("post_rotating.lua", base, 16, 2, load)
                        points = harness.wrk("post_rotating.lua", base, 16, args.seconds, load)
                        rss = max(harness.rss_mb(pid) for pid in harness.worker_pids(server))
                    print(
                        f"round {number} {config or 'defaults':<28} "
                        f"page p50 {page['p50_ms']:6.1f} p99 {page['p99_ms']:6.1f} ms | "
                        f"give points {points['rps']:6.1f}/s p99 {points['p99_ms']:5.0f} ms | "
                        f"RSS {rss:.0f} MB",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
