"""One boot of an emulated node's firmware: the host build of firmware/main as a child process
(contract B). The emulator is the chip: it owns the flash file, the radio/board link (fd 3 of
the child, newline-delimited JSON) and the UART (the child's stdout and stderr, merged).

The process is started with posix_spawn (no fork of a threaded Python, fast enough for a fleet
of 50); three small threads per boot forward the UART bytes, forward link messages, and reap
the exit status.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Callable

LINK_FD = 3
_MAX_LINE = 64 * 1024


class FirmwareProcess:
    """The firmware of one node for one boot. `on_output` gets raw UART bytes; `on_message`
    gets each JSON object the firmware sends on the link (lines that are not a JSON object are
    dropped: the firmware is not trusted to be well-formed)."""

    def __init__(self, binary, flash_path, slot: str, ip: str, mac: str, reset_reason: str,
                 http_port: int, on_output: Callable[[bytes], None],
                 on_message: Callable[[dict], None], chip_revision: int | None = None):
        self.argv = [str(binary), "--flash", str(flash_path), "--ip", ip, "--mac", mac,
                     "--slot", slot, "--reset-reason", reset_reason,
                     "--http-port", str(int(http_port))]
        if chip_revision is not None:
            self.argv += ["--chip-revision", str(int(chip_revision))]
        self._on_output = on_output
        self._on_message = on_message
        self._send_lock = threading.Lock()
        self._exited = threading.Event()
        self._status: int | None = None
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self.pid = 0

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self.pid:
            raise RuntimeError("FirmwareProcess.start() called twice")
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        out_r, out_w = os.pipe()
        null = os.open(os.devnull, os.O_RDONLY)
        try:
            # A chip has no environment; nothing of ours (keys in env vars) reaches the child.
            self.pid = os.posix_spawn(self.argv[0], self.argv, {"LC_ALL": "C"}, file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, out_w, 2),
                (os.POSIX_SPAWN_DUP2, child.fileno(), LINK_FD),
            ])
        finally:
            os.close(null)
            os.close(out_w)
            child.close()
        self._sock = parent
        out = os.fdopen(out_r, "rb", buffering=0)
        uart = threading.Thread(target=self._pump_uart, args=(out,), daemon=True,
                                name=f"fw-uart-{self.pid}")
        link = threading.Thread(target=self._pump_link, daemon=True, name=f"fw-link-{self.pid}")
        reap = threading.Thread(target=self._reap, args=(uart,), daemon=True,
                                name=f"fw-reap-{self.pid}")
        self._threads = [uart, link, reap]
        for t in self._threads:
            t.start()

    def send(self, msg: dict) -> None:
        """Send one link message (thread-safe). A message to a dead process is dropped, as a
        radio frame to a board that is off."""
        line = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        with self._send_lock:
            if self._sock is None or self._exited.is_set():
                return
            try:
                self._sock.sendall(line)
            except OSError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        """Exit status (negative: killed by that signal), or None if still running. Output
        written before the exit has been delivered to on_output when this returns a status."""
        self._exited.wait(timeout)
        return self._status

    @property
    def running(self) -> bool:
        return bool(self.pid) and not self._exited.is_set()

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.running:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    # ---- threads --------------------------------------------------------------------------

    def _pump_uart(self, out) -> None:
        with out:
            while True:
                try:
                    chunk = out.read(4096)
                except OSError:
                    return
                if not chunk:
                    return
                self._on_output(chunk)

    def _pump_link(self) -> None:
        buf = b""
        sock = self._sock
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._deliver(line)
            if len(buf) > _MAX_LINE:
                buf = b""   # a runaway line: drop it, as the firmware would be misbehaving

    def _deliver(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            return
        if isinstance(msg, dict) and isinstance(msg.get("t"), str):
            self._on_message(msg)

    def _reap(self, uart: threading.Thread) -> None:
        _, status = os.waitpid(self.pid, 0)
        uart.join(timeout=5)
        self._status = os.waitstatus_to_exitcode(status)
        self._exited.set()
        with self._send_lock:
            if self._sock is not None:
                self._sock.close()


def spawn(binary: Path, **kwargs) -> FirmwareProcess:
    """Create and start a FirmwareProcess."""
    p = FirmwareProcess(binary, **kwargs)
    p.start()
    return p


__all__ = ["FirmwareProcess", "spawn"]
