"""Passive discovery: any node whose UDP telemetry arrives is listed with source address and
node_id (the only way to see a RuView 0.6.x node that is not probed)."""

from __future__ import annotations

import errno
import socket
import threading
import time

from ruview_cli.discovery.model import Sighting
from ruview_cli.errors import RuviewError

MAX_SEEN = 4096  # (address, node_id) pairs kept: anyone can send datagrams with any id


class TelemetryListener:
    """A thread receiving on UDP `port`; keeps the latest (address, node_id) sightings."""

    def __init__(self, port: int, bind: str = "0.0.0.0"):
        if not 1 <= port <= 65535:
            from ruview_cli.errors import UsageError

            raise UsageError(f"--listen {port}: not a UDP port", "give 1..65535, e.g. 5005")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((bind, port))
        except OSError as exc:
            self.sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise RuviewError(f"UDP port {port} is already in use on this machine",
                                  "stop the other receiver (e.g. `ruview tail`) or run "
                                  "discover without --listen") from None
            raise RuviewError(f"cannot listen on UDP {bind}:{port}: {exc.strerror or exc}",
                              "pick another port with --listen") from None
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.malformed = 0
        self.packets = 0
        self.dropped = 0  # pairs not kept once MAX_SEEN were (a flood of spoofed ids)
        self._latest: dict[tuple[str, int], float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ruview-listen", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from ruview_cli.protocol import decode

        while not self._stop.is_set():
            try:
                data, (ip, _port) = self.sock.recvfrom(65535)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            pkt = decode(data)
            node_id = getattr(pkt, "node_id", None)
            with self._lock:
                self.packets += 1
                if not isinstance(node_id, int):
                    self.malformed += 1
                    continue
                key = (ip, node_id)
                if key not in self._latest and len(self._latest) >= MAX_SEEN:
                    self.dropped += 1
                    continue
                self._latest[key] = time.time()

    def sightings(self) -> list[Sighting]:
        with self._lock:
            items = list(self._latest.items())
        return [Sighting(source="telemetry", ip=ip, node_id=nid, t=t) for (ip, nid), t in items]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


__all__ = ["TelemetryListener"]
