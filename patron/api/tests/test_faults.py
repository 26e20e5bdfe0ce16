"""Faults: the database restarted under a load of writes, and Redis down in RQ mode.

Everything runs in processes of our own on loopback (see served.py): a private
PostgreSQL cluster and a private Redis, never the shared servers. Figures go to
var/reliability/faults-*.json for the README's Reliability table.
"""

import json
import os
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from patron.api.tests import served

pytestmark = pytest.mark.slow

WRITERS = 4
WRITES_PER_WRITER = int(os.environ.get("FAULT_WRITES", "50"))
DEADLINE_SECONDS = 240


class Writer(threading.Thread):
    """Gives points with one Idempotency-Key per write, retrying a write until accepted.

    A 503 or a dropped connection means "try again with the same key"; a 500, or any
    other answer, is a failure of the test.
    """

    def __init__(self, url: str, key: str, members: list[int], number: int, deadline: float):
        super().__init__(daemon=True, name=f"writer-{number}")
        self.url, self.number, self.deadline = url, number, deadline
        self.headers = {"Authorization": f"Bearer {key}"}
        self.members = members
        self.accepted: dict[str, int] = {}
        self.answers: Counter[str] = Counter()
        self.failures: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=15) as client:
            for i in range(WRITES_PER_WRITER):
                key = f"fault-{self.number}-{i}"
                member = self.members[i % len(self.members)]
                amount = 1 + i % 7
                if not self._write(client, key, member, amount):
                    return

    def _write(self, client: httpx.Client, key: str, member: int, amount: int) -> bool:
        body = {"amount": amount, "reason": key}
        while time.monotonic() < self.deadline:
            try:
                answer = client.post(
                    f"/api/v1/members/{member}/points",
                    json=body,
                    headers={**self.headers, "Idempotency-Key": key},
                )
            except httpx.TransportError as error:
                self.answers[type(error).__name__] += 1
                time.sleep(0.2)
                continue
            self.answers[str(answer.status_code)] += 1
            if answer.status_code == 201:
                self.accepted[key] = amount
                return True
            if answer.status_code == 503:
                problem = answer.json()
                if answer.headers["content-type"] != "application/problem+json" or (
                    problem.get("code") != "database_unavailable"
                ):
                    self.failures.append(f"{key}: 503 without the problem: {answer.text[:200]}")
                    return False
                time.sleep(0.2)
                continue
            self.failures.append(f"{key}: {answer.status_code} {answer.text[:300]}")
            return False
        self.failures.append(f"{key}: not accepted before the deadline")
        return False


@pytest.mark.postgres_only
# With health checks off (DATABASE_CONN_HEALTH_CHECKS=0), each kept connection finds the
# restart at its next query: that request must still answer 503, never 500.
@pytest.mark.parametrize("health_checks", ["1", "0"])
def test_database_restarts_under_writes_lose_nothing_and_answer_503(tmp_path, health_checks):
    folder = served.Folder("patron-faults-pg-")
    database: served.PrivatePostgres | None = None
    web: served.Served | None = None
    try:
        try:
            database = served.PrivatePostgres(folder.path)
            database.start()
        except (FileNotFoundError, OSError) as error:
            pytest.skip(f"Cannot run a private PostgreSQL cluster here: {error}")
        database.create_database()
        env = served.patron_env(
            database.url, DATABASE_CONN_MAX_AGE="60", DATABASE_CONN_HEALTH_CHECKS=health_checks
        )
        served.patron_command(env, "migrate", "--noinput")
        setup = served.set_up_merchant(env, members=3)
        web = served.Served(env, folder.path)
        arbiter_pid = web.process.pid

        deadline = time.monotonic() + DEADLINE_SECONDS
        writers = [
            Writer(web.url, setup["key"], setup["members"], n, deadline) for n in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        total = WRITERS * WRITES_PER_WRITER

        def accepted() -> int:
            return sum(len(w.accepted) for w in writers)

        # Two faults while the writers run: a clean restart, then a crash (immediate stop,
        # recovery from the write-ahead log on start).
        faults = []
        for share, mode in ((0.25, "fast"), (0.6, "immediate")):
            served.wait_for(
                lambda share=share: accepted() >= total * share or not any_alive(writers),
                120,
                f"{share:.0%} of the writes",
            )
            database.stop(mode)
            time.sleep(3)
            database.start()
            faults.append({"mode": mode, "after_accepted": accepted()})
        for writer in writers:
            writer.join(timeout=max(1, deadline - time.monotonic()))

        failures = [f for w in writers for f in w.failures]
        assert failures == []
        answers: Counter[str] = Counter()
        for writer in writers:
            answers.update(writer.answers)
        assert "500" not in answers
        keys = {k: v for w in writers for k, v in w.accepted.items()}
        assert len(keys) == total

        # Every accepted write is in the ledger exactly once, with its amount.
        rows = database.sql(
            "SELECT reason, count(*), sum(amount) FROM loyalty_ledgerentry "
            "WHERE reason LIKE 'fault-%' GROUP BY reason"
        )
        in_ledger = {reason: (int(count), int(amount)) for reason, count, amount in rows}
        assert set(in_ledger) == set(keys)
        assert all(count == 1 for count, _amount in in_ledger.values())
        assert {k: amount for k, (_c, amount) in in_ledger.items()} == keys
        # The cached balances still equal their ledgers.
        drift = database.sql(
            "SELECT m.id FROM loyalty_member m LEFT JOIN loyalty_ledgerentry e "
            "ON e.member_id = m.id GROUP BY m.id "
            "HAVING m.points_available + m.points_pending <> coalesce(sum(e.amount), 0)"
        )
        assert drift == []
        # Recovered by itself: the same serving process answers and is ready.
        assert web.process.pid == arbiter_pid and web.process.alive()
        assert httpx.get(web.url + "/readyz", timeout=10).status_code == 200
        retried = sum(v for k, v in answers.items() if k != "201")
        served.save_figures(
            "faults-database" if health_checks == "1" else "faults-database-no-health-checks",
            {
                "faults_injected": len(faults),
                "faults": faults,
                "writes_accepted": len(keys),
                "lost": 0,
                "duplicated": 0,
                "answers": dict(answers),
                "retries": retried,
            },
        )
        print(json.dumps({"faults": faults, "answers": dict(answers)}))
    finally:
        if web is not None:
            web.stop()
        if database is not None:
            database.destroy()
        folder.remove()


def any_alive(threads: list[Writer]) -> bool:
    return any(t.is_alive() for t in threads)


class Gateway(ThreadingHTTPServer):
    """A fake SMS gateway on loopback: counts each message it is asked to send."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), GatewayHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/send"


class GatewayHandler(BaseHTTPRequestHandler):
    server: Gateway

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.received[body["text"]] += 1
            count = sum(self.server.received.values())
        answer = json.dumps({"id": f"gw-{count}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


SMS_SETUP = """
from patron.messaging.models import ChannelSettings
ChannelSettings.objects.update_or_create(merchant=merchant, defaults={{
    "sms_provider": "http_gateway", "sms_config": {{"url": "{url}"}}}})
"""


def test_redis_down_in_rq_mode_delays_work_and_loses_none(tmp_path):
    pytest.importorskip("django_tasks_rq")
    folder = served.Folder("patron-faults-redis-")
    gateway = Gateway()
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    redis = served.PrivateRedis(folder.path)
    web: served.Served | None = None
    worker: served.Process | None = None
    try:
        redis.start()
        database_url = f"sqlite:///{folder.path / 'patron.sqlite3'}"
        env = served.patron_env(database_url, TASKS_BACKEND="rq", REDIS_URL=redis.url)
        served.patron_command(env, "migrate", "--noinput")
        setup = served.set_up_merchant(
            env, members=1, extra=SMS_SETUP.format(url=gateway.url).replace("\n", "\n    ")
        )
        web = served.Served(env, folder.path)
        worker = served.Process(
            [served.sys.executable, "-m", "patron", "worker"], env, folder.path / "worker.log"
        )
        client = httpx.Client(
            base_url=web.url, timeout=15, headers={"Authorization": f"Bearer {setup['key']}"}
        )
        contact = setup["contacts"][0]
        texts = []

        def send(n: int) -> int:
            text = f"Redis fault message {n}"
            texts.append(text)
            answer = client.post(
                f"/api/v1/contacts/{contact}/messages",
                json={"channel": "sms", "body": text},
                headers={"Idempotency-Key": f"redis-{n}"},
            )
            return answer.status_code

        before = [send(n) for n in range(10)]
        served.wait_for(lambda: len(gateway.received) >= 10, 60, "the first messages")
        redis.kill()
        during = [send(n) for n in range(10, 20)]
        # Points too: their events are dispatched through the queue as well.
        points = client.post(
            f"/api/v1/members/{setup['members'][0]}/points",
            json={"amount": 10, "reason": "while redis is down"},
            headers={"Idempotency-Key": "redis-points"},
        )
        time.sleep(3)
        redis.start()
        # Work whose enqueue failed is swept once a minute old, by a sweep every minute.
        served.wait_for(lambda: len(gateway.received) >= 20, 200, "the delayed messages")
        time.sleep(3)  # anything sent twice would show up here
        assert before == [201] * 10
        assert during == [201] * 10
        assert points.status_code == 201
        assert worker.alive(), worker.log.read_text()[-2000:]
        assert set(gateway.received) == set(texts)
        assert all(count == 1 for count in gateway.received.values()), gateway.received
        served.save_figures(
            "faults-redis",
            {
                "faults_injected": 1,
                "messages_before": 10,
                "messages_while_down": 10,
                "delivered_once": len(gateway.received),
                "lost": 0,
                "duplicated": 0,
            },
        )
    except BaseException:
        served.print_logs(folder.path)
        raise
    finally:
        if worker is not None:
            worker.stop(signal.SIGTERM)
        if web is not None:
            web.stop()
        redis.kill()
        gateway.shutdown()
        gateway.server_close()
        folder.remove()
