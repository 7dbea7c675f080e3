"""The wires to an emulated node's ROM loader: a TCP port (esptool `socket://`) and a pty.

One thread per endpoint multiplexes the listening socket, the connected client and the pty master
with a selector, so many nodes fit in one process. Both wires reach the same chip (one
RomLoader, one flash); each has its own ROM session:

* TCP: one client at a time (a second one is refused, like a busy serial port); each new client
  gets a fresh ROM session.
* pty: the slave side (`pty_path`) is put in raw mode and kept open by us, so esptool can open
  and close it repeatedly; its session lives on, a SYNC after a reset starts a fresh one.

Faults (read from the RomLoader on every transfer): `baud_limit` makes every byte, in both
directions, cost 10 bit times (slept in batches before replies go out); `drop_after_bytes` cuts
the link once the host has sent that many bytes on one connection: TCP closes the client socket,
the pty hangs up (master closed, the host sees the device vanish) and a new pty is opened in its
place (`pty_path` changes, like a USB adapter re-plugged).

UART0 output of the chip (the ROM's first lines, the bootloader's and the firmware's log) goes to
both wires through `console()`, from any thread; like a UART nobody listens to, output that the
other side does not read is lost (at most `_CONSOLE_BACKLOG` bytes wait per wire).
"""

from __future__ import annotations

import logging
import os
import select
import selectors
import socket
import termios
import threading
import time
import tty

from ruview_cli.sim.serial_rom import RomLoader, RomSession

log = logging.getLogger(__name__)

_BATCH_S = 0.002  # sleep wire time once at least this much is owed
_SLICE = 1024  # with a baud fault, replies leave in slices of this many bytes
_CONSOLE_BACKLOG = 64 * 1024  # UART0 output waiting for a slow reader, per wire


class _Wire:
    """One connected wire (TCP client or pty master): its session, counters and fault state."""

    def __init__(self, loader: RomLoader, kind: str):
        self.loader = loader
        self.kind = kind
        self.session: RomSession = loader.new_session()
        self.bytes_in = 0
        self.owed_s = 0.0

    def wire_time(self, nbytes: int) -> None:
        baud = self.loader.baud_limit
        if baud:
            self.owed_s += nbytes * 10.0 / baud

    def pay(self) -> None:
        if self.owed_s >= _BATCH_S:
            time.sleep(self.owed_s)
            self.owed_s = 0.0

    def take(self, data: bytes) -> tuple[bytes, bool]:
        """Bytes the ROM really receives, and whether the link dies after them."""
        limit = self.loader.drop_after_bytes
        if limit is not None and self.bytes_in + len(data) >= limit:
            keep = max(0, limit - self.bytes_in)
            self.bytes_in = limit
            if self.loader.drop_times is not None:
                self.loader.drop_times -= 1
                if self.loader.drop_times <= 0:
                    self.loader.drop_after_bytes = self.loader.drop_times = None
            return data[:keep], True
        self.bytes_in += len(data)
        return data, False


class SerialEndpoint:
    """Serves a RomLoader over socket:// (TCP on host:port) and, optionally, a pty."""

    def __init__(self, loader: RomLoader, host: str = "127.0.0.1", port: int = 0, pty: bool = True):
        self.loader = loader
        self.host = host
        self._want_port = port
        self._want_pty = pty
        self._sel: selectors.BaseSelector | None = None
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._client_wire: _Wire | None = None
        self._master: int | None = None
        self._slave: int | None = None
        self._pty_wire: _Wire | None = None
        self._pty_path: str | None = None
        self._wake_r = self._wake_w = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.port = 0
        self.refused = 0
        self.drops = 0
        self._console_lock = threading.Lock()
        self._console_out = bytearray()

    # -- public ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    @property
    def pty_path(self) -> str | None:
        return self._pty_path

    def console(self, data: bytes) -> None:
        """UART0 output of the chip: sent to whoever is connected (thread-safe, never blocks)."""
        with self._console_lock:
            self._console_out += data
            del self._console_out[:-_CONSOLE_BACKLOG]
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"c")
            except OSError:  # wake pipe full: the loop is awake anyway
                pass

    def _flush_console(self) -> None:
        with self._console_lock:
            data = bytes(self._console_out)
            self._console_out.clear()
        if not data:
            return
        if self._client is not None:
            try:
                self._client.send(data)
            except OSError:  # not read fast enough (or gone): lost, like UART output
                pass
        if self._master is not None:
            try:
                os.write(self._master, data)
            except OSError:
                # Nobody reads the pty: drop what the line discipline holds, as a UART would.
                if self._slave is not None:
                    termios.tcflush(self._slave, termios.TCIFLUSH)

    def start(self) -> "SerialEndpoint":
        self._sel = selectors.DefaultSelector()
        self._listener = socket.create_server((self.host, self._want_port), backlog=4)
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self._sel.register(self._listener, selectors.EVENT_READ, "accept")
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        if self._want_pty:
            self._open_pty()
        self._thread = threading.Thread(
            target=self._run, name=f"serial-{self.host}:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._wake_w is not None:
            try:
                self._wake_w.send(b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_client()
        self._close_pty()
        for s in (self._listener, self._wake_r, self._wake_w):
            if s is not None:
                s.close()
        if self._sel is not None:
            self._sel.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- pty ---------------------------------------------------------------------------------
    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._pty_path = os.ttyname(slave)
        self._pty_wire = _Wire(self.loader, "pty")
        self._sel.register(master, selectors.EVENT_READ, "pty")

    def _close_pty(self) -> None:
        if self._master is not None:
            try:
                self._sel.unregister(self._master)
            except (KeyError, ValueError):
                pass
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        self._pty_wire = None

    # -- TCP ---------------------------------------------------------------------------------
    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        if self._client is not None:
            self.refused += 1  # like a serial port already open elsewhere
            conn.close()
            return
        conn.setblocking(False)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = conn
        self._client_wire = _Wire(self.loader, "tcp")
        self._sel.register(conn, selectors.EVENT_READ, "client")

    def _close_client(self) -> None:
        wire = self._client_wire
        if wire is not None and wire.session.wdt_armed:
            wire.session.wdt_armed = False
            self._fire(wire.session)
        if self._client is not None:
            try:
                self._sel.unregister(self._client)
            except (KeyError, ValueError):
                pass
            self._client.close()
            self._client = None
            self._client_wire = None

    # -- loop --------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                events = self._sel.select(timeout=1.0)
            except OSError:
                break
            for key, _ in events:
                try:
                    if key.data == "accept":
                        self._accept()
                    elif key.data == "wake":
                        self._wake_r.recv(4096)
                        self._flush_console()
                    elif key.data == "client":
                        self._serve_client()
                    elif key.data == "pty":
                        self._serve_pty()
                except Exception:  # one bad exchange must not kill the node's serial port
                    log.exception("serial endpoint %s: unexpected error", self.url)

    def _serve_client(self) -> None:
        try:
            data = self._client.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close_client()
            return
        wire = self._client_wire
        alive = self._exchange(wire, data, lambda out: self._send_sock(self._client, out))
        if not alive:
            self.drops += 1
            self._close_client()

    def _serve_pty(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO: nobody has the slave open (cannot happen while we hold it)
        if not data:
            return
        wire = self._pty_wire
        alive = self._exchange(wire, data, lambda out: self._send_fd(self._master, out))
        if not alive:
            self._close_pty()
            self._open_pty()
            self.drops += 1  # counted once the new pty is offered, so a watcher sees both at once

    def _exchange(self, wire: _Wire, data: bytes, send) -> bool:
        data, drop = wire.take(data)
        wire.wire_time(len(data))
        out = wire.session.feed(data) if data else b""
        if drop:
            return False
        if out and not self.loader.baud_limit:
            if not send(out):
                return True
        elif out:
            # trickle big bursts (stub read-flash windows) so no single wait outlasts a timeout
            for pos in range(0, len(out), _SLICE):
                piece = out[pos:pos + _SLICE]
                wire.wire_time(len(piece))
                wire.pay()
                if not send(piece):
                    return True
        if wire.session.reset_requested:
            self._fire(wire.session)
        return True

    def _fire(self, session: RomSession) -> None:
        session.reset_requested = False
        try:
            self.loader.fire_reset()
        except Exception:
            log.exception("serial endpoint %s: on_reset failed", self.url)

    @staticmethod
    def _send_sock(sock: socket.socket | None, data: bytes) -> bool:
        view = memoryview(data)
        deadline = time.monotonic() + 10
        while view and sock is not None:
            try:
                n = sock.send(view)
                view = view[n:]
            except (BlockingIOError, InterruptedError):
                if time.monotonic() > deadline:
                    return False
                select.select([], [sock], [], 0.5)
            except OSError:
                return False
        return True

    @staticmethod
    def _send_fd(fd: int | None, data: bytes) -> bool:
        view = memoryview(data)
        deadline = time.monotonic() + 10
        while view and fd is not None:
            try:
                n = os.write(fd, view)
                view = view[n:]
            except (BlockingIOError, InterruptedError):
                if time.monotonic() > deadline:
                    return False  # nobody is reading the pty
                select.select([], [fd], [], 0.5)
            except OSError:
                return False
        return True
