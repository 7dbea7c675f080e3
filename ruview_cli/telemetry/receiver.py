"""The UDP side of `ruview tail`: one socket, a tight receive loop, and the ways it stops.

Nodes send small datagrams at up to 50 Hz each; a fleet of thousands means tens of thousands of
datagrams a second in one Python process. So the loop does the least it can per datagram
(non-blocking recvfrom, one clock read, one call into the consumer) and tells the consumer when
the socket has run dry, which is when buffered output should be flushed: under load lines go out
in batches, otherwise within IDLE_COALESCE_S (2 ms) of arriving.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import sys
import time
from typing import Callable, Optional

from ruview_cli.errors import RuviewError

log = logging.getLogger(__name__)

DEFAULT_PORT = 5005
# Ask for a large kernel buffer so bursts survive a slow terminal: as root SO_RCVBUFFORCE gets
# it outright, otherwise SO_RCVBUF is capped by net.core.rmem_max.
WANTED_RCVBUF = 32 * 1024 * 1024
_MAX_DATAGRAM = 65535
IDLE_COALESCE_S = 0.002

# consumer(data, (ip, port), t) -> true to stop; idle() -> None; tick(now) -> None
Consumer = Callable[[bytes, tuple, float], Optional[bool]]


class StopFlag:
    """Set from a signal handler or another thread; the loop looks at it between datagrams."""

    __slots__ = ("stopped", "reason")

    def __init__(self) -> None:
        self.stopped = False
        self.reason = ""

    def set(self, reason: str = "stopped") -> None:
        self.reason = reason
        self.stopped = True


def open_socket(bind: str = "0.0.0.0", port: int = DEFAULT_PORT, rcvbuf: int = WANTED_RCVBUF) -> socket.socket:
    """A bound, non-blocking UDP socket, or a RuviewError that says what to do."""
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    except OSError as exc:  # pragma: no cover - only without IPv4 support
        raise RuviewError(f"cannot open a UDP socket: {exc.strerror}", "check the network stack") from None
    _grow_rcvbuf(sock, rcvbuf)
    try:
        sock.bind((bind, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise RuviewError(
                f"port {port} is in use by another process: stop it or use --listen PORT",
                f"find it with `ss -ulpn 'sport = :{port}'`",
            ) from None
        if exc.errno == errno.EACCES:
            raise RuviewError(
                f"permission denied binding UDP port {port}",
                "use a port above 1023 (--listen PORT) or run with the needed privilege",
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EINVAL) or isinstance(exc, socket.gaierror):
            raise RuviewError(
                f"cannot listen on {bind}: no interface of this machine has that address",
                "use --bind 0.0.0.0 (all interfaces) or one of this machine's addresses",
            ) from None
        raise RuviewError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}", "check --bind and --listen") from None
    sock.setblocking(False)
    log.debug("listening on udp %s:%d, receive buffer %d bytes", bind, port, rcvbuf_size(sock))
    return sock


# Python's socket module does not export SO_RCVBUFFORCE; this is its Linux value.
_SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux") else None)


def _grow_rcvbuf(sock: socket.socket, wanted: int) -> None:
    force = _SO_RCVBUFFORCE
    if force is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, force, wanted)
            return
        except OSError:
            pass  # not privileged: fall back to the capped option
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, wanted)
    except OSError:
        pass


def rcvbuf_size(sock: socket.socket) -> int:
    """The kernel's receive buffer in bytes (Linux reports twice the requested size)."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def receive(
    sock: socket.socket,
    consumer: Consumer,
    *,
    idle: Optional[Callable[[], None]] = None,
    tick: Optional[Callable[[float], None]] = None,
    tick_every: float = 0.25,
    duration: Optional[float] = None,
    stop: Optional[StopFlag] = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """Feed every datagram to `consumer` until a stop condition; return why it stopped.

    A truthy return from `consumer` ends the loop ("count": the consumer knows what counts).
    `idle()` runs when the socket has no datagram waiting after some were consumed (at most
    once per IDLE_COALESCE_S, and always within it); `tick(now)` at least every
    `tick_every` seconds, busy or not (table refresh, window expiry). Stops: "duration",
    "count", or `stop.reason`.
    """
    stop = stop or StopFlag()
    selector = selectors.DefaultSelector()  # only used while idle: portability over speed
    selector.register(sock, selectors.EVENT_READ)
    try:
        return _loop(sock, selector, consumer, idle, tick, tick_every, duration, stop, clock)
    finally:
        selector.close()


def _loop(sock, selector, consumer, idle, tick, tick_every, duration, stop, clock) -> str:
    # recvfrom(65535) allocates and then shrinks a 64 KiB bytes object per datagram; receiving
    # into one reused buffer and copying out the few hundred bytes used is ~35% cheaper.
    buf = bytearray(_MAX_DATAGRAM)
    view = memoryview(buf)
    recv_into = sock.recvfrom_into
    start = clock()
    deadline = start + duration if duration is not None else float("inf")
    next_tick = start + tick_every
    dirty = False  # datagrams consumed since the last idle()
    last_idle = start
    while not stop.stopped:
        try:
            n, addr = recv_into(buf)
        except BlockingIOError:
            now = clock()
            if now >= deadline:
                if idle is not None:
                    idle()
                return "duration"
            if tick is not None and now >= next_tick:
                tick(now)
                next_tick = now + tick_every
            wait = min(deadline, next_tick if tick is not None else now + tick_every) - now
            if dirty and idle is not None:
                # Coalesce: at most one idle() (= one write + flush) per IDLE_COALESCE_S, so a
                # moderate rate does not cost a write syscall per datagram; output lags <= 2 ms.
                if now - last_idle >= IDLE_COALESCE_S:
                    idle()
                    dirty = False
                    last_idle = now
                else:
                    wait = min(wait, IDLE_COALESCE_S - (now - last_idle))
            selector.select(max(0.0, wait))
            continue
        except InterruptedError:  # pragma: no cover - PEP 475 retries for us
            continue
        except OSError as exc:
            if exc.errno in (errno.ECONNREFUSED, errno.EMSGSIZE):
                continue  # ICMP noise on an unconnected socket; never fatal
            raise
        t = clock()
        dirty = True
        if consumer(view[:n].tobytes(), addr, t):
            if idle is not None:
                idle()
            return "count"
        if t >= next_tick:
            if t >= deadline:
                if idle is not None:
                    idle()
                return "duration"
            if tick is not None:
                tick(t)
            next_tick = t + tick_every
    if idle is not None:
        idle()
    return stop.reason
