"""A node's serial console: open without resetting it, read its log lines, survive re-plugging.

ESP-IDF's log format is `L (TIME) TAG: TEXT`, L one of E W I D V, TIME milliseconds since boot
(or wall-clock with CONFIG_LOG_TIMESTAMP_SOURCE_SYSTEM), optionally wrapped in ANSI colour codes.
Lines in other formats (the ROM's boot lines, panic dumps) are kept as they are, level None.

Opening a USB-UART port raises DTR and RTS by default, and on ESP32 boards those lines drive EN
and GPIO0 (the auto-reset circuit): a monitor that opens the port naively resets the board.
Like `idf.py monitor`, we set both low before opening; `reset_board()` pulses EN on purpose.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from ruview_cli.errors import RuviewError

_ANSI = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")
_IDF_LINE = re.compile(r"^([EWIDV]) \(([^)]{1,24})\) ([^:]{0,64}): ?(.*)$")
LEVELS = {"E": "error", "W": "warning", "I": "info", "D": "debug", "V": "verbose"}
RECONNECT_S = 0.5
MAX_LINE = 4096  # a node that never sends a newline must not grow a line without bound


@dataclass(frozen=True)
class LogLine:
    text: str                    # the message (the whole line when not in IDF format)
    level: Optional[str] = None  # error | warning | info | debug | verbose | None
    tag: Optional[str] = None
    time: Optional[str] = None   # as the node printed it (ms since boot, or hh:mm:ss.mmm)
    host_ts: float = 0.0         # when this machine received it

    def to_json(self) -> dict:
        return {"ts": round(self.host_ts, 3), "level": self.level, "tag": self.tag,
                "time": self.time, "text": self.text}


def parse_line(raw: bytes, host_ts: float = 0.0) -> LogLine:
    """One line of console output (without its newline) -> LogLine. Never raises."""
    text = _ANSI.sub(b"", raw).decode("utf-8", errors="replace").rstrip("\r")
    m = _IDF_LINE.match(text)
    if m is None:
        return LogLine(text=text, host_ts=host_ts)
    return LogLine(text=m.group(4), level=LEVELS[m.group(1)], tag=m.group(3), time=m.group(2),
                   host_ts=host_ts)


def open_console(port: str, baud: int = 115200, timeout: float = 0.2):
    """The port opened for reading, without touching EN/GPIO0 (no reset)."""
    import serial

    try:
        ser = serial.serial_for_url(port, do_not_open=True, baudrate=baud, timeout=timeout)
        if not port.startswith(("socket://", "rfc2217://", "loop://")):
            ser.dtr = False  # before open(): the driver applies them when it opens the port
            ser.rts = False
        ser.open()
        return ser
    except serial.SerialException as exc:
        raise RuviewError(f"cannot open {port}: {exc}",
                          "check --port (`ruview doctor` lists serial ports and permissions)") from None


def reset_board(ser) -> None:
    """Pulse EN through RTS (the board's auto-reset circuit), keeping GPIO0 high: boot the app."""
    ser.dtr = False
    ser.rts = True
    time.sleep(0.1)
    ser.rts = False


def reset_through_loader(ser) -> None:
    """Reset a chip that has no reset line (the emulated node's socket:// or pty) over the same
    open port: esptool syncs with its ROM loader and issues its hard reset; the console output of
    the new boot then arrives on this port, as on a board whose EN the monitor pulses."""
    from esptool.cmds import detect_chip, reset_chip
    from esptool.util import FatalError

    from ruview_cli.device import esplog

    try:
        with esplog.routed(None):  # esptool's own chatter is not the node's log
            esp = detect_chip(ser, 115200, "no-reset", connect_attempts=2)
            reset_chip(esp, "hard-reset")
    except (FatalError, OSError) as exc:
        raise RuviewError(f"cannot reset the node on {ser.port}: {exc}",
                          "run without --reset, or power-cycle the node") from None


def read_lines(port: str, baud: int = 115200, *, reconnect: bool = True,
               on_state: Optional[Callable[[str], None]] = None,
               stop: Optional[Callable[[], bool]] = None,
               opened: Optional[Callable[[object], None]] = None,
               clock: Callable[[], float] = time.time) -> Iterator[LogLine]:
    """Log lines from the port until `stop()`; when the port goes away (the board re-enumerates,
    the emulated node's link closes), wait for it and go on."""
    import serial

    stop = stop or (lambda: False)
    on_state = on_state or (lambda s: None)
    ser = open_console(port, baud)
    if opened is not None:
        opened(ser)
    pending = b""
    while not stop():
        try:
            chunk = ser.read(ser.in_waiting or 1)
        except (serial.SerialException, OSError):
            chunk = None
        if chunk is None or (chunk == b"" and _closed(ser)):
            ser.close()
            if pending:
                yield parse_line(pending, clock())
                pending = b""
            if not reconnect:
                return
            on_state("lost")
            ser = _wait_for(port, baud, stop)
            if ser is None:
                return
            on_state("back")
            continue
        pending += chunk
        while b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            yield parse_line(line, clock())
        if len(pending) > MAX_LINE:
            yield parse_line(pending, clock())
            pending = b""
    ser.close()


def _closed(ser) -> bool:
    """A socket:// port reads b'' forever once the far end has closed; detect that."""
    sock = getattr(ser, "_socket", None)
    if sock is None:
        return False
    import select

    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            return sock.recv(1, 2) == b""  # MSG_PEEK: data waiting is not a close
    except (OSError, ValueError):
        return True
    return False


def _wait_for(port: str, baud: int, stop: Callable[[], bool]):
    while not stop():
        try:
            return open_console(port, baud)
        except RuviewError:
            time.sleep(RECONNECT_S)
    return None


class BacktraceDecoder:
    """Turns the addresses in a panic's `Backtrace:` line into function, file and line, with
    Espressif's esp-idf-panic-decoder and the toolchain's addr2line, as `idf.py monitor` does."""

    def __init__(self, elf: str, toolchain_prefix: str = "xtensa-esp32s3-elf-"):
        import os
        import shutil

        if not os.path.isfile(elf):
            raise RuviewError(f"no such ELF file: {elf}", "pass the build's ELF, e.g. --elf build/ruview_node.elf")
        if shutil.which(f"{toolchain_prefix}addr2line") is None:
            raise RuviewError(f"{toolchain_prefix}addr2line is not on PATH: backtraces cannot be decoded",
                              "load the ESP-IDF environment (. $IDF_PATH/export.sh) or pass --toolchain-prefix")
        from esp_idf_panic_decoder.pc_address_decoder import PcAddressDecoder

        self._decoder = PcAddressDecoder(toolchain_prefix, elf)

    def decode(self, line: LogLine) -> list[str]:
        """Source locations for the code addresses in this line (empty when there are none)."""
        if "0x" not in line.text:
            return []
        out = []
        for addr, locations in self._decoder.translate_addresses(line.text):
            for loc in locations:
                out.append(f"{addr}: {loc.func} at {loc.path}:{loc.line}")
        return out
