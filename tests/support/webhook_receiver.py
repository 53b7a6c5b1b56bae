"""A real HTTP receiver for webhook tests, on 127.0.0.1 only, recording every request.

with Receiver() as receiver:                  # answers 204
    receiver.answers = [500, 500]             # the next two requests get 500, then 204 again
    receiver.hold = 30                        # hold the next request this many seconds first
    ...
    receiver.wait_for(2)                      # at least two requests arrived
    receiver.requests[0].json, receiver.requests[0].headers["webhook-id"]
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.answers: list[int] = []
        self.hold = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 204
                    hold, receiver.hold = receiver.hold, 0.0
                    receiver.requests.append(
                        Received({k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                if hold:
                    time.sleep(hold)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.requests if r.headers.get("x-collab-event") == event_type]

    def wait_for(self, count: int, timeout: float = 30, event_type: str | None = None) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.of_type(event_type) if event_type else list(self.requests)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(got)} of {count} webhook requests arrived: {self.requests}")
            time.sleep(0.05)
