"""A Redis server of the test's own, on a free port, that the test may stop and start again.

Tests that take Redis away must never touch the shared one. This one keeps
nothing on disk (``--save "" --appendonly no``), so a restart comes back empty,
as a crashed or replaced production Redis does::

    redis = RedisServer(tmp_path).start()
    url = redis.url          # redis://127.0.0.1:<port>/0
    redis.stop()             # gone: clients see connection refused
    redis.start()            # back, empty, on the same port
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from tests.support.live import free_port
from tests.support.services import program_or_skip


class RedisServer:
    def __init__(self, tmp_path: Path, port: int | None = None) -> None:
        self.binary = program_or_skip(
            "redis-server", "redis-server is not installed (apt-get install redis-server)"
        )
        self.port = port or free_port()
        self.dir = Path(tmp_path)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> RedisServer:
        log = open(self.dir / f"redis-{self.port}.log", "ab")  # noqa: SIM115 - the child's lifetime
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]  # nothing kept on disk
        self.proc = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout}s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None
