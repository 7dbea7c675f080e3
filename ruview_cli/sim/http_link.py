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
        head = b""
        body = 0          # body bytes of an OTA upload forwarded so far
        drop_at = None
        in_body = False
        start, sent = time.monotonic(), 0
        try:
            while True:
                data = client.recv(_CHUNK)
                if not data:
                    upstream.shutdown(socket.SHUT_WR)
                    return
                if not in_body:
                    head += data
                    end = head.find(b"\r\n\r\n")
                    if end >= 0:
                        in_body = True
                        if head.startswith(b"POST /ota "):
                            drop_at = self.node.take_drop_fault()
                        body = len(head) - end - 4
                        head = b""
                else:
                    body += len(data)
                if drop_at is not None and body >= drop_at:
                    upstream.sendall(data[:len(data) - (body - drop_at)])
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


def needs_link(faults: Any) -> bool:
    return faults.drop_after_bytes is not None or bool(faults.throttle_kbps)


__all__ = ["FaultyLink", "free_port", "needs_link"]
