"""Real servers on 127.0.0.1 that stand in for the SMS gateways and mail services.

Each records what it received and answers what the test told it to, so provider code
runs unchanged over a real socket.
"""

import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeHttp:
    url: str
    requests: list[Received] = field(default_factory=list)
    # (status, JSON body) answered to the next requests, the last one repeated.
    answers: list[tuple[int, Any]] = field(default_factory=lambda: [(200, {"id": "gw-1"})])

    def answer(self) -> tuple[int, Any]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@contextmanager
def fake_http_server() -> Iterator[FakeHttp]:
    fake = FakeHttp(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            fake.requests.append(
                Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            status, payload = fake.answer()
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class FakeSmtp:
    port: int
    mails: list[dict[str, Any]] = field(default_factory=list)
    # An SMTP reply to give to RCPT TO instead of 250, e.g. "550 no such user".
    refuse_rcpt: str = ""


@contextmanager
def fake_smtp_server() -> Iterator[FakeSmtp]:
    """A minimal SMTP server: EHLO, optional AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""
    fake = FakeSmtp(port=0)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:  # noqa: PLR0912 (one branch per SMTP verb reads best)
            mail: dict[str, Any] = {"rcpt": [], "auth": None}
            self.reply("220 fake ESMTP")
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb in {"EHLO", "HELO"}:
                    self.reply("250-fake")
                    self.reply("250 AUTH PLAIN")
                elif verb == "AUTH":
                    mail["auth"] = line
                    self.reply("235 ok")
                elif verb == "MAIL":
                    mail["from"] = line
                    self.reply("250 ok")
                elif verb == "RCPT":
                    if fake.refuse_rcpt:
                        self.reply(fake.refuse_rcpt)
                    else:
                        mail["rcpt"].append(line)
                        self.reply("250 ok")
                elif verb == "DATA":
                    self.reply("354 go on")
                    lines = []
                    while True:
                        data = self.rfile.readline().decode()
                        if data in {".\r\n", ".\n"}:
                            break
                        lines.append(data)
                    mail["data"] = "".join(lines)
                    fake.mails.append(mail)
                    mail = {"rcpt": [], "auth": mail["auth"]}
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:
                    self.reply("250 ok")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A loopback port with nothing listening (for connection-refused tests)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
