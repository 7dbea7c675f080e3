"""The network between HTTP clients and a node's firmware, when a fault makes it misbehave.

Only used under the `drop-after` and `throttle` faults for nodes that run the host-built
firmware: a TCP forwarder listens on the node's public address:port and relays to the
firmware's own server on a private port of the same address. The firmware then sees exactly
what a bad WiFi link gives it (a body that stops mid-way and a reset; bytes trickling in).

* drop-after=N: on the first OTA upload (`POST /ota`) of the node, the link forwards N body
  bytes, then resets both connections (RST), like a link that dies mid-upload. Later uploads
  pass, so a retry can succeed.
* throttle=KBPS: client-to-node bytes are forwarded at most KBPS KB/s (1 KB = 1024 B).
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from typing import Any

_CHUNK = 1024


def free_port(ip: str) -> int:
    """A TCP port nobody listens on at `ip` now (the firmware binds it right after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def _reset(sock: socket.socket) -> None:
    """Abort the connection (RST). shutdown() first: another thread may be blocked reading this
    socket, and a close alone would not take effect until that read returns."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class FaultyLink:
    """Forwards (ip, port) -> (ip, upstream_port) under the node's faults (read live)."""

    def __init__(self, node: Any, port: int, upstream_port: int):
        self.node = node
        self.upstream = (node.ip, upstream_port)
        self._listener = socket.create_server((node.ip, port), backlog=16)
        self.port = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"link-{node.ip}")
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for s in (self._listener, self._wake_r, self._wake_w):
            s.close()

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._listener, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        client, _ = self._listener.accept()
                    except OSError:
                        continue
                    threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.upstream, timeout=5)
        except OSError:  # the firmware is not up (rebooting): the connection dies
            _reset(client)
            return
        upstream.settimeout(None)
        threading.Thread(target=self._pump_back, args=(upstream, client), daemon=True).start()
        self._pump_forward(client, upstream)

    @staticmethod
    def _pump_back(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                client.sendall(data)
            client.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _pump_forward(self, client: socket.socket, upstream: socket.socket) -> None:
        requests = _RequestBoundaries()
        drop_at = None    # body bytes of this OTA upload that get through
        start, sent = time.monotonic(), 0
        try:
            while True:
                data = client.recv(_CHUNK)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    return
                for head, body_seen in requests.feed(data):
                    if head is not None:
                        drop_at = (self.node.take_drop_fault()
                                   if head.startswith(b"POST /ota ") else None)
                    if drop_at is not None and body_seen >= drop_at:
                        cut = len(data) - (body_seen - drop_at)
                        upstream.sendall(data[:max(0, cut)])
                        _reset(client)
                        _reset(upstream)
                        return
                upstream.sendall(data)
                sent += len(data)
                rate = self.node.faults.throttle_kbps
                if rate:
                    ahead = sent / (rate * 1024.0) - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)  # the slow link itself, not synchronisation
        except OSError:
            _reset(client)
            _reset(upstream)


class _RequestBoundaries:
    """Where each HTTP/1.1 request (head, then Content-Length bytes of body) starts on a
    keep-alive connection. feed(data) yields (head or None, body bytes seen so far) for the
    request(s) that `data` touches; head is given once, when the request's head completes."""

    def __init__(self) -> None:
        self.head = b""
        self.body_left = 0
        self.body_seen = 0

    def feed(self, data: bytes):
        pos = 0
        while pos < len(data):
            if self.body_left > 0:
                take = min(self.body_left, len(data) - pos)
                self.body_left -= take
                self.body_seen += take
                pos += take
                yield None, self.body_seen
                continue
            self.head += data[pos:]
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = self.head[:end + 4], self.head[end + 4:]
            consumed = len(data) - pos - len(rest)
            pos += consumed
            self.head = b""
            self.body_left = _content_length(head)
            self.body_seen = 0
            yield head, 0


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return max(0, int(value.strip()))
            except ValueError:
                return 0
    return 0


def needs_link(faults: Any) -> bool:
    return faults.drop_after_bytes is not None or bool(faults.throttle_kbps)


__all__ = ["FaultyLink", "free_port", "needs_link"]
