"""Raw-socket WebSocket clients for fault tests: a handshake, then silence, a reset, or frame reading.

The server's frames are parsed by hand (they are never masked) so a test can
read what a stalled client finally gets, e.g. the close code::

    sock = upgrade(port, path, rcvbuf=4096)     # 101 read, nothing else
    reset(sock)                                 # RST, no close frame
    code = close_code(sock, timeout=10)         # reads frames until a close frame (or None at EOF)
    send_binary(sock, b"...")                   # a masked client frame
    for opcode, payload in frames(sock, 5, idle=1): ...
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator


def request_upgrade(port: int, path: str, *, rcvbuf: int | None = None) -> socket.socket:
    """Connect and send the upgrade request; the answer is not read."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock


def upgrade(port: int, path: str, *, rcvbuf: int | None = None) -> socket.socket:
    """A WebSocket handshake over a raw socket; returns once the 101 has been read, nothing more."""
    sock = request_upgrade(port, path, rcvbuf=rcvbuf)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed during the handshake: {head!r}")
        head += chunk
    assert b" 101 " in head, head
    return sock


def reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0): no close frame, no FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def send_binary(sock: socket.socket, data: bytes) -> None:
    """Send one binary frame, masked as a client must (the mask is zero: the payload goes as is)."""
    n = len(data)
    if n < 126:
        header = struct.pack(">BB", 0x82, 0x80 | n)
    elif n < 1 << 16:
        header = struct.pack(">BBH", 0x82, 0x80 | 126, n)
    else:
        header = struct.pack(">BBQ", 0x82, 0x80 | 127, n)
    sock.sendall(header + b"\0\0\0\0" + data)


def frames(sock: socket.socket, timeout: float, *, idle: float | None = None) -> Iterator[tuple[int, bytes]]:
    """The server's frames as ``(opcode, payload)``, until the socket ends, ``timeout`` seconds
    pass, or (with ``idle``) nothing arrives for that long. A close frame is the last one."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    at = 0  # where the next frame starts in ``data``

    def need(n: int) -> bool:
        nonlocal data, at
        while len(data) - at < n:
            if at > 1 << 20:  # forget what was parsed, now and then
                del data[:at]
                at = 0
            wait = deadline - time.monotonic()
            sock.settimeout(max(0.01, wait if idle is None else min(wait, idle)))
            try:
                chunk = sock.recv(1 << 20)
            except (ConnectionResetError, TimeoutError):
                return False
            if not chunk:
                return False
            data += chunk
        return True

    while need(2):
        opcode, length = data[at] & 0x0F, data[at + 1] & 0x7F
        header = 2
        if length == 126:
            if not need(4):
                return
            length, header = struct.unpack(">H", data[at + 2 : at + 4])[0], 4
        elif length == 127:
            if not need(10):
                return
            length, header = struct.unpack(">Q", data[at + 2 : at + 10])[0], 10
        if not need(header + length):
            return
        start = at + header
        at = start + length
        yield opcode, bytes(data[start:at])
        if opcode == 0x8:
            return


def close_code(sock: socket.socket, timeout: float) -> int | None:
    """Read server frames until a close frame: its code; None if the socket ends without one."""
    for opcode, payload in frames(sock, timeout):
        if opcode == 0x8:
            return int(struct.unpack(">H", payload[:2])[0]) if len(payload) >= 2 else 1005
    return None
