"""A local webhook whose behaviour a test scripts: accept, answer an error status, hang, or be down."""

from __future__ import annotations

import json
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class Hook:
    """Answers each POST with the next scripted behaviour (the last one repeats): an HTTP status or "hang"."""

    def __init__(self, *script: int | str, hang_seconds: float = 5.0):
        self.script = list(script) or [200]
        self.hang_seconds = hang_seconds
        self.posts: list[dict] = []        # every POST received, accepted or not
        self.accepted: list[dict] = []     # bodies answered 2xx
        self.lock = threading.Lock()

    def behave(self, *script: int | str) -> None:
        with self.lock:
            self.script = list(script)

    def next(self) -> int | str:
        with self.lock:
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    @property
    def accepted_ids(self) -> list[str]:
        return [alert["alert_id"] for body in self.accepted for alert in body["alerts"]]


def _handler(hook: Hook) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            behaviour = hook.next()
            with hook.lock:
                hook.posts.append({"body": body, "key": self.headers.get("Idempotency-Key"), "answer": behaviour})
            if behaviour == "hang":
                time.sleep(hook.hang_seconds)
                return
            self.send_response(int(behaviour))
            if int(behaviour) == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            if 200 <= int(behaviour) < 300:
                with hook.lock:
                    hook.accepted.append(body)
            else:
                self.wfile.write(b"try later")

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serving(hook: Hook) -> Iterator[str]:
    """Serve `hook` on a free local port; yields its URL (with a secret-looking path)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hook))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/T0KEN-secret"
    finally:
        server.shutdown()
        server.server_close()


def closed_port_url() -> str:
    """A local URL nothing listens on: the connection is refused at once (the hook is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/T0KEN-secret"
